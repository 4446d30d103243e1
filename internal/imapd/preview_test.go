package imapd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestFetchPreview: PREVIEW (RFC 8970) is advertised after login and
// answers FETCH PREVIEW and PREVIEW (LAZY) with the collapsed text of the
// first text/plain part (cut at 256 characters on a character boundary),
// decoded from quoted-printable and ISO-8859-1; of multipart/alternative
// the plain part; of an HTML-only message the text without tags, script,
// style and comments, entities decoded; NIL for a message whose only text
// is an attachment. PREVIEW sets no \Seen.
func TestFetchPreview(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		if caps, _ := r.cmd("CAPABILITY"); !containsLine(caps, " PREVIEW") {
			t.Errorf("CAPABILITY after login lacks PREVIEW: %q", caps)
		}
		long := "ab" + strings.Repeat("é", 300)
		msgs := []string{
			"Subject: folded\r\n\r\n  Hello,\r\n\r\n   world\tand\r\n more  \r\n",
			"Subject: long\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + long + "\r\n",
			"Subject: qp\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me=\r\n br=FBl=E9e\r\n",
			"Subject: alt\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: text/html\r\n\r\n<p>the html part</p>\r\n--b\r\nContent-Type: text/plain\r\n\r\nthe plain part\r\n--b--\r\n",
			"Subject: html\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p { color: red }</style><script>var x = 1;</script></head>" +
				"<body><p>Hello&nbsp;<b>W</b>orld &amp; friends</p><!-- hidden --><p>Bye&#33;</p></body></html>\r\n",
			"Subject: attached\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
				"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached text\r\n--b\r\n" +
				"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n",
			// No charset parameter: the HTML's own <meta> names it.
			"Subject: meta\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
				"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"></head><body>\xf0\xd2\xc9\xd7\xc5\xd4</body></html>\r\n",
		}
		for _, m := range msgs {
			r.appendRaw("INBOX", m)
		}
		r.mustOK("SELECT INBOX")
		want := func(s string) string { // the PREVIEW value as written: quoted, or a literal
			if strings.ContainsFunc(s, func(c rune) bool { return c >= 0x80 }) {
				return fmt.Sprintf("{%d}\n%s)", len(s), s)
			}
			return `"` + s + `")`
		}
		wantUTF8 := string([]rune(long)[:256])
		for i, w := range []string{
			`"Hello, world and more")`,
			want(wantUTF8),
			want("Café crème brûlée"),
			`"the plain part")`,
			`"Hello World & friends Bye!")`,
			"NIL)",
			want("Привет"),
		} {
			u, done := r.cmd("FETCH %d (PREVIEW)", i+1)
			got := strings.Join(u, "\n")
			if done != "OK FETCH completed" || !strings.Contains(got, fmt.Sprintf("* %d FETCH (PREVIEW %s", i+1, w)) {
				t.Errorf("FETCH %d PREVIEW: %s\n got %q\nwant PREVIEW %q", i+1, done, got, w)
			}
		}
		u, done := r.cmd("UID FETCH 1 (FLAGS PREVIEW (LAZY))")
		if got := strings.Join(u, "\n"); done != "OK UID FETCH completed" || !strings.Contains(got, `* 1 FETCH (UID 1 FLAGS (\Recent) PREVIEW "Hello, world and more")`) {
			t.Errorf("UID FETCH PREVIEW (LAZY): %s\n got %q", done, got)
		}
		if u, done := r.cmd("FETCH 4 PREVIEW (LAZY)"); done != "OK FETCH completed" || !strings.Contains(strings.Join(u, "\n"), `* 4 FETCH (PREVIEW "the plain part")`) {
			t.Errorf("FETCH 4 PREVIEW (LAZY): %s\n got %q", done, u)
		}
		if _, done := r.cmd("FETCH 1 PREVIEW (EAGER)"); !strings.HasPrefix(done, "BAD") {
			t.Errorf("FETCH PREVIEW (EAGER): %s, want BAD", done)
		}
	})
}
