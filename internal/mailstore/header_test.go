package mailstore_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestParseHeaderRules pins the index rules of the one header scanner
// (message.HeaderOptions) where they differ from the MIME structure's: a
// lone CR ends a line (a CR-only message is indexed), and a field name
// followed by blanks before its colon is not indexed.
func TestParseHeaderRules(t *testing.T) {
	h := mailstore.ParseHeader([]byte("Subject: old mac\rFrom: a@example.test\rMessage-ID: <x@y>\r\rSubject: body"))
	if h.Subject != "old mac" || h.From != "a@example.test" || h.MessageID != "<x@y>" {
		t.Fatalf("CR-only header: %+v", h)
	}
	h = mailstore.ParseHeader([]byte("Subject : spaced\r\nFrom: b@example.test\r\n\r\n"))
	if h.Subject != "" || h.From != "b@example.test" {
		t.Fatalf("blanks before the colon: %+v", h)
	}
}
