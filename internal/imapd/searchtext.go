package imapd

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"

	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// maxSearchText caps how much decoded text of one part a SEARCH examines.
const maxSearchText = 16 << 20

// decodeHeaderValue decodes encoded words of a header value (see
// mailstore.DecodeHeaderText).
func decodeHeaderValue(v string) string { return mailstore.DecodeHeaderText(v) }

// matchHeader reports whether a header field named key has a decoded value
// containing substr (case-insensitive). An empty substr matches when the
// field is present (RFC 9051 section 6.4.4, HEADER).
func matchHeader(e *message.Part, key, substr string) bool {
	for i := range e.Fields {
		if !strings.EqualFold(e.Fields[i].Name, key) {
			continue
		}
		if substr == "" || containsFoldString(decodeHeaderValue(e.Fields[i].Value), substr) {
			return true
		}
	}
	return false
}

// matchBody reports whether the body of a message contains substr
// (case-insensitive): in the decoded text of its text parts, in the
// enclosed messages, or literally in the stored body bytes. It reads the
// message r part by part, in bounded buffers.
func matchBody(r io.ReaderAt, root *message.Part, substr string) bool {
	if rangeContainsFold(r, root.BodyStart, root.End, substr) {
		return true
	}
	found := false
	var walk func(e *message.Part)
	walk = func(e *message.Part) {
		if found {
			return
		}
		switch {
		case e.Multipart():
			for _, c := range e.Parts {
				walk(c)
			}
		case e.Message != nil:
			for i := range e.Message.Fields {
				if containsFoldString(decodeHeaderValue(e.Message.Fields[i].Value), substr) {
					found = true
					return
				}
			}
			walk(e.Message)
		case e.Type == "text" || e.Type == "message":
			found = containsFoldString(partText(r, e), substr)
		}
	}
	walk(root)
	return found
}

// matchText reports whether substr occurs in the header or body.
func matchText(r io.ReaderAt, root *message.Part, substr string) bool {
	for i := range root.Fields {
		if containsFoldString(decodeHeaderValue(root.Fields[i].Value), substr) {
			return true
		}
	}
	return matchBody(r, root, substr)
}

// partText returns a text part's body with its transfer encoding removed
// (at most maxSearchText bytes of it), converted from its charset to UTF-8
// when possible.
func partText(r io.ReaderAt, e *message.Part) string {
	cte := e.Get("Content-Transfer-Encoding")
	var body []byte
	var err error
	dec := decoder(cte, byteRange(r, e.BodyStart, e.BodySize()))
	if dec != nil {
		body, err = io.ReadAll(io.LimitReader(dec, maxSearchText))
	}
	if dec == nil || err != nil && len(body) == 0 {
		// Not encoded, or undecodable: the stored bytes.
		if m, ok := r.(memMessage); ok {
			body = m[e.BodyStart:min(e.End, e.BodyStart+maxSearchText)]
		} else {
			body, _ = io.ReadAll(io.LimitReader(byteRange(r, e.BodyStart, e.BodySize()), maxSearchText))
		}
	}
	cs := strings.ToLower(e.Params["charset"])
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

// memMessage is a message SEARCH read into memory (a small one): its
// ranges are slices, not copies.
type memMessage []byte

// ReadAt implements io.ReaderAt.
func (m memMessage) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// searchChunk is the buffer of rangeContainsFold.
const searchChunk = 256 << 10

// rangeContainsFold reports whether the bytes [start, end) of r contain
// substr (containsFoldBytes), reading them in chunks that overlap by the
// needle's length, ended on a UTF-8 sequence start.
func rangeContainsFold(r io.ReaderAt, start, end int64, substr string) bool {
	if m, ok := r.(memMessage); ok {
		return containsFoldBytes(m[start:end], substr)
	}
	if end-start <= searchChunk {
		b := make([]byte, end-start)
		n, _ := r.ReadAt(b, start)
		return containsFoldBytes(b[:n], substr)
	}
	overlap := int64(len(substr) + utf8.UTFMax)
	buf := make([]byte, searchChunk+overlap)
	for off := start; off < end; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		b := buf[:n]
		if off+int64(n) < end {
			// Stop before a sequence that may continue in the next chunk.
			cut := len(b) - 1
			for cut > 0 && len(b)-cut < utf8.UTFMax && !utf8.RuneStart(b[cut]) {
				cut--
			}
			b = b[:cut]
		}
		if containsFoldBytes(b, substr) {
			return true
		}
		if err != nil && err != io.EOF || n == 0 {
			return false
		}
		next := off + int64(len(b)) - overlap
		if off+int64(len(b)) >= end {
			return false
		}
		off = max(next, off+1)
	}
	return false
}

// containsFoldString reports whether s contains substr, ignoring case.
func containsFoldString(s, substr string) bool {
	if isASCII(substr) {
		return indexFoldASCII([]byte(s), substr) >= 0
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(substr))
}

// containsFoldBytes reports whether b contains substr, ignoring ASCII case
// (non-ASCII needles are compared after lower-casing valid UTF-8).
func containsFoldBytes(b []byte, substr string) bool {
	if isASCII(substr) {
		return indexFoldASCII(b, substr) >= 0
	}
	return strings.Contains(strings.ToLower(string(b)), strings.ToLower(substr))
}

// indexFoldASCII finds an ASCII needle in b ignoring ASCII case; other
// bytes of b are compared as they are. It lower-cases a copy of b and uses
// bytes.Index, so it is linear whatever the needle.
func indexFoldASCII(b []byte, needle string) int {
	if needle == "" {
		return 0
	}
	lb := make([]byte, len(b))
	for i, c := range b {
		lb[i] = lowerASCII(c)
	}
	ln := make([]byte, len(needle))
	for i := 0; i < len(needle); i++ {
		ln[i] = lowerASCII(needle[i])
	}
	return bytes.Index(lb, ln)
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
