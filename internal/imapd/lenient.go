package imapd

import (
	"bytes"
	"regexp"
	"strconv"
)

// Command-line leniency for known client bugs, applied by filterConn to
// whole command lines before go-imap parses them. Literal data is never
// touched: filterConn tracks announced literals and passes their bytes
// through unchanged.

// appendFlagsSpace matches an APPEND whose flag list starts with spaces,
// as Dovecot's imapc storage writes it for a message that has keywords but
// no system flags ("APPEND "box" ( $Label1 NonJunk) ..."; imapc-save.c
// appends a space before every keyword once the buffer holds " ("). RFC
// 9051's flag-list has no such space and go-imap answers BAD. Group 1 is
// everything up to the "(".
var appendFlagsSpace = regexp.MustCompile(`(?i)^([^ ]+ APPEND (?:"(?:[^"\\\r\n]|\\.)*"|[^ "(){\r\n]+) \() +`)

// lenientLine returns line with known client syntax bugs repaired, or
// line itself. line is one whole command line (or the part of it before a
// literal), with its CRLF.
func lenientLine(line []byte) []byte {
	if len(line) > 1024 || !bytes.Contains(line, []byte("( ")) {
		return line
	}
	m := appendFlagsSpace.FindSubmatchIndex(line)
	if m == nil {
		return line
	}
	out := make([]byte, 0, len(line))
	out = append(out, line[:m[3]]...)
	return append(out, line[m[1]:]...)
}

// literalRE matches the announcement a line ends with when a literal
// follows: {n}, {n+} (LITERAL+/-) or ~{n} (BINARY), then CRLF or LF.
var literalRE = regexp.MustCompile(`\{(\d{1,19})\+?\}\r?\n$`)

// announcedLiteral returns the size of the literal announced at the end of
// a line, given the line's last bytes (at least 24 of them when the line
// is longer).
func announcedLiteral(tail []byte) (int64, bool) {
	m := literalRE.FindSubmatch(tail)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	return n, err == nil
}
