package imapd

import (
	"bufio"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/message"
)

// This file is tenantferry's FETCH response writer (RFC 3501 section 7.4.2,
// RFC 3516, RFC 7162), used by the FETCH served below go-imap
// (fetchcmd.go). Its rules:
//
//   - A string is quoted when it can be (at most 4096 bytes of 7-bit text
//     without NUL, CR or LF) and a literal otherwise; an empty nstring is
//     NIL.
//   - A partial BODY or BINARY response names its origin ("BODY[]<0>"),
//     without the length.
//   - BINARY content is a literal8 ("~{n}").
//   - ENVELOPE keeps an address's source route as its adl ("@route").

// envelopeDateLayout is the date format of ENVELOPE (RFC 5322).
const envelopeDateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// internalDateLayout is the date-time format of INTERNALDATE.
const internalDateLayout = "02-Jan-2006 15:04:05 -0700"

// respWriter writes IMAP response data to a buffered connection writer.
// Write errors are kept by the bufio.Writer and show at Flush.
type respWriter struct {
	*bufio.Writer
}

// connWriter writes below go-imap (filterConn.writeRaw).
type connWriter struct{ fc *filterConn }

func (w connWriter) Write(p []byte) (int, error) {
	if w.fc == nil {
		return len(p), nil
	}
	if err := w.fc.writeRaw(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// newRespWriter returns a response writer for the session's connection.
func (s *session) newRespWriter() *respWriter {
	return &respWriter{bufio.NewWriterSize(connWriter{s.fc}, 32<<10)}
}

// quotable reports whether s can be sent as a quoted string.
func quotable(s string) bool {
	if len(s) > 4096 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c == '\r' || c == '\n' || c >= 0x80 {
			return false
		}
	}
	return true
}

// str writes a string, quoted or as a literal.
func (w *respWriter) str(s string) {
	if !quotable(s) {
		w.WriteString("{" + strconv.Itoa(len(s)) + "}\r\n")
		w.WriteString(s)
		return
	}
	w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			w.WriteByte('\\')
		}
		w.WriteByte(s[i])
	}
	w.WriteByte('"')
}

// nstr writes a string, or NIL when it is empty.
func (w *respWriter) nstr(s string) {
	if s == "" {
		w.WriteString("NIL")
		return
	}
	w.str(s)
}

// literal writes a literal (or a literal8 with binary set) of n bytes read
// from r.
func (w *respWriter) literal(r io.Reader, n int64, binary bool) error {
	if binary {
		w.WriteByte('~')
	}
	w.WriteString("{" + strconv.FormatInt(n, 10) + "}\r\n")
	k, err := io.CopyN(w, r, n)
	if err != nil {
		// The announced size must be kept: pad what could not be read.
		for ; k < n; k++ {
			w.WriteByte(' ')
		}
	}
	return err
}

// flags writes a flag list.
func (w *respWriter) flags(flags []imap.Flag) { w.WriteString(flagList(flags)) }

// sectionPart writes a section's part number ("1.2"), nothing for none.
func (w *respWriter) sectionPart(part []int) {
	for i, n := range part {
		if i > 0 {
			w.WriteByte('.')
		}
		w.WriteString(strconv.Itoa(n))
	}
}

// bodySectionName writes the name of a body section in a response,
// "BODY[1.HEADER.FIELDS (From)]<0>" (the origin only when partial).
func (w *respWriter) bodySectionName(s *imap.FetchItemBodySection) {
	w.WriteString("BODY[")
	w.sectionPart(s.Part)
	if s.Specifier != imap.PartSpecifierNone {
		if len(s.Part) > 0 {
			w.WriteByte('.')
		}
		w.WriteString(string(s.Specifier))
		list := s.HeaderFields
		switch {
		case len(s.HeaderFields) > 0:
			w.WriteString(".FIELDS (")
		case len(s.HeaderFieldsNot) > 0:
			w.WriteString(".FIELDS.NOT (")
			list = s.HeaderFieldsNot
		}
		if len(list) > 0 {
			for i, f := range list {
				if i > 0 {
					w.WriteByte(' ')
				}
				w.str(f)
			}
			w.WriteByte(')')
		}
	}
	w.WriteByte(']')
	if s.Partial != nil {
		w.WriteString("<" + strconv.FormatInt(s.Partial.Offset, 10) + ">")
	}
}

// internalDate writes an INTERNALDATE value.
func (w *respWriter) internalDate(t time.Time) {
	w.WriteString(`"` + t.Format(internalDateLayout) + `"`)
}

// envelopeData is an ENVELOPE: go-imap's fields for the dates, subject and
// message ids, and the address lists as parsed here (with source routes
// and group markers).
type envelopeData struct {
	env   *imap.Envelope
	lists [6][]mailAddress // From, Sender, Reply-To, To, Cc, Bcc
}

// envelopeFields are the header fields of envelopeData.lists, in order.
var envelopeFields = [6]string{"From", "Sender", "Reply-To", "To", "Cc", "Bcc"}

// envelope writes an ENVELOPE. Sender and Reply-To default to From.
func (w *respWriter) envelope(e envelopeData) {
	env := e.env
	w.WriteByte('(')
	if env.Date.IsZero() {
		w.WriteString("NIL")
	} else {
		w.str(env.Date.Format(envelopeDateLayout))
	}
	w.WriteByte(' ')
	w.nstr(mime.QEncoding.Encode("utf-8", env.Subject))
	for i, l := range e.lists {
		if (i == 1 || i == 2) && len(l) == 0 {
			l = e.lists[0]
		}
		w.WriteByte(' ')
		w.addresses(l)
	}
	w.WriteByte(' ')
	if len(env.InReplyTo) > 0 {
		w.str("<" + strings.Join(env.InReplyTo, "> <") + ">")
	} else {
		w.WriteString("NIL")
	}
	w.WriteByte(' ')
	if env.MessageID != "" {
		w.str("<" + env.MessageID + ">")
	} else {
		w.WriteString("NIL")
	}
	w.WriteByte(')')
}

