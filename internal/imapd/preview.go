package imapd

import (
	"bytes"
	"html"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	htmlcharset "golang.org/x/net/html/charset"

	"github.com/tenantferry/tenantferry/internal/message"
)

// PREVIEW (RFC 8970): a FETCH attribute giving a short plain-text preview
// of a message. Invariants:
//
//   - The preview is UTF-8 text of at most previewChars characters, with
//     no markup and no control characters; whitespace runs are one space
//     and it has none at either end; it is cut on a character boundary.
//   - It comes from the first text/plain part that is not an attachment
//     (Content-Disposition attachment), else from the first such text/html
//     part with its tags, comments, script and style content removed and
//     its entities decoded; enclosed messages are not looked into. A
//     message without either gives NIL.
//   - At most maxPreviewRead bytes of the part's stored body are read,
//     streamed from the blob; its transfer encoding and charset are
//     decoded. PREVIEW sets no flag; PREVIEW (LAZY) answers the same.

// previewChars is the most characters a preview holds (RFC 8970 section 3).
const previewChars = 256

// maxPreviewRead caps how much of a part's stored body a preview reads.
const maxPreviewRead = 64 << 10

// previewCaps is the capability of PREVIEW.
const previewCaps = " PREVIEW"

// previewPart returns the part a preview is taken from and whether it is
// HTML; nil when the message has no text/plain or text/html body part.
func previewPart(root *message.Part) (p *message.Part, isHTML bool) {
	var firstHTML *message.Part
	var walk func(e *message.Part) *message.Part
	walk = func(e *message.Part) *message.Part {
		if e.Multipart() {
			for _, c := range e.Parts {
				if f := walk(c); f != nil {
					return f
				}
			}
			return nil
		}
		if e.Type != "text" || isAttachment(e) {
			return nil
		}
		switch e.Subtype {
		case "plain":
			return e
		case "html":
			if firstHTML == nil {
				firstHTML = e
			}
		}
		return nil
	}
	if p := walk(root); p != nil {
		return p, false
	}
	return firstHTML, firstHTML != nil
}

// isAttachment reports whether a part's Content-Disposition is attachment.
func isAttachment(p *message.Part) bool {
	d, _, _ := strings.Cut(p.Get("Content-Disposition"), ";")
	return strings.EqualFold(strings.TrimSpace(d), "attachment")
}

// preview returns the preview of a message (ok false: NIL).
func preview(r io.ReaderAt, root *message.Part) (text string, ok bool) {
	if root == nil {
		return "", false
	}
	p, isHTML := previewPart(root)
	if p == nil {
		return "", false
	}
	s := previewBody(r, p, isHTML)
	if isHTML {
		s = stripHTML(s)
	}
	return collapseText(s, previewChars), true
}

// previewBody reads the start of a part's body (at most maxPreviewRead
// stored bytes) and decodes its transfer encoding and charset to UTF-8.
// An HTML part without a charset parameter is decoded as its own
// <meta charset> (or http-equiv Content-Type) says, as a browser would
// (HTML's encoding prescan of the first 1024 bytes); without one, bytes
// that are not UTF-8 are read as windows-1252.
func previewBody(r io.ReaderAt, p *message.Part, isHTML bool) string {
	raw := func() io.Reader { return byteRange(r, p.BodyStart, min(p.BodySize(), maxPreviewRead)) }
	var body []byte
	var err error
	if dec := decoder(p.Get("Content-Transfer-Encoding"), raw()); dec != nil {
		body, err = io.ReadAll(io.LimitReader(dec, maxPreviewRead))
		if err != nil && len(body) == 0 {
			body = nil
		}
	}
	if body == nil {
		body, _ = io.ReadAll(raw())
	}
	cs := strings.ToLower(p.Params["charset"])
	if cs == "" && isHTML {
		if _, name, _ := htmlcharset.DetermineEncoding(body, "text/html"); name != "utf-8" {
			cs = name
		}
	}
	if cs != "" && cs != "utf-8" && cs != "us-ascii" {
		if cr, err := charset.Reader(cs, bytes.NewReader(body)); err == nil {
			if out, err := io.ReadAll(cr); err == nil {
				body = out
			}
		}
	}
	body = trimPartialRune(body)
	if !utf8.Valid(body) {
		return latin1Bytes(body)
	}
	return string(body)
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b (a
// prefix cut in the middle of a character).
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// latin1Bytes reads bytes as ISO-8859-1.
func latin1Bytes(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// inlineTags are HTML elements that do not separate words.
var inlineTags = map[string]bool{"a": true, "b": true, "i": true, "u": true, "s": true, "em": true,
	"strong": true, "span": true, "font": true, "small": true, "big": true, "sub": true, "sup": true,
	"code": true, "tt": true, "abbr": true, "mark": true, "q": true}

// stripHTML removes the markup of an HTML text: comments, tags (a space
// for those that separate words), the content of script and style
// elements; then decodes its character references.
func stripHTML(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			sb.WriteString(s)
			break
		}
		sb.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := strings.Index(s[4:], "-->")
			if end < 0 {
				break
			}
			s = s[4+end+3:]
			continue
		}
		end := strings.IndexByte(s, '>')
		if end < 0 {
			break
		}
		name := tagName(s[1:end])
		opening := s[1] != '/'
		s = s[end+1:]
		if opening && (name == "script" || name == "style") {
			stop := strings.Index(strings.ToLower(s), "</"+name)
			if stop < 0 {
				break
			}
			s = s[stop:]
			continue
		}
		if !inlineTags[name] {
			sb.WriteByte(' ')
		}
	}
	return html.UnescapeString(sb.String())
}

// tagName is the lower-case element name of a tag's inside ("/p" and
// "br/" name p and br).
func tagName(t string) string {
	t = strings.TrimPrefix(t, "/")
	end := strings.IndexFunc(t, func(r rune) bool { return unicode.IsSpace(r) || r == '/' })
	if end >= 0 {
		t = t[:end]
	}
	return strings.ToLower(t)
}

// collapseText makes s one line of at most n characters: whitespace and
// control character runs become one space, none at either end.
func collapseText(s string, n int) string {
	var sb strings.Builder
	count, space := 0, false
	for _, c := range s {
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == utf8.RuneError {
			space = count > 0
			continue
		}
		if space {
			if count+1 >= n {
				break
			}
			sb.WriteByte(' ')
			count++
			space = false
		}
		if count >= n {
			break
		}
		sb.WriteRune(c)
		count++
	}
	return sb.String()
}
