package imapd

// The byte-slice MIME parser that FETCH and SEARCH used before
// internal/message (issue 8 item 4), kept as the tests' oracle: the part
// tree must give the same parts, ranges, ENVELOPE and BODYSTRUCTURE on
// every corpus message and on fuzzed input (parts_test.go).

import (
	"bytes"
	"encoding/base64"
	"io"
	"math"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Limits that bound the work spent on pathological messages. Beyond them
// the remaining content is treated as an opaque leaf; nothing fails.
const (
	maxDepth    = 32   // nesting of multiparts and enclosed messages
	maxEntities = 4096 // entities parsed per message
)

// field is one header field as it appears in the raw message.
type field struct {
	name  string // as written
	raw   []byte // the whole field: its lines with their terminators
	value string // unfolded value (terminators removed), trimmed
}

// entity is a node of a message's MIME tree, described by byte offsets into
// the raw message, so that every section served is a slice of the stored
// bytes (RFC 9051 section 6.4.5).
type entity struct {
	start     int // first byte of the header
	hdrEnd    int // end of the last header line (raw[hdrEnd:bodyStart] is the blank line)
	bodyStart int // first byte of the body
	end       int // end of the body (exclusive)
	fields    []field
	typ, sub  string            // lower-case media type, never empty
	params    map[string]string // Content-Type parameters (lower-case names)
	children  []*entity         // parts of a multipart entity
	msg       *entity           // the enclosed message of a message/rfc822 entity
}

// multipart reports whether e has parts.
func (e *entity) multipart() bool { return e.typ == "multipart" }

// get returns the value of the first field named name, or "".
func (e *entity) get(name string) string {
	for i := range e.fields {
		if strings.EqualFold(e.fields[i].name, name) {
			return e.fields[i].value
		}
	}
	return ""
}

// parser holds the state of parsing one message.
type parser struct {
	raw      []byte
	entities int
}

// parseMessage parses raw into its MIME tree. It never fails and accepts
// any bytes: CRLF, LF and CR-only line endings, missing blank lines, broken
// or missing boundaries, garbage header lines.
func parseMessage(raw []byte) *entity {
	p := &parser{raw: raw}
	return p.entity(0, len(raw), 0, false)
}

// entity parses the entity in raw[start:end].
func (p *parser) entity(start, end, depth int, digest bool) *entity {
	p.entities++
	e := &entity{start: start, end: end}
	e.fields, e.hdrEnd, e.bodyStart = parseHeader(p.raw, start, end)
	e.typ, e.sub, e.params = "text", "plain", nil
	if digest {
		e.typ, e.sub = "message", "rfc822"
	}
	if ct := e.get("Content-Type"); ct != "" {
		if t, s, params, ok := parseMediaType(ct); ok {
			e.typ, e.sub, e.params = t, s, params
		}
	}
	if depth >= maxDepth || p.entities >= maxEntities {
		if e.multipart() {
			e.typ, e.sub = "text", "plain"
		}
		return e
	}
	switch {
	case e.multipart():
		b := e.params["boundary"]
		if b == "" {
			// A multipart without a boundary cannot be split: it is text.
			e.typ, e.sub = "text", "plain"
			return e
		}
		for _, r := range splitParts(p.raw, e.bodyStart, e.end, b) {
			if p.entities >= maxEntities {
				break
			}
			e.children = append(e.children, p.entity(r[0], r[1], depth+1, e.sub == "digest"))
		}
	case e.typ == "message" && (e.sub == "rfc822" || e.sub == "global"):
		e.msg = p.entity(e.bodyStart, e.end, depth+1, false)
	}
	return e
}

// nextLine returns the end of the line starting at i (before its
// terminator) and the start of the next line. A line ends at LF or CRLF; a
// lone CR is not a line end (RFC 5322, and what Dovecot, dsync and imapsync
// assume when they compare header hashes: a CR-only message is one long
// header line to all of them).
func nextLine(raw []byte, i, end int) (eol, next int) {
	for j := i; j < end; j++ {
		if raw[j] == '\n' {
			if j > i && raw[j-1] == '\r' {
				return j - 1, j + 1
			}
			return j, j + 1
		}
	}
	return end, end
}

// parseHeader reads the header block of raw[start:end]: the fields, where
// the last header line ends and where the body starts (after the first
// empty line). Without an empty line the whole range is header. Lines that
// are neither fields nor continuations (an mbox "From " line, garbage) stay
// in the header block but yield no field.
func parseHeader(raw []byte, start, end int) (fields []field, hdrEnd, bodyStart int) {
	var cur *field
	var curStart int
	var val []byte
	flush := func() {
		if cur != nil {
			cur.value = strings.TrimSpace(string(val))
			fields = append(fields, *cur)
			cur, val = nil, nil
		}
	}
	for i := start; i < end; {
		eol, next := nextLine(raw, i, end)
		line := raw[i:eol]
		if len(line) == 0 && eol < end {
			flush()
			return fields, i, next
		}
		switch {
		case (line[0] == ' ' || line[0] == '\t') && cur != nil:
			cur.raw = raw[curStart:next]
			if len(val) < 1<<16 {
				val = append(val, line...)
			}
		default:
			flush()
			if c := bytes.IndexByte(line, ':'); c > 0 && fieldName(line[:c]) {
				cur, curStart = &field{name: string(bytes.TrimRight(line[:c], " \t")), raw: raw[i:next]}, i
				val = append([]byte(nil), line[c+1:]...)
			}
		}
		i = next
	}
	flush()
	return fields, end, end
}

// fieldName reports whether b is a valid header field name (RFC 5322
// ftext), allowing trailing whitespace before the colon as old mailers
// wrote it.
func fieldName(b []byte) bool {
	b = bytes.TrimRight(b, " \t")
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// splitParts finds the parts of a multipart body raw[start:end] with the
// given boundary (RFC 2046 section 5.1.1) and returns their ranges. The
// line terminator before a delimiter belongs to the delimiter. The preamble
// and epilogue are not parts; without a close delimiter the last part runs
// to the end.
func splitParts(raw []byte, start, end int, boundary string) [][2]int {
	delim := []byte("--" + boundary)
	var out [][2]int
	partStart := -1
	for i := start; i < end; {
		k := bytes.Index(raw[i:end], delim)
		if k < 0 {
			break
		}
		pos := i + k
		i = pos + len(delim)
		if pos != start && raw[pos-1] != '\n' {
			continue // not at the start of a line
		}
		eol, next := nextLine(raw, i, end)
		rest := raw[i:eol]
		closing := bytes.HasPrefix(rest, []byte("--"))
		if closing {
			rest = rest[2:]
		}
		if len(bytes.TrimRight(rest, " \t")) != 0 {
			continue // a longer boundary that merely starts with ours
		}
		if partStart >= 0 {
			out = append(out, [2]int{partStart, max(partStart, lineStartBefore(raw, start, pos))})
		}
		if closing {
			return out
		}
		partStart, i = next, next
	}
	if partStart >= 0 {
		out = append(out, [2]int{partStart, end})
	}
	return out
}

// lineStartBefore returns the position of the line terminator that ends
// the line before pos (pos itself when pos is the start of the range).
func lineStartBefore(raw []byte, start, pos int) int {
	if pos == start {
		return pos
	}
	if raw[pos-1] == '\n' && pos-2 >= start && raw[pos-2] == '\r' {
		return pos - 2
	}
	return pos - 1
}

// parseMediaType parses a Content-Type value leniently: a syntactically
// broken parameter list still yields the type and whatever parameters can
// be read (the boundary above all).
func parseMediaType(v string) (typ, sub string, params map[string]string, ok bool) {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil {
		mt, _, _ = strings.Cut(v, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
		ps = lenientParams(v)
	}
	typ, sub, found := strings.Cut(mt, "/")
	typ, sub = strings.TrimSpace(typ), strings.TrimSpace(sub)
	if !found || !token(typ) || !token(sub) {
		return "", "", nil, false
	}
	return typ, sub, ps, true
}

// lenientParams reads name=value pairs after the first ';' without
// validating them: values are quoted strings or run to the next ';'.
func lenientParams(v string) map[string]string {
	_, rest, ok := strings.Cut(v, ";")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for rest != "" {
		var item string
		rest = strings.TrimLeft(rest, " \t;")
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		after = strings.TrimLeft(after, " \t")
		if strings.HasPrefix(after, `"`) {
			if j := strings.IndexByte(after[1:], '"'); j >= 0 {
				item, rest = after[1:j+1], after[j+2:]
			} else {
				item, rest = after[1:], ""
			}
		} else {
			item, rest, _ = strings.Cut(after, ";")
			item = strings.TrimSpace(item)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if token(name) {
			if _, dup := out[name]; !dup {
				out[name] = item
			}
		}
	}
	return out
}

// token reports whether s is a non-empty MIME token (RFC 2045).
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// findPart returns the entity a part path names (RFC 9051 section 6.4.5),
// or nil when there is none. For a non-multipart message, part 1 is the
// message body itself.
func findPart(root *entity, path []int) *entity {
	cur := root
	if len(path) > 0 && !root.multipart() {
		if path[0] != 1 {
			return nil
		}
		path = path[1:]
	}
	for _, n := range path {
		cur = cur.child(n)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// child returns part n (from 1) of e: a part of a multipart, or, for a
// message/rfc822 entity, part n of the enclosed message (whose part 1 is
// its body when it is not multipart).
func (e *entity) child(n int) *entity {
	if e.msg != nil {
		e = e.msg
	}
	if e.multipart() {
		if n < 1 || n > len(e.children) {
			return nil
		}
		return e.children[n-1]
	}
	if n == 1 {
		return e
	}
	return nil
}

// sectionBytes returns the bytes of a body section other than BODY[]
// (without the partial range applied). Every byte comes from raw; only
// HEADER.FIELDS(.NOT) assembles a subset of the header's raw fields, ended
// by the message's own blank line. A missing part yields nil.
func sectionBytes(raw []byte, root *entity, s *imap.FetchItemBodySection) []byte {
	e := findPart(root, s.Part)
	if e == nil {
		return nil
	}
	switch s.Specifier {
	case imap.PartSpecifierNone:
		if len(s.Part) == 0 {
			return raw
		}
		return raw[e.bodyStart:e.end]
	case imap.PartSpecifierMIME:
		return raw[e.start:e.bodyStart]
	}
	// HEADER, HEADER.FIELDS, TEXT: of the message itself, or of the
	// message enclosed in a message/rfc822 part.
	m := e
	if len(s.Part) > 0 {
		if e.msg == nil {
			return nil
		}
		m = e.msg
	}
	if s.Specifier == imap.PartSpecifierText {
		return raw[m.bodyStart:m.end]
	}
	if len(s.HeaderFields) == 0 && len(s.HeaderFieldsNot) == 0 {
		return raw[m.start:m.bodyStart]
	}
	var b bytes.Buffer
	for _, f := range m.fields {
		if len(s.HeaderFields) > 0 && !containsFold(s.HeaderFields, f.name) {
			continue
		}
		if containsFold(s.HeaderFieldsNot, f.name) {
			continue
		}
		b.Write(f.raw)
	}
	if blank := raw[m.hdrEnd:m.bodyStart]; len(blank) > 0 {
		b.Write(blank)
	} else {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// partial applies a <offset.size> range to b.
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) || p.Offset < 0 {
		return nil
	}
	end := int64(len(b))
	if p.Size >= 0 && p.Offset+p.Size < end {
		end = p.Offset + p.Size
	}
	return b[p.Offset:end]
}

// binaryBytes returns a BINARY section (RFC 3516): the part's body with its
// content transfer encoding removed. An undecodable body is returned as
// stored. BINARY[] is the whole message as stored.
func binaryBytes(raw []byte, root *entity, part []int) []byte {
	if len(part) == 0 {
		return raw
	}
	e := findPart(root, part)
	if e == nil {
		return nil
	}
	return decodeCTE(e.get("Content-Transfer-Encoding"), raw[e.bodyStart:e.end])
}

// decodeCTE removes a base64 or quoted-printable transfer encoding,
// returning body unchanged for other encodings or when decoding fails.
func decodeCTE(cte string, body []byte) []byte {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &base64Cleaner{b: body})
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(body))
	default:
		return body
	}
	out, err := io.ReadAll(r)
	if err != nil && len(out) == 0 {
		return body
	}
	return out
}

// base64Cleaner yields the base64 alphabet characters of b, dropping line
// breaks and other noise so that sloppy encoders still decode.
type base64Cleaner struct{ b []byte }

func (c *base64Cleaner) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && len(c.b) > 0 {
		ch := c.b[0]
		c.b = c.b[1:]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' || ch == '=' {
			p[n] = ch
			n++
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// textprotoHeader converts parsed fields to a go-message header in which
// Get returns the first occurrence of a field, as mail readers expect.
func textprotoHeader(fields []field) textproto.Header {
	var h textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		h.Add(fields[i].name, fields[i].value)
	}
	return h
}

// envelope builds the ENVELOPE of a message or enclosed message: date,
// subject and message IDs with go-imap's ExtractEnvelope (repairing a date
// in a non-standard format), the address lists with parseAddressList,
// which keeps groups, routed and commented addresses that go-imap's
// strict parser drops. It never fails; a panic in a parser yields an
// empty envelope.
func envelope(raw []byte, e *entity) (env *imap.Envelope) {
	defer func() {
		if recover() != nil {
			env = &imap.Envelope{}
		}
	}()
	env = imapserver.ExtractEnvelope(textprotoHeader(e.fields))
	if env.Date.IsZero() {
		env.Date = mailstore.ParseHeader(raw[e.start:e.bodyStart]).Date
	}
	for _, a := range []struct {
		name string
		list *[]imap.Address
	}{{"From", &env.From}, {"Sender", &env.Sender}, {"Reply-To", &env.ReplyTo}, {"To", &env.To}, {"Cc", &env.Cc}, {"Bcc", &env.Bcc}} {
		*a.list = imapAddresses(parseAddressList(e.get(a.name)))
	}
	return env
}

// bodyStructure builds the BODYSTRUCTURE of an entity (always with the
// extension data, which go-imap requires). A multipart without parts gets
// one empty text/plain part, because the syntax needs at least one.
func bodyStructure(raw []byte, e *entity) imap.BodyStructure {
	h := gomessage.Header{Header: textprotoHeader(e.fields)}
	disp := disposition(h)
	lang := language(e.get("Content-Language"))
	loc := e.get("Content-Location")
	if e.multipart() {
		bs := &imap.BodyStructureMultiPart{Subtype: e.sub, Extended: &imap.BodyStructureMultiPartExt{
			Params: e.params, Disposition: disp, Language: lang, Location: loc,
		}}
		for _, c := range e.children {
			bs.Children = append(bs.Children, bodyStructure(raw, c))
		}
		if len(bs.Children) == 0 {
			bs.Children = []imap.BodyStructure{&imap.BodyStructureSinglePart{
				Type: "text", Subtype: "plain", Text: &imap.BodyStructureText{}, Extended: &imap.BodyStructureSinglePartExt{},
			}}
		}
		return bs
	}
	body := raw[e.bodyStart:e.end]
	bs := &imap.BodyStructureSinglePart{
		Type: e.typ, Subtype: e.sub, Params: e.params,
		ID:          e.get("Content-Id"),
		Description: e.get("Content-Description"),
		Encoding:    strings.TrimSpace(e.get("Content-Transfer-Encoding")),
		Size:        uint32(min(int64(len(body)), math.MaxUint32)),
		Extended:    &imap.BodyStructureSinglePartExt{Disposition: disp, Language: lang, Location: loc},
	}
	if !atomSafe(bs.Encoding) {
		bs.Encoding = "7bit"
	}
	switch {
	case e.msg != nil:
		bs.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      envelope(raw, e.msg),
			BodyStructure: bodyStructure(raw, e.msg),
			NumLines:      countLines(body),
		}
	case e.typ == "text":
		bs.Text = &imap.BodyStructureText{NumLines: countLines(body)}
	}
	return bs
}

// safeBodyStructure is bodyStructure that turns a panic in a parser into a
// plain text structure covering the whole message.
func safeBodyStructure(raw []byte, root *entity) (bs imap.BodyStructure) {
	defer func() {
		if recover() != nil {
			bs = &imap.BodyStructureSinglePart{Type: "text", Subtype: "plain", Size: uint32(min(int64(len(raw)), math.MaxUint32)),
				Text: &imap.BodyStructureText{NumLines: countLines(raw)}, Extended: &imap.BodyStructureSinglePartExt{}}
		}
	}()
	return bodyStructure(raw, root)
}

// countLines counts the line terminators (LF or CRLF; a lone CR is not one,
// as in the MIME parser) in b.
func countLines(b []byte) int64 {
	return int64(bytes.Count(b, []byte("\n")))
}

// oracleMatchBody is the former matchBody: it reports whether the body of a message contains substr
// (case-insensitive): in the decoded text of its text parts, in the
// enclosed messages, or literally in the stored body bytes.
func oracleMatchBody(raw []byte, root *entity, substr string) bool {
	if containsFoldBytes(raw[root.bodyStart:root.end], substr) {
		return true
	}
	found := false
	var walk func(e *entity)
	walk = func(e *entity) {
		if found {
			return
		}
		switch {
		case e.multipart():
			for _, c := range e.children {
				walk(c)
			}
		case e.msg != nil:
			for i := range e.msg.fields {
				if containsFoldString(decodeHeaderValue(e.msg.fields[i].value), substr) {
					found = true
					return
				}
			}
			walk(e.msg)
		case e.typ == "text" || e.typ == "message":
			found = containsFoldString(oraclePartText(raw, e), substr)
		}
	}
	walk(root)
	return found
}

// oracleMatchText is the former matchText: it reports whether substr occurs in the header or body.
func oracleMatchText(raw []byte, root *entity, substr string) bool {
	for i := range root.fields {
		if containsFoldString(decodeHeaderValue(root.fields[i].value), substr) {
			return true
		}
	}
	return oracleMatchBody(raw, root, substr)
}

// oraclePartText is the former partText: it returns a text part's body with its transfer encoding removed,
// converted from its charset to UTF-8 when possible.
func oraclePartText(raw []byte, e *entity) string {
	body := decodeCTE(e.get("Content-Transfer-Encoding"), raw[e.bodyStart:e.end])
	if len(body) > maxSearchText {
		body = body[:maxSearchText]
	}
	cs := strings.ToLower(e.params["charset"])
	if cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if r, err := charset.Reader(cs, bytes.NewReader(body)); err == nil {
			if out, err := io.ReadAll(io.LimitReader(r, maxSearchText)); err == nil {
				return string(out)
			}
		}
	}
	if !utf8.Valid(body) {
		return mailstore.Latin1(string(body))
	}
	return string(body)
}
