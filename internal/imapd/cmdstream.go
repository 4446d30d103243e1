package imapd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// cmdStream reads the arguments of one command answered below go-imap
// (APPEND, appendcmd.go) straight from the connection, token by token:
// first the rest of the command's first line, which filterConn has read
// already, then filterConn's reader. A literal is announced to the caller,
// which accepts it (with a continuation request when it is synchronizing)
// or refuses it, and streams its bytes; nothing buffers a literal but the
// small ones of string arguments (astring). After a failure, abandon skips
// what the client still sends of the command, so the next command is read
// in step.
type cmdStream struct {
	c       *filterConn
	pre     []byte // bytes of the first line not read yet (a copy)
	left    int64  // bytes of an accepted literal the client still sends
	waiting bool   // a synchronizing literal was refused: the client sends nothing more
	ended   bool   // the command's final CRLF was read
}

// Timeouts while a command is read below go-imap: per read of a literal's
// bytes (go-imap's literalReadTimeout), and after the command, until the
// next one (go-imap's idleReadTimeout of an authenticated session).
const (
	literalReadTimeout = 5 * time.Minute
	idleReadTimeout    = 35 * time.Minute
)

// syntaxError is a command that does not parse: BAD.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

// connError is a failure to read from the client: the connection ends.
type connError struct{ err error }

func (e connError) Error() string { return "read command: " + e.err.Error() }
func (e connError) Unwrap() error { return e.err }

// newCmdStream starts reading a command's arguments after its first bytes
// rest (a slice of the first line).
func newCmdStream(c *filterConn, rest []byte) *cmdStream {
	return &cmdStream{c: c, pre: append([]byte(nil), rest...)}
}

// deadline extends the read deadline before a read from the connection.
func (p *cmdStream) deadline() { p.c.Conn.SetReadDeadline(time.Now().Add(literalReadTimeout)) }

// peek returns the next byte without reading it.
func (p *cmdStream) peek() (byte, error) {
	if len(p.pre) > 0 {
		return p.pre[0], nil
	}
	p.deadline()
	b, err := p.c.br.Peek(1)
	if err != nil {
		return 0, connError{err}
	}
	return b[0], nil
}

// next reads one byte.
func (p *cmdStream) next() (byte, error) {
	if len(p.pre) > 0 {
		b := p.pre[0]
		p.pre = p.pre[1:]
		return b, nil
	}
	p.deadline()
	b, err := p.c.br.ReadByte()
	if err != nil {
		return 0, connError{err}
	}
	return b, nil
}

// expect reads the bytes of s (ASCII case-insensitive).
func (p *cmdStream) expect(s, what string) error {
	for i := 0; i < len(s); i++ {
		b, err := p.next()
		if err != nil {
			return err
		}
		if b != s[i] && !(b|0x20 == s[i]|0x20 && b|0x20 >= 'a' && b|0x20 <= 'z') {
			return syntaxError("expected " + what)
		}
	}
	return nil
}

// sp reads one space.
func (p *cmdStream) sp() error { return p.expect(" ", "a space") }

// crlf reads the end of the command (CRLF, or a bare LF).
func (p *cmdStream) crlf() error {
	b, err := p.next()
	if err == nil && b == '\r' {
		b, err = p.next()
	}
	if err != nil {
		return err
	}
	if b != '\n' {
		return syntaxError("expected the end of the command")
	}
	p.ended = true
	return nil
}

// atEnd reports whether the command ends here (CR or LF next).
func (p *cmdStream) atEnd() (bool, error) {
	b, err := p.peek()
	return b == '\r' || b == '\n', err
}

// word reads up to max bytes for which ok holds (at least one).
func (p *cmdStream) word(max int, ok func(byte) bool, what string) (string, error) {
	var w []byte
	for {
		b, err := p.peek()
		if err != nil {
			return "", err
		}
		if !ok(b) {
			break
		}
		if len(w) == max {
			return "", syntaxError(what + " too long")
		}
		w = append(w, b)
		p.next()
	}
	if len(w) == 0 {
		return "", syntaxError("expected " + what)
	}
	return string(w), nil
}

// atom reads an atom.
func (p *cmdStream) atom(what string) (string, error) { return p.word(1024, isAtomChar, what) }

// quoted reads a quoted string of at most max bytes.
func (p *cmdStream) quoted(max int) (string, error) {
	if err := p.expect(`"`, "a quoted string"); err != nil {
		return "", err
	}
	var s []byte
	for {
		b, err := p.next()
		if err != nil {
			return "", err
		}
		switch b {
		case '"':
			return string(s), nil
		case '\\':
			if b, err = p.next(); err != nil {
				return "", err
			}
		case '\r', '\n':
			return "", syntaxError("unterminated quoted string")
		}
		if len(s) == max {
			return "", syntaxError("quoted string too long")
		}
		s = append(s, b)
	}
}

