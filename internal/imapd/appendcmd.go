package imapd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// APPEND of a logged-in session is answered below go-imap (filterConn,
// intercept.go), so that it can take more than imapserver's one message:
//
//   - MULTIAPPEND (RFC 3502): any number of messages, each with its own
//     flags and internal date, appended in one transaction (one
//     mailstore.AppendBatch): all or none. APPENDUID (RFC 4315) gives the
//     UID set.
//   - CATENATE (RFC 4469): a message built from TEXT literals and IMAP URLs
//     of messages or sections the user can read (catenate.go).
//   - literal8 (RFC 3516, "~{n}"): binary content, stored unchanged. A NUL
//     in an ordinary literal is stored unchanged too (as Dovecot does):
//     clients without literal8 (go-imap's, Python's imaplib, Dovecot's
//     imapc) send such messages that way, and the content is the user's.
//   - Literals stream: a message's bytes go to the blob store as they
//     arrive, whatever their size; a synchronizing literal gets its
//     continuation request only once the mailbox exists, the size is within
//     APPENDLIMIT (else NO [TOOBIG]) and the quota has room (else NO
//     [OVERQUOTA]); a non-synchronizing one (LITERAL+) that is refused is
//     read and dropped. A refused command stores nothing.
//
// The store calls are those of Session.Append (appendTarget), which
// go-imap calls for an APPEND before login (it refuses it).

// maxMultiAppend bounds the messages of one APPEND.
const maxMultiAppend = 10000

// Limits of the small string arguments of APPEND.
const (
	maxMailboxArg = 4096
	maxURLArg     = 8192
)

// appendTarget is the destination of one APPEND: the folder, its mailbox
// and the batch the messages stream into, committed together.
type appendTarget struct {
	s     *session
	f     *mailstore.Folder
	mb    *mailstore.Mailbox
	batch *mailstore.AppendBatch
}

// openAppend resolves an APPEND's destination (NO [TRYCREATE] when it does
// not exist) and starts its batch; close it in any case.
func (s *session) openAppend(name string) (*appendTarget, error) {
	f, mb, err := s.destFolder(name)
	if err != nil {
		return nil, s.imapError(err)
	}
	return &appendTarget{s: s, f: f, mb: mb, batch: s.srv.store.NewAppendBatch(mb.ID)}, nil
}

// close abandons what was not committed.
func (t *appendTarget) close() { t.batch.Close() }

// admit refuses a message of size bytes before it is sent: over
// APPENDLIMIT NO [TOOBIG], over the quota (with the messages before it)
// NO [OVERQUOTA].
func (t *appendTarget) admit(size int64) error {
	if limit := int64(t.s.srv.appendLimit()); size > limit {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
			Text: fmt.Sprintf("the message has %d bytes; APPENDLIMIT is %d", size, limit)}
	}
	return t.s.checkQuota(t.mb, t.batch.Bytes()+size)
}

// add streams one message into the batch.
func (t *appendTarget) add(content io.Reader, flags []string, date time.Time) error {
	err := t.batch.Add(t.s.ctx, mailstore.AppendItem{FolderID: t.f.ID, Content: content, Flags: flags, InternalDate: date})
	return t.s.imapError(err)
}

// commit checks the quota for all messages and commits them in one
// transaction; it returns once the session's process sees them.
func (t *appendTarget) commit() ([]mailstore.Appended, error) {
	if err := t.s.checkQuota(t.mb, t.batch.Bytes()); err != nil {
		return nil, err
	}
	out, err := t.batch.Commit(t.s.ctx, nil)
	if err != nil {
		return nil, t.s.imapError(err)
	}
	last := out[len(out)-1].ModSeq
	t.s.srv.watchers.await(t.mb.ID, func() (int64, error) { return last, nil })
	return out, nil
}

