package imapd_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestFetchBodyOfBinaryPartWithNUL: a part with Content-Transfer-Encoding
// binary holding NUL bytes (appended as a literal8) is sent by BODY[1]
// base64-encoded, since no literal may carry a NUL (RFC 3501 section 4.3;
// imaptest's append-binary group); BINARY[1] sends the bytes as a
// literal8 and BODY[] stays byte-exact. A partial BODY[1] cuts the
// encoded text.
func TestFetchBodyOfBinaryPartWithNUL(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		content := "\x00-\xe4\n\r\n\n\n"
		msg := "From: user@domain.org\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + content
		if _, done := r.appendParts("b1", fmt.Sprintf("b1 APPEND INBOX ~{%d}\r\n", len(msg)), msg+"\r\n"); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Fatalf("APPEND: %s", done)
		}
		r.cmd("SELECT INBOX")
		enc := base64.StdEncoding.EncodeToString([]byte(content))
		u, done := r.cmd("FETCH 1 (BODY.PEEK[1] BINARY.PEEK[1] BODY.PEEK[1]<2.4> BODY.PEEK[])")
		// The raw reader splits lines, so compare line by line.
		got := strings.Join(u, "\n")
		for _, want := range []string{
			fmt.Sprintf("BODY[1] {%d}\n%s\n ", len(enc)+2, enc),
			fmt.Sprintf("BINARY[1] ~{%d}\n\x00-\xe4", len(content)),
			"BODY[1]<2> {4}\n" + enc[2:6] + " ",
			fmt.Sprintf("BODY[] {%d}\nFrom: user@domain.org", len(msg)),
		} {
			if done != "OK FETCH completed" || !strings.Contains(got, want) {
				t.Errorf("FETCH: %s\n got %q\nwant it to hold %q", done, got, want)
			}
		}
	})
}
