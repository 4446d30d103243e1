package imapd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// Commands answered by filterConn itself, below go-imap, because go-imap's
// imapserver does not know them or would end the connection:
//
//   - ID (RFC 2971), in every state: the server's identification.
//   - Once logged in, APPEND (appendcmd.go), read from the connection as
//     it arrives rather than through readCommand, and the session's
//     extension commands (extcmd.go): SORT
//     and UID SORT with ESORT (sort.go), THREAD and UID THREAD
//     (thread.go), and GETQUOTAROOT, GETQUOTA and SETQUOTA (RFC 9208)
//     when quotas are enabled (quota.go).
//   - An unknown command before authentication: BAD, where imapserver says
//     BYE and disconnects at the first one. A client that sends
//     maxBadCommands invalid commands in a row before authenticating is
//     still disconnected, which keeps cross-protocol garbage (an HTTP
//     request sent to the IMAP port) from going on.
//   - A line that does not start with a tag and a command name: BAD, where
//     imapserver closes the connection without a word.
//
// filterConn reads command lines one at a time and go-imap reads the next
// one only after it has written the response to the previous, so the
// replies written here never interleave with go-imap's.

// maxBadCommands is the number of invalid commands in a row that ends an
// unauthenticated connection (Dovecot's imap-login allows as many).
const maxBadCommands = 3

// maxInterceptedCommand bounds the bytes of a command answered here (an ID
// has at most 30 fields of 1024 bytes, RFC 2971 section 3.3).
const maxInterceptedCommand = 64 << 10

// serverID is the ID response's field list.
const serverID = `("name" "tenantferry")`

// goIMAPCommands are the command names imapserver handles (UID takes one
// of goIMAPUIDCommands after it).
var (
	goIMAPCommands = map[string]bool{
		"NOOP": true, "CHECK": true, "LOGOUT": true, "CAPABILITY": true, "STARTTLS": true, "AUTHENTICATE": true,
		"UNAUTHENTICATE": true, "LOGIN": true, "ENABLE": true, "CREATE": true, "DELETE": true, "RENAME": true,
		"SUBSCRIBE": true, "UNSUBSCRIBE": true, "STATUS": true, "LIST": true, "LSUB": true, "NAMESPACE": true,
		"IDLE": true, "SELECT": true, "EXAMINE": true, "CLOSE": true, "UNSELECT": true, "APPEND": true,
		"FETCH": true, "EXPUNGE": true, "STORE": true, "COPY": true, "MOVE": true, "SEARCH": true, "UID": true,
	}
	goIMAPUIDCommands = map[string]bool{"FETCH": true, "EXPUNGE": true, "STORE": true, "COPY": true, "MOVE": true, "SEARCH": true}
)

// commandStart parses the tag and the command name (upper-cased; "UID X"
// for UID commands) at the start of a command line. ok is false when the
// line does not start with a tag and a command name.
func commandStart(line []byte) (tag, name string, ok bool) {
	i := 0
	for i < len(line) && isTagChar(line[i]) {
		i++
	}
	if i == 0 || i == len(line) || line[i] != ' ' {
		return "", "", false
	}
	tag = string(line[:i])
	word := func(j int) (string, int) {
		k := j
		for k < len(line) && isAtomChar(line[k]) {
			k++
		}
		return strings.ToUpper(string(line[j:k])), k
	}
	name, j := word(i + 1)
	if name == "" {
		return "", "", false
	}
	if name == "UID" && j < len(line) && line[j] == ' ' {
		if sub, _ := word(j + 1); sub != "" {
			name += " " + sub
		}
	}
	return tag, name, true
}

// isAtomChar reports whether c is an ATOM-CHAR (RFC 3501 section 9).
func isAtomChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`(){%*"\]`, c) < 0
}

// isTagChar reports whether c may be part of a tag: an ASTRING-CHAR but
// "+".
func isTagChar(c byte) bool {
	return (isAtomChar(c) || c == ']') && c != '+'
}

// knownToGoIMAP reports whether imapserver handles a command name.
func knownToGoIMAP(name string) bool {
	if sub, ok := strings.CutPrefix(name, "UID "); ok {
		return goIMAPUIDCommands[sub]
	}
	return goIMAPCommands[name]
}

