package imapd

import (
	"strconv"
	"strings"
	"time"
)

// argReader reads the arguments of a command answered below go-imap
// (intercept.go): the bytes after the command name, literals included as
// readCommand returns them ("{n}\r\n" or "{n+}\r\n" then n bytes). It
// follows RFC 3501's grammar for atoms, quoted strings, literals and
// parenthesized lists. A syntax error is kept in err (the first one) and
// makes every later read fail, so a parser checks it once at the end.
type argReader struct {
	s          string
	pos        int
	err        string
	maxLiteral int // the largest literal accepted, 0 for any
}

// newArgReader reads args, the command's bytes after its name, with the
// final CRLF cut off.
func newArgReader(args string) *argReader {
	return &argReader{s: strings.TrimRight(args, "\r\n")}
}

// fail records a syntax error (the first one is kept).
func (r *argReader) fail(msg string) {
	if r.err == "" {
		r.err = msg
	}
	r.pos = len(r.s)
}

// eof reports whether every byte was read.
func (r *argReader) eof() bool { return r.pos >= len(r.s) }

// peek returns the next byte, or 0 at the end.
func (r *argReader) peek() byte {
	if r.eof() {
		return 0
	}
	return r.s[r.pos]
}

// sp reads one space; false (and an error) when there is none.
func (r *argReader) sp() bool {
	if r.peek() != ' ' {
		r.fail("expected a space")
		return false
	}
	r.pos++
	return true
}

// maybe reads c when it comes next.
func (r *argReader) maybe(c byte) bool {
	if r.peek() == c {
		r.pos++
		return true
	}
	return false
}

// expect reads c or fails.
func (r *argReader) expect(c byte) bool {
	if !r.maybe(c) {
		r.fail("expected " + strconv.Quote(string(c)))
		return false
	}
	return true
}

// atom reads an atom (ATOM-CHARs, plus "]" as in flags and search keys).
func (r *argReader) atom() string {
	start := r.pos
	for !r.eof() && (isAtomChar(r.s[r.pos]) || r.s[r.pos] == ']') {
		r.pos++
	}
	if r.pos == start {
		r.fail("expected an atom")
	}
	return r.s[start:r.pos]
}

// astring reads an atom, a quoted string or a literal.
func (r *argReader) astring() string {
	switch r.peek() {
	case '"':
		return r.quoted()
	case '{':
		return r.literal()
	}
	return r.atom()
}

// quoted reads a quoted string, unescaping it.
func (r *argReader) quoted() string {
	r.pos++ // the opening quote
	var b strings.Builder
	for !r.eof() {
		c := r.s[r.pos]
		r.pos++
		switch c {
		case '\\':
			if r.eof() {
				break
			}
			b.WriteByte(r.s[r.pos])
			r.pos++
		case '"':
			return b.String()
		case '\r', '\n':
			r.fail("a quoted string holds no line break")
			return ""
		default:
			b.WriteByte(c)
		}
	}
	r.fail("unterminated quoted string")
	return ""
}

// literal reads a literal whose bytes follow its announcement.
func (r *argReader) literal() string {
	end := strings.Index(r.s[r.pos:], "}\r\n")
	if end < 0 {
		r.fail("bad literal")
		return ""
	}
	n, err := strconv.Atoi(strings.TrimSuffix(r.s[r.pos+1:r.pos+end], "+"))
	start := r.pos + end + 3
	if err != nil || n < 0 || start+n > len(r.s) {
		r.fail("bad literal")
		return ""
	}
	if r.maxLiteral > 0 && n > r.maxLiteral {
		r.fail("a literal here holds at most " + strconv.Itoa(r.maxLiteral) + " bytes")
		return ""
	}
	r.pos = start + n
	return r.s[start:r.pos]
}

// number reads a number (RFC 3501: 32 bits; 63 bits for sizes here).
func (r *argReader) number() int64 {
	start := r.pos
	for !r.eof() && r.s[r.pos] >= '0' && r.s[r.pos] <= '9' {
		r.pos++
	}
	n, err := strconv.ParseInt(r.s[start:r.pos], 10, 64)
	if err != nil {
		r.fail("expected a number")
	}
	return n
}

// date reads a date ("1-Feb-1994", quoted or not; RFC 3501 date).
func (r *argReader) date() time.Time {
	s := r.astring()
	if r.err != "" {
		return time.Time{}
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		r.fail("bad date " + strconv.Quote(s) + " (use d-Mon-yyyy)")
	}
	return t
}

// list reads a parenthesized list of space-separated items, calling item
// for each.
func (r *argReader) list(item func()) {
	if !r.expect('(') {
		return
	}
	if r.maybe(')') {
		return
	}
	for r.err == "" {
		item()
		if r.maybe(')') {
			return
		}
		if !r.sp() {
			return
		}
	}
}
