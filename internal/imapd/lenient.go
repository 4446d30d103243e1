package imapd

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
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
	return repairMailboxNames(repairAppendFlags(line))
}

// repairAppendFlags removes the spaces after the "(" of an APPEND flag
// list (appendFlagsSpace).
func repairAppendFlags(line []byte) []byte {
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

// mailboxArgs lists, per command, which arguments are mailbox names
// (0-based; UID COPY and UID MOVE count from after UID's subcommand).
// LIST is handled apart: its selection options come first.
var mailboxArgs = map[string][]int{
	"SELECT": {0}, "EXAMINE": {0}, "CREATE": {0}, "DELETE": {0}, "RENAME": {0, 1},
	"SUBSCRIBE": {0}, "UNSUBSCRIBE": {0}, "STATUS": {0}, "APPEND": {0},
	"COPY": {1}, "MOVE": {1}, "LSUB": {0, 1}, "LIST": nil,
}

// repairMailboxNames writes a bare "&" in the mailbox name arguments of a
// command as "&-" (escapeBareAmpersands). go-imap decodes every mailbox
// name as modified UTF-7 before the session sees it, and answers a name
// that is not valid modified UTF-7, such as "R&D", with NO [SERVERBUG];
// repaired, "R&D" names the folder "R&D" (which LIST shows as "R&-D").
// Names sent as literals are not repaired.
func repairMailboxNames(line []byte) []byte {
	if len(line) > 8192 || !bytes.Contains(line, []byte("&")) {
		return line
	}
	toks := splitCommandLine(line)
	if len(toks) < 3 {
		return line
	}
	cmd, args := strings.ToUpper(string(line[toks[1].start:toks[1].end])), toks[2:]
	if cmd == "UID" && len(args) > 0 {
		cmd, args = strings.ToUpper(string(line[args[0].start:args[0].end])), args[1:]
	}
	idx, ok := mailboxArgs[cmd]
	if !ok {
		return line
	}
	var names []argTok
	if cmd == "LIST" {
		if len(args) > 0 && args[0].list { // selection options
			args = args[1:]
		}
		if len(args) >= 2 {
			names = append(names, args[0])
			if l := args[1]; l.list && l.end-l.start >= 2 {
				for _, t := range splitCommandLine(line[l.start+1 : l.end-1]) {
					t.start, t.end = t.start+l.start+1, t.end+l.start+1
					names = append(names, t)
				}
			} else {
				names = append(names, args[1])
			}
		}
	} else {
		for _, i := range idx {
			if i < len(args) {
				names = append(names, args[i])
			}
		}
	}
	out, last := make([]byte, 0, len(line)+8), 0
	for _, t := range names {
		if t.list || t.literal {
			continue
		}
		s, e := t.start, t.end
		if t.quoted {
			if e-s < 2 || line[e-1] != '"' {
				continue // unterminated: go-imap rejects it anyway
			}
			s, e = s+1, e-1
		}
		out = append(out, line[last:s]...)
		out = append(out, escapeBareAmpersands(string(line[s:e]))...)
		last = e
	}
	return append(out, line[last:]...)
}

// argTok is a top-level token of a command line: an atom, a quoted string
// (with its quotes), a parenthesized list (with its parentheses) or a
// literal announcement, as byte offsets into the line.
type argTok struct {
	start, end            int
	quoted, list, literal bool
}

// splitCommandLine splits a command line (or the inside of a list) into
// its top-level tokens, up to the line end or a literal announcement.
func splitCommandLine(line []byte) []argTok {
	var toks []argTok
	i := 0
	for i < len(line) {
		switch c := line[i]; {
		case c == ' ':
			i++
		case c == '\r' || c == '\n':
			return toks
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			toks = append(toks, argTok{start: i, end: j, quoted: true})
			i = j
		case c == '(':
			depth, j, inQuote := 0, i, false
			for ; j < len(line); j++ {
				switch {
				case inQuote && line[j] == '\\':
					j++
				case line[j] == '"':
					inQuote = !inQuote
				case !inQuote && line[j] == '(':
					depth++
				case !inQuote && line[j] == ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			j = min(j+1, len(line))
			toks = append(toks, argTok{start: i, end: j, list: true})
			i = j
		case c == '{' || c == '~' && i+1 < len(line) && line[i+1] == '{':
			return append(toks, argTok{start: i, end: len(line), literal: true})
		default:
			j := i
			for j < len(line) && strings.IndexByte(" ()\r\n", line[j]) < 0 {
				j++
			}
			if j == i {
				j++ // a stray ")"
			}
			toks = append(toks, argTok{start: i, end: j})
			i = j
		}
	}
	return toks
}
