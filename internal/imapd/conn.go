package imapd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// filterConn is the net.Conn go-imap's server reads and writes. It sees
// the plain text of every connection (TLS is terminated below it), which
// lets this package do three things imapserver has no hook for:
//
//   - STARTTLS is performed here: the command is answered, the handshake
//     done, and the now encrypted connection handed to the server instance
//     for TLS connections (which allows authentication). The old go-imap
//     connection sees end of file and goes away; the greeting the new one
//     writes is dropped, since the client already had one.
//   - A SELECT of a mailbox that is locked for a move completes with
//     [READ-ONLY] instead of [READ-WRITE] (imapserver derives the code from
//     the command name only).
//   - Authentication policy per connection: the accept loop chooses the
//     server instance by the connection, not by the listener.
//   - Known client syntax bugs in command lines are repaired before
//     go-imap parses them (lenient.go). Reads go line by line; the bytes of
//     a literal the client announced pass through unchanged.
//   - Commands go-imap does not know or would disconnect for (ID, unknown
//     commands before login, lines without a tag) are answered here
//     (intercept.go), and ID is added to the CAPABILITY go-imap writes.
//     A logged-in session's APPEND is read and answered here as well, its
//     literals streamed into the store (appendcmd.go).
type filterConn struct {
	net.Conn
	srv *Server

	rmu     sync.Mutex
	br      *bufio.Reader
	pending []byte // bytes of the current line not yet returned
	midLine bool   // the previous read ended inside a line
	// afterLiteral: the previous line announced a literal, so the next
	// line read is the command's rest after the literal's bytes.
	afterLiteral bool
	literal      int64  // bytes of an announced literal still to pass through
	tail         []byte // the last bytes of the current line (literal announcements)
	intercept    atomic.Bool
	handedOff    atomic.Bool
	tls          *tls.Config // nil: no STARTTLS here

	dropGreeting atomic.Bool
	readOnlySel  atomic.Bool // rewrite the next "OK [READ-WRITE] SELECT completed"
	authed       atomic.Bool // the session has logged in
	// ext answers the logged-in session's commands go-imap does not
	// know (extcmd.go); nil before login.
	ext atomic.Pointer[extCommands]
	bad int // invalid commands in a row (intercept.go); guarded by rmu
	// capsUntil is set while go-imap may write a capability list (the
	// greeting, "*" until written; CAPABILITY, LOGIN and AUTHENTICATE: the
	// command's tag, until its completion): addCaps extends it.
	capsUntil atomic.Pointer[string]
	// rawUntil is the tag of an IDLE or AUTHENTICATE in progress: until
	// its completion the client's lines (DONE, SASL responses) are not
	// commands.
	rawUntil atomic.Pointer[string]
	// command is the name of the command being read (intercept.go);
	// refused is the size of a refused non-synchronizing literal still to
	// skip, or -1 (literal.go). Both guarded by rmu.
	command string
	refused int64
	// syncLiteral is the size of a synchronizing literal just announced
	// (guarded by rmu); contSent records that go-imap wrote a
	// continuation request since.
	syncLiteral int64
	contSent    atomic.Bool
	// waiting is set while go-imap is blocked reading the first line of
	// its next command: it writes nothing until it has one, so NOTIFY's
	// notifications may be written then (writeIfWaiting). Guarded by wmu.
	wmu     sync.Mutex
	waiting bool
}

// newFilterConn wraps c. With tlsConfig set, STARTTLS is intercepted until
// the session authenticates.
func newFilterConn(srv *Server, c net.Conn, tlsConfig *tls.Config) *filterConn {
	fc := &filterConn{Conn: c, srv: srv, br: bufio.NewReaderSize(c, 4096), tls: tlsConfig, refused: -1}
	fc.intercept.Store(tlsConfig != nil)
	greeting := "*"
	fc.capsUntil.Store(&greeting)
	return fc
}

