package cli_test

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a loopback TCP proxy between the target and the source's
// HTTP listener that can reset every connection (RST) or stall traffic.
type faultProxy struct {
	url      string
	ln       net.Listener
	upstream string

	mu     sync.Mutex
	conns  map[net.Conn]bool
	resume chan struct{} // while stalled: closed when the stall ends
	resets int
	stalls int
}

// startFaultProxy listens on 127.0.0.1 and forwards to upstream until the
// test ends.
func startFaultProxy(t *testing.T, upstream string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, upstream: upstream, url: "http://" + ln.Addr().String(), conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.reset() })
	go p.serve()
	return p
}

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *faultProxy) handle(c net.Conn) {
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, u)
	defer p.untrack(c, u)
	done := make(chan struct{}, 2)
	go func() { p.copy(u, c); done <- struct{}{} }()
	go func() { p.copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
}

// copy forwards src to dst, holding back while the proxy stalls.
func (p *faultProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for {
				p.mu.Lock()
				resume := p.resume
				p.mu.Unlock()
				if resume == nil {
					break
				}
				<-resume // the stall's end; a newer stall is looked at again
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			return
		}
	}
}

func (p *faultProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		p.conns[c] = true
	}
}

func (p *faultProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

// reset aborts every open connection with a TCP RST.
func (p *faultProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resets++
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}

// stall holds all traffic back for d.
func (p *faultProxy) stall(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalls++
	resume := make(chan struct{})
	p.resume = resume
	time.AfterFunc(d, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		close(resume)
		if p.resume == resume {
			p.resume = nil
		}
	})
}

// resumed returns a channel closed when the current stall ends (already
// closed when none is going on).
func (p *faultProxy) resumed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resume != nil {
		return p.resume
	}
	done := make(chan struct{})
	close(done)
	return done
}
