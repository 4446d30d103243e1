package imapd

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// CATENATE (RFC 4469) builds a message of APPEND from parts:
//
//	CATENATE (TEXT {n} URL "/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1.2" ...)
//
// A TEXT part is a literal (or literal8), streamed like a whole message's.
// A URL part (RFC 5092) names a message, or a section of it (the sections
// of FETCH BODY[]: parts, HEADER, HEADER.FIELDS[.NOT], TEXT, MIME), with an
// optional ;PARTIAL=offset[.length] (URL-PARTIAL, RFC 5550), of a folder
// the session can read: its own mailbox's or a mount's (archive, shared),
// exactly what SELECT reaches. The URL is relative ("/mailbox/;UID=n",
// or ";UID=n" for the selected folder) or absolute with the session's own
// login ("imap://user@host/mailbox/;UID=n"; the host is not checked, the
// user is); anything else — another user's mailbox, a missing message, a
// wrong UIDVALIDITY, URLAUTH — is NO [BADURL url], which RFC 4469 asks for
// before the rest of the command is read. A section streams from the blob
// store through the message's part tree (fetchparts.go), so the new
// message's bytes are exactly the referenced bytes. The whole message
// counts against APPENDLIMIT (NO [TOOBIG]).

// appendCaps are the capabilities of APPEND below go-imap.
const appendCaps = " MULTIAPPEND CATENATE URL-PARTIAL"

// appendCatenate streams a CATENATE message (after "CATENATE ") into the
// batch.
func (s *session) appendCatenate(p *cmdStream, t *appendTarget, flags []string, date time.Time) error {
	if err := p.expect("(", "( after CATENATE"); err != nil {
		return err
	}
	cr := &catReader{s: s, p: p, t: t, limit: int64(s.srv.appendLimit())}
	defer cr.closePart()
	err := t.add(cr, flags, date)
	if cr.err != nil {
		return cr.err
	}
	return err
}

// catReader reads a CATENATE list part by part as the store reads the
// message: the next part is parsed (and its literal accepted, or its URL
// opened) only when the previous one is used up.
type catReader struct {
	s     *session
	p     *cmdStream
	t     *appendTarget
	limit int64 // APPENDLIMIT
	total int64 // bytes of the parts so far
	parts int
	done  bool // the list's ")" was read
	cur   io.Reader
	lit   *literalReader
	blob  *blobstore.Blob
	err   error // why the message failed: BADURL, TOOBIG, syntax, a connError
}

// Read implements io.Reader.
func (r *catReader) Read(b []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(b)
			if err == io.EOF {
				r.closePart()
				err = nil
				if n == 0 {
					continue
				}
			}
			if err != nil {
				if r.lit != nil && r.lit.err != nil {
					err = r.lit.err
				}
				r.err = err
			}
			return n, err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.nextPart(); err != nil {
			r.err = err
			return 0, err
		}
	}
}

// closePart releases the current part.
func (r *catReader) closePart() {
	if r.blob != nil {
		r.blob.Close()
		r.blob = nil
	}
	r.cur, r.lit = nil, nil
}

// nextPart reads the next part of the list, or its end.
func (r *catReader) nextPart() error {
	p := r.p
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == ')' {
		p.next()
		r.done = true
		if r.parts == 0 {
			return syntaxError("empty CATENATE list")
		}
		return nil
	}
	if r.parts > 0 {
		if err := p.sp(); err != nil {
			return err
		}
	}
	r.parts++
	kind, err := p.atom("TEXT or URL")
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	switch strings.ToUpper(kind) {
	case "TEXT":
		if b, _ := p.peek(); b != '{' && b != '~' {
			return syntaxError("TEXT takes a literal")
		}
		n, nonSync, _, err := p.literalHeader()
		if err != nil {
			return err
		}
		if r.total+n > r.limit {
			p.refuse(n, nonSync)
			return r.tooBig(r.total + n)
		}
		if err := p.accept(n, nonSync); err != nil {
			return connError{err}
		}
		r.total += n
		r.lit = &literalReader{p: p}
		r.cur = r.lit
		return nil
	case "URL":
		u, err := p.astring(maxURLArg, "the URL")
		if err != nil {
			return err
		}
		return r.openURL(u)
	}
	return syntaxError("a CATENATE part is TEXT or URL, not " + kind)
}