// addresses writes an address list: NIL when empty.
func (w *respWriter) addresses(l []mailAddress) {
	if len(l) == 0 {
		w.WriteString("NIL")
		return
	}
	w.WriteByte('(')
	for _, a := range l {
		w.WriteByte('(')
		w.nstr(mime.QEncoding.Encode("utf-8", a.Name))
		w.WriteByte(' ')
		w.nstr(a.Route)
		w.WriteByte(' ')
		w.nstr(a.Mailbox)
		w.WriteByte(' ')
		w.nstr(a.Host)
		w.WriteByte(')')
	}
	w.WriteByte(')')
}

// bodyStructure writes a BODY (extended false) or BODYSTRUCTURE.
// p is the part bs was built from (nil for a fallback structure): the
// ENVELOPE of an enclosed message is read from it, with its routes; r reads
// the stored message.
func (w *respWriter) bodyStructure(r io.ReaderAt, bs imap.BodyStructure, p *message.Part, extended bool) {
	w.WriteByte('(')
	switch bs := bs.(type) {
	case *imap.BodyStructureSinglePart:
		w.singlePart(r, bs, p, extended)
	case *imap.BodyStructureMultiPart:
		for i, c := range bs.Children {
			var cp *message.Part
			if p != nil && i < len(p.Parts) {
				cp = p.Parts[i]
			}
			w.bodyStructure(r, c, cp, extended)
		}
		w.WriteByte(' ')
		w.str(bs.Subtype)
		if extended && bs.Extended != nil {
			w.WriteByte(' ')
			w.params(bs.Extended.Params)
			w.extension(bs.Extended.Disposition, bs.Extended.Language, bs.Extended.Location)
		}
	}
	w.WriteByte(')')
}

// singlePart writes the fields of a non-multipart body.
func (w *respWriter) singlePart(r io.ReaderAt, bs *imap.BodyStructureSinglePart, p *message.Part, extended bool) {
	w.str(bs.Type)
	w.WriteByte(' ')
	w.str(bs.Subtype)
	w.WriteByte(' ')
	w.params(bs.Params)
	w.WriteByte(' ')
	w.nstr(bs.ID)
	w.WriteByte(' ')
	w.nstr(bs.Description)
	w.WriteByte(' ')
	if bs.Encoding == "" {
		w.str("7bit")
	} else {
		w.str(strings.ToLower(bs.Encoding))
	}
	w.WriteString(" " + strconv.FormatUint(uint64(bs.Size), 10))
	if m := bs.MessageRFC822; m != nil {
		w.WriteByte(' ')
		var mp *message.Part
		if p != nil && p.Message != nil {
			mp = p.Message
			w.envelope(buildEnvelope(r, mp))
		} else {
			w.envelope(envelopeFromIMAP(m.Envelope))
		}
		w.WriteByte(' ')
		w.bodyStructure(r, m.BodyStructure, mp, extended)
		w.WriteString(" " + strconv.FormatInt(m.NumLines, 10))
	} else if bs.Text != nil {
		w.WriteString(" " + strconv.FormatInt(bs.Text.NumLines, 10))
	}
	if extended && bs.Extended != nil {
		w.WriteString(" NIL") // MD5
		w.extension(bs.Extended.Disposition, bs.Extended.Language, bs.Extended.Location)
	}
}

// extension writes the disposition, language and location of an extended
// body structure, each after a space.
func (w *respWriter) extension(d *imap.BodyStructureDisposition, lang []string, loc string) {
	w.WriteByte(' ')
	if d == nil {
		w.WriteString("NIL")
	} else {
		w.WriteByte('(')
		w.str(d.Value)
		w.WriteByte(' ')
		w.params(d.Params)
		w.WriteByte(')')
	}
	w.WriteByte(' ')
	if len(lang) == 0 {
		w.WriteString("NIL")
	} else {
		w.WriteByte('(')
		for i, l := range lang {
			if i > 0 {
				w.WriteByte(' ')
			}
			w.str(l)
		}
		w.WriteByte(')')
	}
	w.WriteByte(' ')
	w.nstr(loc)
}

// params writes a parameter list sorted by name, NIL when empty.
func (w *respWriter) params(params map[string]string) {
	if len(params) == 0 {
		w.WriteString("NIL")
		return
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.WriteByte('(')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(' ')
		}
		w.str(k)
		w.WriteByte(' ')
		w.str(params[k])
	}
	w.WriteByte(')')
}

// envelopeFromIMAP is the envelopeData of a go-imap envelope (no routes).
func envelopeFromIMAP(env *imap.Envelope) envelopeData {
	if env == nil {
		env = &imap.Envelope{}
	}
	e := envelopeData{env: env}
	for i, l := range [6][]imap.Address{env.From, env.Sender, env.ReplyTo, env.To, env.Cc, env.Bcc} {
		for _, a := range l {
			e.lists[i] = append(e.lists[i], mailAddress{Name: a.Name, Mailbox: a.Mailbox, Host: a.Host})
		}
	}
	return e
}