// takeCommand looks at the first bytes of a command line (line, complete
// when full) and answers the command itself when go-imap should not see
// it. handled tells the caller to read the next line instead; a non-nil
// error ends the connection.
func (c *filterConn) takeCommand(line []byte, full bool) (handled bool, err error) {
	tag, name, ok := commandStart(line)
	switch {
	case !ok:
		if full && len(bytes.TrimSpace(line)) == 0 {
			return true, nil // an empty line: ignored, like Dovecot does
		}
		return true, c.refuse(line, full, "*", "BAD [CLIENTBUG] a command starts with a tag and a command name")
	case name == "ID":
		cmd, err := c.readCommand(line, full, true)
		if err != nil {
			return true, err
		}
		args := strings.TrimSpace(string(cmd[len(tag)+3:]))
		if !strings.HasPrefix(args, "(") && !strings.EqualFold(args, "NIL") {
			return true, c.reply(tag + " BAD [CLIENTBUG] ID takes NIL or a parenthesized list of field/value pairs")
		}
		c.bad = 0
		c.srv.log.Debug("imap: client ID", "remote", c.RemoteAddr().String(), "id", responseText(args))
		return true, c.reply("* ID "+serverID, tag+" OK ID completed")
	case name == "APPEND" && c.ext.Load() != nil:
		c.bad = 0
		return true, c.ext.Load().appendCmd(c, tag, line[len(tag)+1+len(name):])
	case c.extHandler(name) != nil:
		cmd, err := c.readCommand(line, full, true)
		if err != nil {
			return true, err
		}
		c.bad = 0
		return true, c.reply(c.extHandler(name)(tag, name, string(cmd[len(tag)+1+len(name):]))...)
	case !c.authed.Load() && !knownToGoIMAP(name):
		return true, c.refuse(line, full, tag, "BAD [CLIENTBUG] unknown command "+responseText(name))
	case name == "CAPABILITY" || name == "LOGIN":
		c.armCaps(tag)
	case name == "AUTHENTICATE":
		c.armCaps(tag)
		c.rawUntil.Store(&tag)
	case name == "IDLE":
		c.rawUntil.Store(&tag)
	}
	c.bad = 0
	c.command = name
	return false, nil
}

// extHandler returns the logged-in session's handler of a command go-imap
// does not know, or nil.
func (c *filterConn) extHandler(name string) extCommand {
	if e := c.ext.Load(); e != nil {
		return e.handlers[name]
	}
	return nil
}

// refuse answers an invalid command with BAD after reading the rest of it
// (without inviting its literals), and ends an unauthenticated connection
// at the maxBadCommands-th one in a row.
func (c *filterConn) refuse(line []byte, full bool, tag, text string) error {
	if _, err := c.readCommand(line, full, false); err != nil {
		return err
	}
	if !c.authed.Load() {
		if c.bad++; c.bad >= maxBadCommands {
			c.reply(tag+" "+text, "* BYE too many invalid commands")
			c.Conn.Close()
			return io.EOF
		}
	}
	return c.reply(tag + " " + text)
}

// readCommand reads the rest of a command whose first bytes are line
// (complete when full), literals included, and returns all of it. With
// invite set, a synchronizing literal gets its continuation request;
// without, reading stops at one (the client must not send it without the
// request). A command over maxInterceptedCommand ends the connection.
func (c *filterConn) readCommand(line []byte, full, invite bool) ([]byte, error) {
	cmd := append([]byte(nil), line...)
	for {
		for !full {
			more, err := c.br.ReadSlice('\n')
			cmd = append(cmd, more...)
			if err != nil && err != bufio.ErrBufferFull {
				return nil, err
			}
			full = err == nil
			if len(cmd) > maxInterceptedCommand {
				return nil, c.tooLong()
			}
		}
		n, ok := announcedLiteral(cmd[max(0, len(cmd)-32):])
		if !ok {
			return cmd, nil
		}
		sync := !bytes.HasSuffix(bytes.TrimRight(cmd, "\r\n"), []byte("+}"))
		if sync && !invite {
			return cmd, nil
		}
		if n > int64(maxInterceptedCommand-len(cmd)) {
			return nil, c.tooLong()
		}
		if sync {
			if err := c.reply("+ Ready for literal data"); err != nil {
				return nil, err
			}
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(c.br, lit); err != nil {
			return nil, err
		}
		cmd = append(cmd, lit...)
		full = false
	}
}

// tooLong ends the connection over a command too long to answer.
func (c *filterConn) tooLong() error {
	c.reply("* BYE [TOOBIG] command line too long")
	c.Conn.Close()
	return io.EOF
}

// reply writes response lines.
func (c *filterConn) reply(lines ...string) error {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s\r\n", l)
	}
	return c.writeRaw([]byte(b.String()))
}