// literalHeader reads a literal announcement ("{n}", "{n+}" or the
// literal8 "~{n}", "~{n+}") and its CRLF. The caller accepts or refuses the
// literal next.
func (p *cmdStream) literalHeader() (n int64, nonSync, binary bool, err error) {
	b, err := p.next()
	if err == nil && b == '~' {
		binary = true
		b, err = p.next()
	}
	if err != nil {
		return 0, false, false, err
	}
	if b != '{' {
		return 0, false, false, syntaxError("expected a literal")
	}
	digits, err := p.word(19, func(b byte) bool { return b >= '0' && b <= '9' }, "a literal size")
	if err != nil {
		return 0, false, false, err
	}
	if n, err = strconv.ParseInt(digits, 10, 64); err != nil {
		return 0, false, false, syntaxError("literal size out of range")
	}
	if b, _ := p.peek(); b == '+' {
		nonSync = true
		p.next()
	}
	if err := p.expect("}", "}"); err != nil {
		return 0, false, false, err
	}
	if err := p.crlf(); err != nil {
		return 0, false, false, err
	}
	p.ended = false // the command goes on after the literal
	return n, nonSync, binary, nil
}

// accept accepts an announced literal: the client sends its n bytes (after
// a continuation request for a synchronizing one).
func (p *cmdStream) accept(n int64, nonSync bool) error {
	p.left = n
	if !nonSync {
		return p.c.reply("+ Ready for literal data")
	}
	return nil
}

// refuse refuses an announced literal: a non-synchronizing one is sent
// anyway (abandon skips it), a synchronizing one never.
func (p *cmdStream) refuse(n int64, nonSync bool) {
	if nonSync {
		p.left = n
	} else {
		p.waiting = true
	}
}

// readLiteral reads bytes of the accepted literal; io.EOF at its end.
func (p *cmdStream) readLiteral(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	p.deadline()
	n, err := p.c.br.Read(b)
	p.left -= int64(n)
	if err != nil {
		return n, connError{err}
	}
	return n, nil
}

// astring reads an atom, a quoted string or a literal of at most max
// bytes (held in memory).
func (p *cmdStream) astring(max int, what string) (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	switch b {
	case '"':
		return p.quoted(max)
	case '{':
		n, nonSync, _, err := p.literalHeader()
		if err != nil {
			return "", err
		}
		if n > int64(max) {
			p.refuse(n, nonSync)
			return "", syntaxError(fmt.Sprintf("%s over %d bytes", what, max))
		}
		if err := p.accept(n, nonSync); err != nil {
			return "", err
		}
		buf := make([]byte, n)
		for off := 0; off < len(buf); {
			k, err := p.readLiteral(buf[off:])
			if err != nil {
				return "", err
			}
			off += k
		}
		return string(buf), nil
	}
	return p.word(max, func(b byte) bool { return isAtomChar(b) || b == ']' }, what)
}

// abandon skips what the client still sends of a command that failed: the
// rest of an accepted or refused non-synchronizing literal, the rest of
// the line, and any non-synchronizing literals and lines after it. After a
// refused synchronizing literal, or the command's end, nothing comes.
func (p *cmdStream) abandon() error {
	c := p.c
	defer c.Conn.SetReadDeadline(time.Now().Add(idleReadTimeout))
	switch {
	case p.waiting || p.ended:
		return nil
	case p.left > 0 || len(p.pre) == 0:
		c.refused, p.left = p.left, 0
		return c.skipRefused()
	}
	rest := p.pre
	p.pre = nil
	if rest[len(rest)-1] != '\n' {
		c.refused = 0
		return c.skipRefused()
	}
	tail := rest[max(0, len(rest)-32):]
	if n, ok := announcedLiteral(tail); ok && bytes.HasSuffix(bytes.TrimRight(tail, "\r\n"), []byte("+}")) {
		c.refused = n
		return c.skipRefused()
	}
	return nil
}

// isConnError reports whether err ends the connection (and returns it
// unwrapped).
func isConnError(err error) (error, bool) {
	var ce connError
	if errors.As(err, &ce) {
		return ce.err, true
	}
	return nil, false
}

// flagList reads a parenthesized list of flags ("\Seen", keywords).
// Extra spaces are skipped: Dovecot's imapc writes "( $Label1 NonJunk)"
// (see appendFlagsSpace, lenient.go).
func (p *cmdStream) flagList() ([]string, error) {
	if err := p.expect("(", "("); err != nil {
		return nil, err
	}
	var flags []string
	for {
		b, err := p.peek()
		if err != nil {
			return nil, err
		}
		if b == ')' {
			p.next()
			return flags, nil
		}
		spaces := 0
		for ; b == ' '; b, err = p.peek() {
			p.next()
			spaces++
		}
		if err != nil {
			return nil, err
		}
		if len(flags) > 0 && spaces == 0 {
			return nil, syntaxError("expected a space between flags")
		}
		if b == ')' {
			continue
		}
		prefix := ""
		if b, _ := p.peek(); b == '\\' {
			p.next()
			prefix = `\`
		}
		f, err := p.word(1024, func(b byte) bool { return isAtomChar(b) || b == '*' }, "a flag")
		if err != nil {
			return nil, err
		}
		if len(flags) == 1000 {
			return nil, syntaxError("too many flags")
		}
		flags = append(flags, prefix+f)
	}
}

// dateTime reads a quoted date-time (RFC 9051).
func (p *cmdStream) dateTime() (time.Time, error) {
	s, err := p.quoted(64)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		return time.Time{}, syntaxError("invalid date-time " + strconv.Quote(s))
	}
	return t, nil
}