// openURL makes the part a URL refers to the current one.
func (r *catReader) openURL(u string) error {
	ref, err := r.s.parseIMAPURL(u)
	if err != nil {
		return badURL(u, err.Error())
	}
	f, mb, err := r.s.urlFolder(ref)
	if err != nil {
		return badURL(u, err.Error())
	}
	if ref.uidValidity != 0 && ref.uidValidity != f.UIDValidity {
		return badURL(u, fmt.Sprintf("the UIDVALIDITY of %q is %d, not %d", ref.mailbox, f.UIDValidity, ref.uidValidity))
	}
	bl, err := r.s.srv.store.OpenUID(r.s.ctx, mb.ID, f.ID, ref.uid)
	if err != nil {
		return badURL(u, fmt.Sprintf("no message with UID %d", ref.uid))
	}
	var spans []span
	if wholeMessage(&ref.section) {
		spans = rangeSpans(0, bl.Size())
	} else {
		root, err := r.s.srv.store.Parts(r.s.ctx, bl)
		if err != nil {
			bl.Close()
			return r.s.imapError(err)
		}
		spans = sectionSpans(root, &ref.section)
	}
	spans = cutSpans(spans, ref.section.Partial)
	if size := spansSize(spans); r.total+size > r.limit {
		bl.Close()
		return r.tooBig(r.total + size)
	}
	r.total += spansSize(spans)
	r.blob, r.cur = bl, spansReader(bl, spans)
	return nil
}

// tooBig refuses a catenated message over APPENDLIMIT.
func (r *catReader) tooBig(size int64) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
		Text: fmt.Sprintf("the catenated message has at least %d bytes; APPENDLIMIT is %d", size, r.limit)}
}

// badURL is the NO [BADURL url] of a URL that does not name a message
// part the session can read.
func badURL(u, why string) error {
	// url-resp-text (RFC 4469): no "]", no controls.
	code := strings.Map(func(c rune) rune {
		if c == ']' || c < 0x20 || c == 0x7f {
			return '?'
		}
		return c
	}, u)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("BADURL " + code),
		Text: responseText(why)}
}

// imapURL is a parsed IMAP URL of a message or message part (RFC 5092).
type imapURL struct {
	selected    bool   // ";UID=n": the selected folder
	mailbox     string // decoded (UTF-8)
	uidValidity uint32 // 0: not given
	uid         uint32
	section     imap.FetchItemBodySection
}

// parseIMAPURL parses an IMAP URL naming a message of the session's user.
func (s *session) parseIMAPURL(u string) (*imapURL, error) {
	ref := &imapURL{section: imap.FetchItemBodySection{}}
	path := u
	if len(u) >= 7 && strings.EqualFold(u[:7], "imap://") {
		rest := u[7:]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return nil, fmt.Errorf("the URL names no message")
		}
		auth, _, ok := strings.Cut(rest[:slash], "@")
		if !ok {
			return nil, fmt.Errorf("an anonymous URL names no message of %s", s.user)
		}
		user, _, _ := strings.Cut(auth, ";")
		if user, err := url.PathUnescape(user); err != nil || !strings.EqualFold(user, s.user) {
			return nil, fmt.Errorf("the URL is not of the logged-in user %s", s.user)
		}
		path = rest[slash:]
	}
	var segs string
	switch {
	case strings.HasPrefix(path, ";"):
		ref.selected, segs = true, path
	case strings.HasPrefix(path, "/"):
		i := indexFold(path, "/;UID=")
		if i < 0 {
			return nil, fmt.Errorf("the URL names no message (;UID=)")
		}
		box := ""
		if i > 0 {
			box = path[1:i]
		}
		if j := indexFold(box, ";UIDVALIDITY="); j >= 0 {
			v, err := strconv.ParseUint(box[j+len(";UIDVALIDITY="):], 10, 32)
			if err != nil || v == 0 {
				return nil, fmt.Errorf("invalid UIDVALIDITY")
			}
			ref.uidValidity, box = uint32(v), box[:j]
		}
		name, err := url.PathUnescape(box)
		if err != nil {
			return nil, fmt.Errorf("invalid mailbox name encoding")
		}
		ref.mailbox, ref.selected, segs = name, name == "", path[i+1:]
	default:
		return nil, fmt.Errorf("not an IMAP URL of a message")
	}
	return ref, ref.parseSegments(segs)
}

