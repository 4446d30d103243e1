package imapd_test

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

// tap is a loopback TCP proxy in front of an IMAP server that records both
// directions of every connection, so a test sees exactly what a foreign
// client sent and what our server answered.
type tap struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []*tapConn
}

// tapConn is one recorded connection.
type tapConn struct {
	toServer, toClient bytes.Buffer
	done               chan struct{} // closed when both directions ended
}

// newTap starts a proxy to target; it is closed when the test ends.
func newTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{ln: ln}
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			rec := &tapConn{done: make(chan struct{})}
			p.mu.Lock()
			p.conns = append(p.conns, rec)
			p.mu.Unlock()
			var pipes sync.WaitGroup
			pipe := func(dst, src net.Conn, w *bytes.Buffer) {
				defer pipes.Done()
				io.Copy(io.MultiWriter(dst, &lockedWriter{mu: &p.mu, w: w}), src)
				dst.(*net.TCPConn).CloseWrite()
			}
			pipes.Add(2)
			go pipe(s, c, &rec.toServer)
			go pipe(c, s, &rec.toClient)
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				pipes.Wait()
				c.Close()
				s.Close()
				close(rec.done)
			}()
		}
	}()
	return p
}

// Addr is the proxy's address.
func (p *tap) Addr() string { return p.ln.Addr().String() }

// take waits until every recorded connection has ended (the client has
// exited) and returns their streams, forgetting them.
func (p *tap) take(t *testing.T) (toServer, toClient [][]byte) {
	t.Helper()
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			t.Fatal("a proxied IMAP connection did not end")
		}
		toServer = append(toServer, c.toServer.Bytes())
		toClient = append(toClient, c.toClient.Bytes())
	}
	return toServer, toClient
}

// lockedWriter appends to a buffer under the tap's lock.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// literal is an IMAP literal with the text of its line before it.
type literal struct {
	prefix []byte // the line up to (excluding) " {n}"
	data   []byte
}

// literalRE matches a line ending in a literal announcement: {n}, {n+}
// (LITERAL+/-) or ~{n} (BINARY).
var literalRE = regexp.MustCompile(`~?\{(\d+)\+?\}\r\n$`)

// literals splits an IMAP stream into its literals, each with the text
// that precedes it since the previous literal or line start (for a FETCH
// response "... BODY[]", for an APPEND the whole command line).
func literals(t *testing.T, b []byte) []literal {
	t.Helper()
	var out []literal
	for len(b) > 0 {
		nl := bytes.Index(b, []byte("\r\n"))
		if nl < 0 {
			break
		}
		seg := b[:nl+2]
		b = b[nl+2:]
		line := seg
		m := literalRE.FindSubmatchIndex(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(string(line[m[2]:m[3]]))
		if n > len(b) {
			t.Fatalf("literal of %d bytes, %d left in the stream", n, len(b))
		}
		out = append(out, literal{prefix: bytes.TrimRight(append([]byte(nil), line[:m[0]]...), " "), data: b[:n]})
		b = b[n:]
	}
	return out
}
