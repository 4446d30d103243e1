package imapd_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// The benchmarks of issue 8 item 4 (docs/benchmarks.md, "Parse once,
// serve byte ranges"). They run only with TENANTFERRY_BENCH=1, log their
// figures and fail when a reply is wrong; they assert nothing on memory
// or time (the figures go to docs/benchmarks.md).

// benchOnly skips unless TENANTFERRY_BENCH=1.
func benchOnly(t *testing.T) {
	if os.Getenv("TENANTFERRY_BENCH") != "1" {
		t.Skip("benchmark: set TENANTFERRY_BENCH=1")
	}
}

// bigMessage streams a multipart message of about size bytes: a short
// text part and a base64 attachment of pseudo-random bytes (76-column
// lines, CRLF), generated on the fly. It returns the reader and the
// SHA-256 the bytes will have.
func bigMessage(size int64) (io.Reader, string) {
	gen := func(w io.Writer) {
		bw := bufio.NewWriterSize(w, 1<<16)
		fmt.Fprintf(bw, "From: Ada <ada@example.test>\r\nTo: big@contoso.test\r\nSubject: the big one\r\n"+
			"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+
			"See the attachment.\r\n--b1\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"+
			"Content-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		r := rand.New(rand.NewSource(1))
		raw := make([]byte, 57)
		line := make([]byte, 78)
		for n := int64(0); n < size; n += 78 {
			r.Read(raw)
			base64.StdEncoding.Encode(line, raw)
			line[76], line[77] = '\r', '\n'
			bw.Write(line)
		}
		bw.WriteString("--b1--\r\n")
		bw.Flush()
	}
	h := sha256.New()
	gen(h)
	pr, pw := io.Pipe()
	go func() { gen(pw); pw.Close() }()
	return pr, hex.EncodeToString(h.Sum(nil))
}

// procStatusMB reads a field (VmRSS, VmHWM) of /proc/self/status in MiB.
func procStatusMB(t *testing.T, name string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	t.Fatalf("no %s in /proc/self/status", name)
	return 0
}

var streamLiteralRE = regexp.MustCompile(`\{(\d+)\}$`)

// streamCmd sends a tagged command on c and reads the reply, discarding
// literals as they stream (never holding one) and hashing them into h.
// It returns the literal sizes and the tagged completion.
func streamCmd(c net.Conn, br *bufio.Reader, tag, cmd string, h io.Writer) ([]int64, string, error) {
	if _, err := io.WriteString(c, tag+" "+cmd+"\r\n"); err != nil {
		return nil, "", err
	}
	var sizes []int64
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return sizes, strings.TrimPrefix(l, tag+" "), nil
		}
		if m := streamLiteralRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			if _, err := io.CopyN(h, br, n); err != nil {
				return nil, "", err
			}
			sizes = append(sizes, n)
			if _, err := br.ReadString('\n'); err != nil { // the rest of the FETCH line
				return nil, "", err
			}
		}
	}
}

// TestBenchFetchMemory: 10 IMAP clients FETCH BODYSTRUCTURE, then BODY[1],
// then BODY[] of the same 100 MiB message at once; logs the increase of
// the process's peak RSS (server and clients share the process; the
// clients stream every reply and hold none).
func TestBenchFetchMemory(t *testing.T) {
	benchOnly(t)
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "big")
		e.login(t, addr, nil).Logout()
		mb := e.mailbox(t, addr)
		inbox := e.folder(t, mb, "INBOX")
		content, sum := bigMessage(100 << 20)
		if _, err := e.Store.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: content}); err != nil {
			t.Fatal(err)
		}
		conns := make([]*rawConn, 10)
		for i := range conns {
			conns[i] = e.raw(t)
			if _, done := conns[i].cmd("LOGIN %s %q", addr, password); !strings.HasPrefix(done, "OK") {
				t.Fatal(done)
			}
			if _, done := conns[i].cmd("SELECT INBOX"); !strings.HasPrefix(done, "OK") {
				t.Fatal(done)
			}
		}
		runtime.GC()
		debug.FreeOSMemory()
		base := procStatusMB(t, "VmRSS")
		os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(conns))
		for i, r := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = fetchAll(r, sum)
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		peak := procStatusMB(t, "VmHWM")
		t.Logf("%s: 10 clients BODYSTRUCTURE, BODY[1], BODY[] of 100 MiB: RSS before %.1f MiB, peak %.1f MiB, increase %.1f MiB, %.1f s",
			d.Dialect, base, peak, peak-base, elapsed.Seconds())
	})
}