// appendCommand answers an APPEND whose first line, after "tag APPEND", is
// rest. It writes the responses; an error ends the connection.
func (s *session) appendCommand(c *filterConn, tag string, rest []byte) error {
	p := newCmdStream(c, rest)
	status, err := s.runAppend(p)
	if err != nil {
		if cerr, ok := isConnError(err); ok {
			return cerr
		}
		if err := p.abandon(); err != nil {
			return err
		}
		if _, ok := err.(syntaxError); ok {
			return c.reply(tag + " BAD [CLIENTBUG] APPEND: " + responseText(err.Error()))
		}
		return c.reply(tag + " " + statusLine(s.imapError(err)))
	}
	c.Conn.SetReadDeadline(time.Now().Add(idleReadTimeout))
	if s.sel != nil {
		if err := s.sendUpdates(true); err != nil {
			return err
		}
	}
	return c.reply(tag + " " + status)
}

// runAppend reads and performs an APPEND: mailbox, then one or more
// messages. It returns the OK status, or the error to answer (or a
// connError).
func (s *session) runAppend(p *cmdStream) (string, error) {
	if err := p.sp(); err != nil {
		return "", err
	}
	name, err := p.astring(maxMailboxArg, "the mailbox name")
	if err != nil {
		return "", err
	}
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	} else {
		name = decodeMUTF7(name)
	}
	t, err := s.openAppend(name)
	if err != nil {
		return "", err
	}
	defer t.close()
	for n := 0; ; n++ {
		if n > 0 {
			if end, err := p.atEnd(); err != nil {
				return "", err
			} else if end {
				break
			}
		}
		if err := p.sp(); err != nil {
			return "", err
		}
		if n == maxMultiAppend {
			return "", &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit,
				Text: fmt.Sprintf("at most %d messages in one APPEND", maxMultiAppend)}
		}
		if err := s.appendMessage(p, t); err != nil {
			return "", err
		}
	}
	if err := p.crlf(); err != nil {
		return "", err
	}
	out, err := t.commit()
	if err != nil {
		return "", err
	}
	uids := make([]uint32, len(out))
	for i, a := range out {
		uids[i] = a.UID
	}
	return fmt.Sprintf("OK [APPENDUID %d %s] APPEND completed", out[0].UIDValidity, orderedSet(uids)), nil
}

// appendMessage reads one message of an APPEND (flags, internal date,
// then a literal, a literal8, CATENATE or UTF8) and streams it into the
// batch.
func (s *session) appendMessage(p *cmdStream, t *appendTarget) error {
	var flags []string
	var date time.Time
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '(' {
		if flags, err = p.flagList(); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	if b, _ = p.peek(); b == '"' {
		if date, err = p.dateTime(); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	if _, err := mailstore.NormalizeFlags(flags); err != nil {
		return s.imapError(err)
	}
	if b, _ = p.peek(); b == '{' || b == '~' {
		return s.appendLiteral(p, t, flags, date)
	}
	ext, err := p.atom("a literal, CATENATE or UTF8")
	if err != nil {
		return err
	}
	switch strings.ToUpper(ext) {
	case "CATENATE":
		if err := p.sp(); err != nil {
			return err
		}
		return s.appendCatenate(p, t, flags, date)
	case "UTF8": // RFC 6855: "UTF8 (" literal8 ")"
		if err := p.expect(" (", "a space and ("); err != nil {
			return err
		}
		if b, _ = p.peek(); b != '~' {
			return syntaxError("UTF8 takes a literal8")
		}
		if err := s.appendLiteral(p, t, flags, date); err != nil {
			return err
		}
		return p.expect(")", ")")
	}
	return syntaxError("unknown APPEND data extension " + ext)
}

// appendLiteral streams a message sent as a literal or literal8.
func (s *session) appendLiteral(p *cmdStream, t *appendTarget, flags []string, date time.Time) error {
	n, nonSync, _, err := p.literalHeader() // literal8 content is stored like a literal's
	if err != nil {
		return err
	}
	if err := t.admit(n); err != nil {
		p.refuse(n, nonSync)
		return err
	}
	if err := p.accept(n, nonSync); err != nil {
		return connError{err}
	}
	lr := &literalReader{p: p}
	err = t.add(lr, flags, date)
	if lr.err != nil {
		return lr.err
	}
	return err
}

// literalReader streams an accepted literal (or literal8) unchanged.
type literalReader struct {
	p   *cmdStream
	err error // why reading stopped early: a connError
}

// Read implements io.Reader.
func (r *literalReader) Read(b []byte) (int, error) {
	n, err := r.p.readLiteral(b)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
