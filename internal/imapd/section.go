package imapd

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// wholeMessage reports whether a body section is BODY[] (possibly partial),
// which is served straight from the stored bytes.
func wholeMessage(s *imap.FetchItemBodySection) bool {
	return len(s.Part) == 0 && s.Specifier == imap.PartSpecifierNone && len(s.HeaderFields) == 0 && len(s.HeaderFieldsNot) == 0
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

// partialRange returns the offset and length of a partial range of a
// size-byte message.
func partialRange(size int64, p *imap.SectionPartial) (off, n int64) {
	if p == nil {
		return 0, size
	}
	if p.Offset >= size || p.Offset < 0 {
		return 0, 0
	}
	n = size - p.Offset
	if p.Size >= 0 && p.Size < n {
		n = p.Size
	}
	return p.Offset, n
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

// containsFold reports whether list holds s, ignoring ASCII case.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