// fetchAll runs the three FETCHes of TestBenchFetchMemory on one
// connection and checks the replies.
func fetchAll(r *rawConn, sum string) error {
	if _, done, err := streamCmd(r.c, r.br, "b1", "UID FETCH 1 (BODYSTRUCTURE)", io.Discard); err != nil || !strings.HasPrefix(done, "OK") {
		return fmt.Errorf("BODYSTRUCTURE: %v %s", err, done)
	}
	sizes, done, err := streamCmd(r.c, r.br, "b2", "UID FETCH 1 (BODY.PEEK[1])", io.Discard)
	if err != nil || !strings.HasPrefix(done, "OK") || len(sizes) != 1 || sizes[0] != int64(len("See the attachment.")) {
		return fmt.Errorf("BODY[1]: %v %s %v", err, done, sizes)
	}
	h := sha256.New()
	sizes, done, err = streamCmd(r.c, r.br, "b3", "UID FETCH 1 (BODY.PEEK[])", h)
	if err != nil || !strings.HasPrefix(done, "OK") || len(sizes) != 1 {
		return fmt.Errorf("BODY[]: %v %s %v", err, done, sizes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return fmt.Errorf("BODY[] hash %s, want %s", got, sum)
	}
	return nil
}

// TestBenchSearchText: SEARCH TEXT over 10,000 generated messages (the
// mailgen defaults: 8 KiB median, 5% with a 200 KiB attachment); logs the
// median of 5 runs of three searches (a frequent word, a rare word, a
// word that is absent).
func TestBenchSearchText(t *testing.T) {
	benchOnly(t)
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "many")
		e.login(t, addr, nil).Logout()
		mb := e.mailbox(t, addr)
		inbox := e.folder(t, mb, "INBOX")
		g := mailgen.New(mailgen.Options{Seed: 8, Count: 10000, Owner: addr})
		for {
			var batch []mailstore.AppendItem
			for len(batch) < 1000 {
				m, ok := g.Next()
				if !ok {
					break
				}
				batch = append(batch, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(string(m.Data))})
			}
			if len(batch) == 0 {
				break
			}
			if _, err := e.Store.AppendMany(bg, mb.ID, batch, nil); err != nil {
				t.Fatal(err)
			}
		}
		r := e.raw(t)
		r.mustOK(fmt.Sprintf("LOGIN %s %q", addr, password))
		r.mustOK("SELECT INBOX")
		for _, word := range []string{"migration", "Lamport", "zyzzyva"} {
			var runs []time.Duration
			var hits int
			for range 5 {
				start := time.Now()
				lines := r.mustOK("SEARCH TEXT " + word)
				runs = append(runs, time.Since(start))
				hits = 0
				for _, l := range lines {
					if strings.HasPrefix(l, "* SEARCH") {
						hits = len(strings.Fields(l)) - 2
					}
				}
			}
			if word == "zyzzyva" && hits != 0 {
				t.Fatalf("SEARCH TEXT %s: %d hits", word, hits)
			}
			if word == "migration" && hits == 0 {
				t.Fatalf("SEARCH TEXT %s: no hits", word)
			}
			sort.Slice(runs, func(i, j int) bool { return runs[i] < runs[j] })
			t.Logf("%s: SEARCH TEXT %s over 10,000: %d hits, median %v (min %v, max %v)",
				d.Dialect, word, hits, runs[2].Round(time.Millisecond), runs[0].Round(time.Millisecond), runs[4].Round(time.Millisecond))
		}
	})
}
