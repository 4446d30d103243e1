package blobstore

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// packWriter owns the pack files this process writes: one shared active pack
// that all batches append small items to, and private packs that a batch
// streams its large items into (so a slow reader never holds the shared
// pack's lock).
type packWriter struct {
	dir    string
	limit  int64
	age    time.Duration // a shared pack older than this takes no more records
	prefix string

	mu     sync.Mutex // guards seq, active and every write to active
	seq    int
	active *pack
	all    []*pack // every pack created, closed by close()
}

// pack is one append-only pack file opened for writing.
type pack struct {
	name    string
	dir     string
	created time.Time

	mu     sync.Mutex // guards f, size, failed, rolled
	f      *os.File
	size   int64 // bytes written (the next record's offset)
	failed bool  // a write failed: never append again
	rolled bool  // no longer accepts writes

	syncMu    sync.Mutex // serialises fsyncs; guards synced, dirSynced
	synced    int64      // bytes known durable
	dirSynced bool       // the directory entry is durable
}

func newPackWriter(dir string, limit int64, age time.Duration) (*packWriter, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, errs.Internalf(err, "generate pack prefix")
	}
	prefix := fmt.Sprintf("%08x-%s", uint32(time.Now().Unix()), hex.EncodeToString(b[:]))
	return &packWriter{dir: dir, limit: limit, age: age, prefix: prefix}, nil
}

// create makes a new, empty pack file. Callers hold w.mu.
func (w *packWriter) create() (*pack, error) {
	w.seq++
	name := fmt.Sprintf("%s-%06d.pack", w.prefix, w.seq)
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, errs.Internalf(err, "create pack file %s", name)
	}
	p := &pack{name: name, dir: w.dir, f: f, created: time.Now()}
	w.all = append(w.all, p)
	return p, nil
}

// newPrivate creates a pack file for one batch's large items.
func (w *packWriter) newPrivate() (*pack, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.create()
}

// appendShared writes one complete record (header and bytes) to the shared
// active pack, rolling it when it is full or broken, and returns the pack
// and the record's offset.
func (w *packWriter) appendShared(rec []byte) (*pack, int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.active
	if p != nil {
		p.mu.Lock()
		full := p.failed || p.size >= w.limit || time.Since(p.created) > w.age
		if full {
			p.rolled = true
		}
		p.mu.Unlock()
		if full {
			p = nil
		}
	}
	if p == nil {
		np, err := w.create()
		if err != nil {
			return nil, 0, err
		}
		w.active, p = np, np
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	off := p.size
	if _, err := p.f.WriteAt(rec, off); err != nil {
		p.failed = true
		p.f.Truncate(off) // give back a partial record's space (a full disk)
		if off == 0 {
			// Nothing was ever stored in this pack: remove it, so that
			// refusals on a full disk leave no empty packs behind.
			w.discardLocked(p)
		}
		return nil, 0, errs.Internalf(err, "write pack file %s", p.name)
	}
	p.size += int64(len(rec))
	return p, off, nil
}

// sync makes the pack's bytes up to end durable, and its directory entry.
// It fsyncs only when bytes up to end are not yet known durable, so
// concurrent batches share one fsync (group commit).
func (p *pack) sync(end int64) error {
	p.syncMu.Lock()
	defer p.syncMu.Unlock()
	if p.synced >= end && p.dirSynced {
		return nil
	}
	p.mu.Lock()
	f, target := p.f, p.size
	p.mu.Unlock()
	if p.synced < end {
		if f == nil {
			return errs.Internalf(os.ErrClosed, "sync pack file %s", p.name)
		}
		if err := f.Sync(); err != nil {
			p.mu.Lock()
			p.failed = true
			p.mu.Unlock()
			return errs.Internalf(err, "fsync pack file %s", p.name)
		}
		p.synced = target
	}
	if !p.dirSynced {
		if err := syncDir(p.dir); err != nil {
			return err
		}
		p.dirSynced = true
	}
	p.mu.Lock()
	done := p.rolled && p.synced >= p.size && p.f != nil
	p.mu.Unlock()
	if done {
		// A rolled shared pack takes no more writes and is durable: release
		// its write handle now rather than at Close.
		p.closeFile()
	}
	return nil
}

// closeFile closes the write handle (readers use their own handles).
func (p *pack) closeFile() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rolled = true
	if p.f == nil {
		return nil
	}
	err := p.f.Close()
	p.f = nil
	return err
}

func (w *packWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var first error
	for _, p := range w.all {
		p.syncMu.Lock()
		if err := p.closeFile(); err != nil && first == nil {
			first = err
		}
		p.syncMu.Unlock()
	}
	w.all, w.active = nil, nil
	return first
}

// abandon stops appending to any of this process's packs named in
// containers ("pack:<file>"): they were retired.
func (w *packWriter) abandon(containers []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.all {
		for _, c := range containers {
			if c == "pack:"+p.name {
				p.mu.Lock()
				p.failed = true
				p.mu.Unlock()
			}
		}
	}
}

// forget drops a private pack from the writer's list once its batch closed it.
// discardLocked closes and removes a pack that holds no record. Callers
// hold w.mu and p.mu.
func (w *packWriter) discardLocked(p *pack) {
	p.rolled = true
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	os.Remove(filepath.Join(p.dir, p.name))
	if w.active == p {
		w.active = nil
	}
	for i, q := range w.all {
		if q == p {
			w.all = append(w.all[:i], w.all[i+1:]...)
			break
		}
	}
}

func (w *packWriter) forget(p *pack) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, q := range w.all {
		if q == p {
			w.all = append(w.all[:i], w.all[i+1:]...)
			return
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return errs.Internalf(err, "open blob directory %s", dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return errs.Internalf(err, "fsync blob directory %s", dir)
	}
	return nil
}

// putHeader fills the 44-byte record header.
func putHeader(h []byte, size int64, sum []byte) {
	copy(h[0:4], packMagic)
	binary.BigEndian.PutUint64(h[4:12], uint64(size))
	copy(h[12:44], sum)
}