// parseSegments parses ";UID=n[/;SECTION=s][/;PARTIAL=o[.l]]".
func (ref *imapURL) parseSegments(segs string) error {
	for i, seg := range strings.Split(segs, "/") {
		key, val, ok := strings.Cut(seg, "=")
		if !ok || !strings.HasPrefix(key, ";") {
			return fmt.Errorf("invalid URL segment %q", seg)
		}
		switch key = strings.ToUpper(key[1:]); {
		case key == "UID" && i == 0:
			uid, err := strconv.ParseUint(val, 10, 32)
			if err != nil || uid == 0 {
				return fmt.Errorf("invalid UID %q", val)
			}
			ref.uid = uint32(uid)
		case key == "SECTION" && i == 1 && ref.section.Partial == nil:
			sec, err := url.PathUnescape(val)
			if err != nil {
				return fmt.Errorf("invalid section encoding")
			}
			if err := parseSectionSpec(sec, &ref.section); err != nil {
				return err
			}
		case key == "PARTIAL" && i > 0 && ref.section.Partial == nil:
			off, length, hasLen := strings.Cut(val, ".")
			o, err := strconv.ParseInt(off, 10, 64)
			l := int64(-1)
			if err == nil && hasLen {
				l, err = strconv.ParseInt(length, 10, 64)
				if err == nil && l <= 0 {
					err = fmt.Errorf("zero length")
				}
			}
			if err != nil || o < 0 {
				return fmt.Errorf("invalid PARTIAL %q", val)
			}
			ref.section.Partial = &imap.SectionPartial{Offset: o, Size: l}
		default:
			return fmt.Errorf("unsupported URL segment %q", seg)
		}
	}
	if ref.uid == 0 {
		return fmt.Errorf("the URL names no message (;UID=)")
	}
	return nil
}

// parseSectionSpec parses a FETCH section ("1.2", "HEADER.FIELDS (A B)",
// "1.MIME", "TEXT") into sec.
func parseSectionSpec(spec string, sec *imap.FetchItemBodySection) error {
	bad := fmt.Errorf("invalid section %q", spec)
	rest := spec
	for rest != "" && rest[0] >= '0' && rest[0] <= '9' {
		num, after, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || len(sec.Part) == 100 {
			return bad
		}
		sec.Part = append(sec.Part, n)
		rest = after
	}
	name, list, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(name) {
	case "":
		if strings.HasSuffix(spec, ".") {
			return bad
		}
	case "HEADER":
		sec.Specifier = imap.PartSpecifierHeader
	case "TEXT":
		sec.Specifier = imap.PartSpecifierText
	case "MIME":
		if len(sec.Part) == 0 {
			return bad
		}
		sec.Specifier = imap.PartSpecifierMIME
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		sec.Specifier = imap.PartSpecifierHeader
		if !strings.HasPrefix(list, "(") || !strings.HasSuffix(list, ")") {
			return bad
		}
		var fields []string
		for _, f := range strings.Fields(list[1 : len(list)-1]) {
			fields = append(fields, strings.Trim(f, `"`))
		}
		if len(fields) == 0 {
			return bad
		}
		if strings.HasSuffix(strings.ToUpper(name), ".NOT") {
			sec.HeaderFieldsNot = fields
		} else {
			sec.HeaderFields = fields
		}
		return nil
	default:
		return bad
	}
	if list != "" {
		return bad
	}
	return nil
}

// urlFolder returns the folder a URL refers to: one the session reaches by
// name (its own mailbox's or a mount's), or the selected one.
func (s *session) urlFolder(ref *imapURL) (*mailstore.Folder, *mailstore.Mailbox, error) {
	if ref.selected {
		if s.sel == nil {
			return nil, nil, fmt.Errorf("a URL without a mailbox needs a selected folder")
		}
		return &s.sel.folder, s.sel.mb, nil
	}
	name := ref.mailbox
	if strings.EqualFold(name, "INBOX") {
		name = "INBOX"
	}
	f, mb, err := s.folderByName(name)
	if err != nil {
		return nil, nil, fmt.Errorf("no folder %q of %s", ref.mailbox, s.user)
	}
	return f, mb, nil
}

// indexFold is strings.Index ignoring ASCII case (sub is upper-case
// ASCII).
func indexFold(s, sub string) int {
	up := []byte(s)
	for i, c := range up {
		if c >= 'a' && c <= 'z' {
			up[i] = c - 'a' + 'A'
		}
	}
	return strings.Index(string(up), sub)
}
