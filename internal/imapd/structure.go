package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // charsets for RFC 2047 words

	"github.com/tenantferry/tenantferry/internal/message"
)

// disposition returns the Content-Disposition, nil when absent or broken.
func disposition(h gomessage.Header) *imap.BodyStructureDisposition {
	v := h.Get("Content-Disposition")
	if v == "" {
		return nil
	}
	d, params, err := h.ContentDisposition()
	if err != nil || d == "" {
		d, _, _ = strings.Cut(v, ";")
		d = strings.ToLower(strings.TrimSpace(d))
		params = message.LenientParams(v)
	}
	if !message.Token(d) {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: d, Params: params}
}

// language splits a Content-Language value.
func language(v string) []string {
	var out []string
	for _, l := range strings.Split(v, ",") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// atomSafe reports whether s can be sent as a quoted string that clients
// will take as a transfer encoding name.
func atomSafe(s string) bool {
	return s == "" || message.Token(s)
}
