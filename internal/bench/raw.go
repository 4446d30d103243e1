package bench

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// generate streams generated messages into a mailbox through the batch
// write path and returns their total size.
func generate(ctx context.Context, st *mailstore.Store, mailboxID int64, o mailgen.Options) (int64, error) {
	_, total, err := generateUpTo(ctx, st, mailboxID, o, 0)
	return total, err
}

// generateUpTo is generate that, with limit > 0, stops before the first
// message that would take the mailbox past limit bytes (a mailbox gets at
// least one message). It returns the messages and bytes stored.
func generateUpTo(ctx context.Context, st *mailstore.Store, mailboxID int64, o mailgen.Options, limit int64) (int, int64, error) {
	g := mailgen.New(o)
	folders := map[string]int64{}
	var total int64
	n := 0
	b := st.NewAppendBatch(mailboxID)
	defer func() { b.Close() }()
	for m, ok := g.Next(); ok; m, ok = g.Next() {
		if limit > 0 && n > 0 && total+int64(len(m.Data)) > limit {
			break
		}
		fid, ok := folders[m.Folder]
		if !ok {
			f, err := st.FolderByPath(ctx, mailboxID, m.Folder)
			if err != nil {
				if f, err = st.CreateFolder(ctx, mailboxID, m.Folder, mailstore.FolderOptions{}); err != nil {
					return 0, 0, err
				}
			}
			fid = f.ID
			folders[m.Folder] = fid
		}
		if err := b.Add(ctx, mailstore.AppendItem{FolderID: fid, Content: bytes.NewReader(m.Data), Flags: m.Flags, InternalDate: m.Date}); err != nil {
			return 0, 0, err
		}
		total += int64(len(m.Data))
		n++
		if b.Len() >= 1000 || b.Bytes() >= 64<<20 {
			if _, err := b.Commit(ctx, nil); err != nil {
				return 0, 0, err
			}
			b.Close()
			b = st.NewAppendBatch(mailboxID)
		}
	}
	if b.Len() > 0 {
		if _, err := b.Commit(ctx, nil); err != nil {
			return 0, 0, err
		}
	}
	return n, total, nil
}

// rawLoopback measures the reference: every message of the mailbox read
// from the store and sent as a tar stream over loopback TCP to a receiver
// that writes it to a file and fsyncs it.
func rawLoopback(ctx context.Context, st *mailstore.Store, mailboxID int64, path string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	recvErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			recvErr <- err
			return
		}
		defer c.Close()
		f, err := os.Create(path)
		if err != nil {
			recvErr <- err
			return
		}
		defer os.Remove(path)
		defer f.Close()
		tr := tar.NewReader(bufio.NewReaderSize(c, 1<<20))
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				recvErr <- err
				return
			}
			if _, err := io.Copy(f, tr); err != nil {
				recvErr <- err
				return
			}
		}
		recvErr <- f.Sync()
	}()
	start := time.Now()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(c, 1<<20)
	tw := tar.NewWriter(bw)
	var after mailstore.Cursor
	for {
		cs, next, err := st.ItemChanges(ctx, mailboxID, after, 0, 5000)
		if err != nil {
			return 0, err
		}
		for _, ch := range cs {
			blob, err := st.OpenItem(ctx, mailboxID, ch.ItemID)
			if err != nil {
				return 0, err
			}
			err = tw.WriteHeader(&tar.Header{Name: strconv.FormatInt(ch.ItemID, 10), Mode: 0o600, Size: blob.Size(), ModTime: ch.InternalDate})
			if err == nil {
				_, err = io.Copy(tw, io.NewSectionReader(blob, 0, blob.Size()))
			}
			blob.Close()
			if err != nil {
				return 0, err
			}
		}
		if len(cs) < 5000 {
			break
		}
		after = next
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	c.Close()
	if err := <-recvErr; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// resetPeakRSS resets the kernel's peak-RSS counter of this process (Linux
// /proc/self/clear_refs), so peakRSSMB measures only what follows.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSMB returns the process's peak resident memory (VmHWM) in MB.
func peakRSSMB() float64 { return vmHWM("/proc/self/status") }

// vmHWM reads the peak resident memory (VmHWM) in MB from a
// /proc/PID/status file (0 when it cannot).
func vmHWM(status string) float64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
