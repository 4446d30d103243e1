package imapd

import (
	"bytes"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// maxSearchText caps how much decoded text of one part a SEARCH examines.
const maxSearchText = 16 << 20

// decodeHeaderValue decodes encoded words of a header value (see
// mailstore.DecodeHeaderText).
func decodeHeaderValue(v string) string { return mailstore.DecodeHeaderText(v) }

// matchHeader reports whether a header field named key has a decoded value
// containing substr (case-insensitive). An empty substr matches when the
// field is present (RFC 9051 section 6.4.4, HEADER).
func matchHeader(e *entity, key, substr string) bool {
	for i := range e.fields {
		if !strings.EqualFold(e.fields[i].name, key) {
			continue
		}
		if substr == "" || containsFoldString(decodeHeaderValue(e.fields[i].value), substr) {
			return true
		}
	}
	return false
}

// matchBody reports whether the body of a message contains substr
// (case-insensitive): in the decoded text of its text parts, in the
// enclosed messages, or literally in the stored body bytes.
func matchBody(raw []byte, root *entity, substr string) bool {
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
			found = containsFoldString(partText(raw, e), substr)
		}
	}
	walk(root)
	return found
}

// matchText reports whether substr occurs in the header or body.
func matchText(raw []byte, root *entity, substr string) bool {
	for i := range root.fields {
		if containsFoldString(decodeHeaderValue(root.fields[i].value), substr) {
			return true
		}
	}
	return matchBody(raw, root, substr)
}

// partText returns a text part's body with its transfer encoding removed,
// converted from its charset to UTF-8 when possible.
func partText(raw []byte, e *entity) string {
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
