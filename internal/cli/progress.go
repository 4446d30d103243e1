package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/units"
)

// uploadProgress shows how far an upload got, on stderr: a bar redrawn in
// place on a terminal, a line per 10% otherwise (--progress in a log).
// Once every byte is sent it says that the server is still importing,
// with the time waited, until done is called.
type uploadProgress struct {
	w      io.Writer
	total  int64
	redraw bool // a terminal: redraw the line
	start  time.Time

	mu       sync.Mutex
	sent     int64
	shown    time.Time
	lastTens int64
	stop     chan struct{}
	stopped  sync.WaitGroup
}

// newUploadProgress starts showing an upload of total bytes on w.
func newUploadProgress(w io.Writer, total int64, redraw bool) *uploadProgress {
	return &uploadProgress{w: w, total: max(total, 1), redraw: redraw, start: time.Now(), lastTens: -1, stop: make(chan struct{})}
}

// reader wraps r so that what is read from it counts as sent.
func (p *uploadProgress) reader(r io.Reader) io.Reader { return progressReader{r, p} }

type progressReader struct {
	r io.Reader
	p *uploadProgress
}

// Read implements io.Reader.
func (pr progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(int64(n))
	return n, err
}

// add counts n more bytes sent and shows the progress when due.
func (p *uploadProgress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	tens := p.sent * 10 / p.total
	now := time.Now()
	due := p.sent == p.total || (p.redraw && now.Sub(p.shown) >= 200*time.Millisecond) || (!p.redraw && tens > p.lastTens)
	if !due {
		return
	}
	p.shown, p.lastTens = now, tens
	p.line(fmt.Sprintf("Uploading %s %s / %s %3d%%  %s/s", bar(p.sent, p.total, 20), units.Bytes(p.sent), units.Bytes(p.total),
		p.sent*100/p.total, units.Bytes(int64(float64(p.sent)/max(now.Sub(p.start).Seconds(), 0.001)))))
	if p.sent == p.total {
		p.waitServer()
	}
}

// waitServer shows the time the server takes after the upload, every
// second (called with mu held, once).
func (p *uploadProgress) waitServer() {
	sentAt := time.Now()
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.redraw {
					p.line(fmt.Sprintf("Uploaded %s; the server is importing… %s", units.Bytes(p.total), time.Since(sentAt).Round(time.Second)))
				}
				p.mu.Unlock()
			}
		}
	}()
}

// line shows one progress line.
func (p *uploadProgress) line(s string) {
	if p.redraw {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		return
	}
	fmt.Fprintln(p.w, s)
}

// done ends the display.
func (p *uploadProgress) done() {
	close(p.stop)
	p.stopped.Wait()
	if p.redraw {
		fmt.Fprintln(p.w)
	}
}

// bar is a text progress bar of width cells.
func bar(n, total int64, width int) string {
	full := int(n * int64(width) / max(total, 1))
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}
