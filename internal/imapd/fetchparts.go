package imapd

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/message"
)

// This file serves body sections from a message's part tree: a section is
// a list of byte ranges of the stored message (HEADER.FIELDS picks some
// fields' ranges), streamed from the blob store; BINARY decodes a part's
// range while it streams. Nothing holds a whole section in memory.

// span is a piece of a section: n bytes of the stored message at off, or
// lit when it is not nil.
type span struct {
	off, n int64
	lit    []byte
}

// spansSize is the total size of a section.
func spansSize(spans []span) int64 {
	var n int64
	for _, s := range spans {
		n += s.n
	}
	return n
}

// rangeSpans returns the spans of [off, off+n), none when n is 0.
func rangeSpans(off, n int64) []span {
	if n <= 0 {
		return nil
	}
	return []span{{off: off, n: n}}
}

// sectionSpans returns the spans of a body section (without its partial
// range applied); a missing part yields none. Every byte comes from the
// stored message but the "\r\n" that ends a HEADER.FIELDS of a header
// without a blank line.
func sectionSpans(root *message.Part, s *imap.FetchItemBodySection) []span {
	p := root.Find(s.Part)
	if p == nil {
		return nil
	}
	switch s.Specifier {
	case imap.PartSpecifierNone:
		if len(s.Part) == 0 {
			return rangeSpans(0, root.End)
		}
		return rangeSpans(p.BodyStart, p.BodySize())
	case imap.PartSpecifierMIME:
		return rangeSpans(p.Start, p.BodyStart-p.Start)
	}
	// HEADER, HEADER.FIELDS, TEXT: of the message itself, or of the
	// message enclosed in a message/rfc822 part.
	m := p
	if len(s.Part) > 0 {
		if p.Message == nil {
			return nil
		}
		m = p.Message
	}
	if s.Specifier == imap.PartSpecifierText {
		return rangeSpans(m.BodyStart, m.BodySize())
	}
	if len(s.HeaderFields) == 0 && len(s.HeaderFieldsNot) == 0 {
		return rangeSpans(m.Start, m.BodyStart-m.Start)
	}
	var out []span
	for _, f := range m.Fields {
		if len(s.HeaderFields) > 0 && !containsFold(s.HeaderFields, f.Name) {
			continue
		}
		if containsFold(s.HeaderFieldsNot, f.Name) {
			continue
		}
		out = append(out, span{off: f.Start, n: f.End - f.Start})
	}
	if m.BodyStart > m.HeaderEnd {
		out = append(out, span{off: m.HeaderEnd, n: m.BodyStart - m.HeaderEnd})
	} else {
		out = append(out, span{n: 2, lit: []byte("\r\n")})
	}
	return out
}

// cutSpans applies a partial range to a section's spans.
func cutSpans(spans []span, p *imap.SectionPartial) []span {
	off, n := partialRange(spansSize(spans), p)
	var out []span
	for _, s := range spans {
		if n <= 0 {
			break
		}
		if off >= s.n {
			off -= s.n
			continue
		}
		k := min(s.n-off, n)
		c := span{off: s.off + off, n: k}
		if s.lit != nil {
			c = span{n: k, lit: s.lit[off : off+k]}
		}
		out = append(out, c)
		off, n = 0, n-k
	}
	return out
}

// ranger is a stored message that streams a byte range natively
// (blobstore.Blob: one ranged request on S3 instead of many positional
// reads).
type ranger interface {
	Range(off, n int64) io.Reader
}

// byteRange streams n bytes of r at off.
func byteRange(r io.ReaderAt, off, n int64) io.Reader {
	if rr, ok := r.(ranger); ok {
		return rr.Range(off, n)
	}
	return io.NewSectionReader(r, off, n)
}

// spansReader streams spans of the stored message r.
func spansReader(r io.ReaderAt, spans []span) io.Reader {
	rs := make([]io.Reader, len(spans))
	for i, s := range spans {
		if s.lit != nil {
			rs[i] = strings.NewReader(string(s.lit))
		} else {
			rs[i] = byteRange(r, s.off, s.n)
		}
	}
	return io.MultiReader(rs...)
}

// decoder returns a reader removing a base64 or quoted-printable transfer
// encoding from body, nil for other encodings.
func decoder(cte string, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return nil
}