// Read implements net.Conn.
func (c *filterConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.handedOff.Load() {
		return 0, io.EOF
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	if c.syncLiteral > 0 {
		// go-imap has answered the announcement: a continuation request
		// brings the literal, a refusal the next command.
		if c.contSent.Swap(false) {
			c.literal = c.syncLiteral
		} else {
			c.midLine = false
		}
		c.syncLiteral = 0
	}
	if c.refused >= 0 {
		if err := c.skipRefused(); err != nil {
			return 0, err
		}
	}
	if c.literal > 0 {
		if int64(len(p)) > c.literal {
			p = p[:c.literal]
		}
		n, err := c.br.Read(p)
		c.literal -= int64(n)
		return n, err
	}
	line, err := c.nextLine()
	if len(line) == 0 && err != nil {
		return 0, err
	}
	n := copy(p, line)
	if n < len(line) {
		c.pending = append([]byte(nil), line[n:]...)
	}
	if err != nil && (errors.Is(err, bufio.ErrBufferFull) || len(line) > 0) {
		err = nil // data now; a read error shows again on the next call
	}
	return n, err
}

// nextLine reads the next line (or up to 4096 bytes of it) for go-imap,
// answering the commands that are answered here (intercept.go), repairing
// known client bugs (lenient.go) and following the literals a line
// announces.
func (c *filterConn) nextLine() ([]byte, error) {
	for {
		wait := !c.midLine && c.rawUntil.Load() == nil && c.br.Buffered() == 0
		c.setWaiting(wait)
		line, err := c.br.ReadSlice('\n')
		c.setWaiting(false)
		if len(line) == 0 && err != nil {
			return nil, err
		}
		full := err == nil
		first := !c.midLine && c.rawUntil.Load() == nil // a command starts here
		if first {
			if full && c.intercept.Load() {
				if tag, ok := startTLSCommand(line); ok {
					return nil, c.startTLS(tag)
				}
			}
			handled, herr := c.takeCommand(line, full)
			if herr != nil {
				return nil, herr
			}
			if handled {
				continue
			}
			if full {
				line = lenientLine(line)
				if e := c.ext.Load(); e != nil && e.line != nil {
					line = e.line(c.command, line)
				}
			}
		} else if c.afterLiteral && full {
			if e := c.ext.Load(); e != nil && e.cont != nil {
				line = e.cont(c.command, line)
			}
		}
		c.afterLiteral = false
		c.tail = append(c.tail, line[max(0, len(line)-32):]...)
		if len(c.tail) > 32 {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-32:]...)
		}
		literal := false
		if full {
			var n int64
			if n, literal = announcedLiteral(c.tail); literal {
				nonSync := bytes.HasSuffix(bytes.TrimRight(c.tail, "\r\n"), []byte("+}"))
				switch {
				case nonSync && n > c.literalLimit():
					q, herr := c.refuseLiteral(line, n, first)
					if herr != nil {
						return nil, herr
					}
					if q == nil {
						continue // answered here
					}
					line = q
				case nonSync:
					c.literal = n // the bytes follow
				default:
					c.syncLiteral = n // only if go-imap asks for them
					c.contSent.Store(false)
				}
			}
			c.tail = c.tail[:0]
		}
		c.midLine = !full || literal // after a literal the command line goes on
		c.afterLiteral = literal
		return line, err
	}
}

// startTLSCommand reports whether a command line is "<tag> STARTTLS".
func startTLSCommand(line []byte) (tag string, ok bool) {
	if len(line) > 128 {
		return "", false
	}
	f := strings.Fields(string(line))
	if len(f) != 2 || !strings.EqualFold(f[1], "STARTTLS") {
		return "", false
	}
	return f[0], true
}

// startTLS answers STARTTLS, runs the TLS handshake and hands the
// encrypted connection to the TLS server instance. It returns the error the
// old go-imap connection should see (end of file).
func (c *filterConn) startTLS(tag string) error {
	c.handedOff.Store(true)
	if c.br.Buffered() > 0 {
		// Commands pipelined after STARTTLS would be injected into the
		// encrypted session (CVE-2011-0411 style): refuse.
		c.Conn.Write([]byte(tag + " BAD [CLIENTBUG] no commands may follow STARTTLS before the handshake\r\n"))
		c.Conn.Close()
		return io.EOF
	}
	if _, err := c.Conn.Write([]byte(tag + " OK Begin TLS negotiation now\r\n")); err != nil {
		c.Conn.Close()
		return io.EOF
	}
	tc := tls.Server(c.Conn, c.tls)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.srv.log.Debug("imap: STARTTLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		c.Conn.Close()
		return io.EOF
	}
	tc.SetDeadline(time.Time{})
	nc := newFilterConn(c.srv, tc, nil)
	nc.dropGreeting.Store(true)
	if !c.srv.dispatch(c.srv.secure, nc) {
		tc.Close()
	}
	return io.EOF
}

// authenticated stops STARTTLS interception (it is only valid before
// authentication) and the limit on invalid commands.
func (c *filterConn) authenticated(ext *extCommands) {
	c.intercept.Store(false)
	c.ext.Store(ext)
	c.authed.Store(true)
}

// selectReadOnly arms the rewrite of the next SELECT completion.
func (c *filterConn) selectReadOnly(on bool) { c.readOnlySel.Store(on) }

var (
	selectReadWrite = []byte(" OK [READ-WRITE] SELECT completed\r\n")
	selectReadOnly  = []byte(" OK [READ-ONLY] SELECT completed\r\n")
)

// extraCaps are the capabilities handled below go-imap (intercept.go),
// added to the lists go-imap writes.
const extraCaps = " ID"

