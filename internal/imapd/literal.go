package imapd

import (
	"bufio"
	"bytes"
	"io"
)

// LITERAL+ (RFC 7888) lets a client send a literal without waiting for
// the server's continuation request, and go-imap refuses one that is too
// large (over APPENDLIMIT for APPEND's message, over 4096 bytes in other
// commands) without reading its bytes, which the client sends anyway.
// filterConn keeps the stream in step:
//   - APPEND before login (go-imap refuses it): the announcement becomes a
//     synchronizing one, which go-imap refuses with NO [TOOBIG] before its
//     continuation request; filterConn skips the bytes and the rest of the
//     command. A logged-in session's APPEND does not reach go-imap
//     (appendcmd.go skips what it refuses itself, cmdStream.abandon).
//   - another command whose literal is on its first line: filterConn
//     skips it and answers NO [TOOBIG] itself; go-imap never sees it.
//   - a literal on a later line of another command, which go-imap is
//     already parsing: the connection ends with BYE (nothing can resync).

// maxBufferedLiteral is go-imap's limit for literals other than APPEND's
// message.
const maxBufferedLiteral = 4096

// literalLimit is the largest non-synchronizing literal go-imap accepts in
// the current command.
func (c *filterConn) literalLimit() int64 {
	if c.command == "APPEND" {
		return int64(c.srv.appendLimit())
	}
	return maxBufferedLiteral
}

// refuseLiteral handles a line ending with a non-synchronizing literal of
// n bytes that go-imap will refuse (first: the line starts the command).
// It returns the line go-imap gets instead, or nil when the command was
// answered here.
func (c *filterConn) refuseLiteral(line []byte, n int64, first bool) ([]byte, error) {
	body := bytes.TrimRight(line, "\r\n")
	switch {
	case c.command == "APPEND":
		q := append(append([]byte(nil), body[:len(body)-2]...), '}')
		c.refused = n
		return append(q, line[len(body):]...), nil
	case first:
		tag, _, _ := commandStart(line)
		c.refused = n
		if err := c.skipRefused(); err != nil {
			return nil, err
		}
		return nil, c.reply(tag + " NO [TOOBIG] literals in this command are limited to 4096 bytes")
	default:
		c.reply("* BYE [TOOBIG] literals in this command are limited to 4096 bytes")
		c.Conn.Close()
		return nil, io.EOF
	}
}

// skipRefused skips the bytes of a refused literal and the rest of its
// command: to the end of the line, and through any further
// non-synchronizing literals (a synchronizing one the client does not
// send after the refusal).
func (c *filterConn) skipRefused() error {
	for c.refused >= 0 {
		if _, err := io.CopyN(io.Discard, c.br, c.refused); err != nil {
			return err
		}
		c.refused = -1
		var tail []byte
		for {
			chunk, err := c.br.ReadSlice('\n')
			tail = append(tail[:0], chunk[max(0, len(chunk)-32):]...)
			if err == nil {
				break
			}
			if err != bufio.ErrBufferFull {
				return err
			}
		}
		if n, ok := announcedLiteral(tail); ok && bytes.HasSuffix(bytes.TrimRight(tail, "\r\n"), []byte("+}")) {
			c.refused = n
		}
	}
	c.midLine = false
	return nil
}