// base64Filter yields the base64 alphabet characters of a stream,
// dropping line breaks and other noise so that sloppy encoders still
// decode (base64Cleaner over a stream).
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, ch := range p[:n] {
			if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' || ch == '=' {
				p[k] = ch
				k++
			}
		}
		if k > 0 || err != nil {
			if k > 0 && err == io.EOF {
				err = nil
			}
			return k, err
		}
	}
}

// binarySection describes a BINARY section (RFC 3516): its decoded size
// and a function opening its bytes. Decoding streams twice (once to count,
// once to serve), in bounded memory. An undecodable body is served as
// stored; BINARY[] is the whole message as stored; a missing part is
// empty.
func binarySection(r io.ReaderAt, root *message.Part, part []int) (size int64, open func() io.Reader) {
	if len(part) == 0 {
		return root.End, func() io.Reader { return byteRange(r, 0, root.End) }
	}
	p := root.Find(part)
	if p == nil {
		return 0, func() io.Reader { return strings.NewReader("") }
	}
	body := func() io.Reader { return byteRange(r, p.BodyStart, p.BodySize()) }
	cte := p.Get("Content-Transfer-Encoding")
	dec := decoder(cte, body())
	if dec == nil {
		return p.BodySize(), body
	}
	n, err := io.Copy(io.Discard, dec)
	if err != nil && n == 0 {
		return p.BodySize(), body
	}
	return n, func() io.Reader { return io.LimitReader(decoder(cte, body()), n) }
}

// unknownCTE reports whether BINARY cannot decode a part: its
// Content-Transfer-Encoding is none of 7bit, 8bit, binary, base64 and
// quoted-printable (RFC 3516: the command fails with UNKNOWN-CTE).
func unknownCTE(root *message.Part, part []int) bool {
	if root == nil || len(part) == 0 {
		return false
	}
	p := root.Find(part)
	if p == nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(p.Get("Content-Transfer-Encoding"))) {
	case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
		return false
	}
	return true
}

// nulBinaryPart returns the part a BODY[n] section names when its
// Content-Transfer-Encoding is binary and its body holds a NUL byte, which
// no literal may carry; nil otherwise (the section is served as stored).
func nulBinaryPart(r io.ReaderAt, root *message.Part, s *imap.FetchItemBodySection) *message.Part {
	if root == nil || len(s.Part) == 0 || s.Specifier != imap.PartSpecifierNone {
		return nil
	}
	p := root.Find(s.Part)
	if p == nil || p.Multipart() || p.Type == "message" || !strings.EqualFold(strings.TrimSpace(p.Get("Content-Transfer-Encoding")), "binary") {
		return nil
	}
	buf := make([]byte, 32<<10)
	body := byteRange(r, p.BodyStart, p.BodySize())
	for {
		n, err := body.Read(buf)
		if bytes.IndexByte(buf[:n], 0) >= 0 {
			return p
		}
		if err != nil {
			return nil
		}
	}
}

// base64LineLen is the length of a base64 line (RFC 2045 section 6.8).
const base64LineLen = 76

// base64Body returns the size of a part's body encoded as MIME base64
// (lines of 76 characters, each ended by CRLF) and a function that streams
// it.
func base64Body(r io.ReaderAt, p *message.Part) (size int64, open func() io.Reader) {
	enc := int64(base64.StdEncoding.EncodedLen(int(p.BodySize())))
	size = enc + 2*((enc+base64LineLen-1)/base64LineLen)
	return size, func() io.Reader {
		pr, pw := io.Pipe()
		go func() {
			lw := &lineWrapper{w: pw}
			e := base64.NewEncoder(base64.StdEncoding, lw)
			_, err := io.Copy(e, byteRange(r, p.BodyStart, p.BodySize()))
			if err == nil {
				err = e.Close()
			}
			if err == nil {
				err = lw.end()
			}
			pw.CloseWithError(err)
		}()
		return pr
	}
}

// lineWrapper ends every base64LineLen bytes written with CRLF.
type lineWrapper struct {
	w   io.Writer
	col int
}

// Write implements io.Writer.
func (l *lineWrapper) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), base64LineLen-l.col)
		if _, err := l.w.Write(p[:k]); err != nil {
			return written, err
		}
		written += k
		p = p[k:]
		if l.col += k; l.col == base64LineLen {
			if _, err := l.w.Write([]byte("\r\n")); err != nil {
				return written, err
			}
			l.col = 0
		}
	}
	return written, nil
}

// end ends the last, partial line.
func (l *lineWrapper) end() error {
	if l.col == 0 {
		return nil
	}
	l.col = 0
	_, err := l.w.Write([]byte("\r\n"))
	return err
}