// addCaps returns a response line with extraCaps (and, once logged in,
// the session's extCommands caps) added to its capability
// list ("* CAPABILITY ..." or a [CAPABILITY ...] response code), or nil if
// it has none.
func addCaps(p []byte, extraCaps string) []byte {
	if rest, ok := bytes.CutPrefix(p, []byte("* CAPABILITY ")); ok && bytes.HasSuffix(rest, []byte("\r\n")) {
		return append(append(p[:len(p)-2:len(p)-2], extraCaps...), "\r\n"...)
	}
	i := bytes.Index(p, []byte("[CAPABILITY "))
	if i < 0 {
		return nil
	}
	j := bytes.IndexByte(p[i:], ']')
	if j < 0 {
		return nil
	}
	j += i
	out := append([]byte(nil), p[:j]...)
	out = append(out, extraCaps...)
	return append(out, p[j:]...)
}

// armCaps expects a capability list in the responses to the command with
// tag (see capsUntil).
func (c *filterConn) armCaps(tag string) { c.capsUntil.Store(&tag) }

// Write implements net.Conn. go-imap flushes after each response line, so
// a status line arrives in one Write.
func (c *filterConn) Write(p []byte) (int, error) {
	if e := c.ext.Load(); e != nil && e.resp != nil {
		if q := e.resp(p); q != nil {
			if _, err := c.writeFiltered(q); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.writeFiltered(p)
}

// writeFiltered is Write after the session's response hook.
func (c *filterConn) writeFiltered(p []byte) (int, error) {
	if c.dropGreeting.Load() && bytes.HasPrefix(p, []byte("* OK")) && bytes.HasSuffix(p, []byte("\r\n")) {
		c.dropGreeting.Store(false)
		c.capsUntil.Store(nil)
		return len(p), nil
	}
	if bytes.HasPrefix(p, []byte("+")) {
		c.contSent.Store(true)
	}
	if tag := c.rawUntil.Load(); tag != nil && bytes.HasPrefix(p, []byte(*tag+" ")) {
		c.rawUntil.Store(nil)
	}
	if tag := c.capsUntil.Load(); tag != nil {
		if *tag == "*" || bytes.HasPrefix(p, []byte(*tag+" ")) {
			c.capsUntil.Store(nil) // the greeting or the command's completion
		}
		extra := extraCaps
		if e := c.ext.Load(); e != nil {
			extra += e.caps
		}
		if q := addCaps(p, extra); q != nil {
			if _, err := c.Conn.Write(q); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	if c.readOnlySel.Load() && bytes.HasSuffix(p, selectReadWrite) {
		c.readOnlySel.Store(false)
		q := append(bytes.TrimSuffix(p, selectReadWrite), selectReadOnly...)
		if _, err := c.Conn.Write(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// setWaiting records whether go-imap waits for its next command; clearing
// it waits for a notification being written.
func (c *filterConn) setWaiting(on bool) {
	c.wmu.Lock()
	c.waiting = on
	c.wmu.Unlock()
}

// writeIfWaiting writes b, unsolicited responses, if no command is
// running (see waiting), and reports whether it did.
func (c *filterConn) writeIfWaiting(b []byte) bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.waiting {
		return false
	}
	c.Conn.Write(b)
	return true
}

// writeRaw writes response bytes below go-imap, for the untagged
// responses it has no writer for at that point (FLAGS in the middle of a
// FETCH or STORE, PERMANENTFLAGS after a FLAGS update). go-imap flushes
// every response line it writes, and a session writes only from the
// goroutine of its current command (or of its IDLE), so the bytes land
// between whole responses.
func (c *filterConn) writeRaw(b []byte) error {
	_, err := c.Conn.Write(b)
	return err
}

// Close implements net.Conn; after a STARTTLS hand-off the socket belongs
// to the new connection.
func (c *filterConn) Close() error {
	if c.handedOff.Load() {
		return nil
	}
	return c.Conn.Close()
}

// chanListener is a net.Listener fed by the accept loop, one per go-imap
// server instance.
type chanListener struct {
	ch       chan net.Conn
	done     chan struct{}
	once     sync.Once
	addr     net.Addr
	accepted chan struct{} // closed at the first Accept
	first    sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: &net.TCPAddr{}, accepted: make(chan struct{})}
}

// serving waits until the go-imap server serving l called Accept (it has
// then registered the listener, so closing it cannot race with that).
func (l *chanListener) serving() { <-l.accepted }

// Accept implements net.Listener.
func (l *chanListener) Accept() (net.Conn, error) {
	l.first.Do(func() { close(l.accepted) })
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr implements net.Listener.
func (l *chanListener) Addr() net.Addr { return l.addr }

// offer hands c to the listener; false when it is closed.
func (l *chanListener) offer(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}
