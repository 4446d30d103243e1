package imapd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// appendRaw sends a command in parts, each but the last ending with a
// synchronizing literal's announcement: it waits for the continuation
// request after each (or returns the completion that came instead) and
// returns the untagged lines and the completion.
func (r *rawConn) appendParts(tag string, parts ...string) (untagged []string, done string) {
	r.t.Helper()
	for i, p := range parts {
		r.send(p)
		if i+1 < len(parts) {
			l := r.line()
			if !strings.HasPrefix(l, "+") {
				if !strings.HasPrefix(l, tag+" ") {
					r.t.Fatalf("no continuation request: %q", l)
				}
				return nil, strings.TrimPrefix(l, tag+" ")
			}
		}
	}
	return r.until(tag)
}

// bodySHA returns the SHA-256 of BODY[] of the messages of a folder, by
// sequence number.
func bodySHA(t *testing.T, c *imapclient.Client, folder string) []string {
	t.Helper()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		for _, b := range m.BodySection {
			out = append(out, shaHex(b.Bytes))
		}
	}
	return out
}

func shaHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// TestMultiAppend checks MULTIAPPEND (RFC 3502): several messages in one
// APPEND get consecutive UIDs in one APPENDUID, and the selected folder's
// EXISTS comes before the completion; when any message is refused (over
// APPENDLIMIT before its literal, an invalid flag or date, a syntax error
// after the literals, a missing folder), none is stored and the
// session stays in step, also when the refused literals were
// non-synchronizing.
func TestMultiAppend(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.AppendLimit = 4096 })
		addr := e.user(t, "alice")
		r := e.raw(t)
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "OK") {
			t.Fatalf("login: %s", done)
		}
		if untagged, _ := r.cmd("CAPABILITY"); !containsLine(untagged, " MULTIAPPEND CATENATE") {
			t.Errorf("CAPABILITY after login: %q", untagged)
		}
		r.cmd("SELECT INBOX")
		m1, m2 := "Subject: one\r\n\r\nbody 1\r\n", "Subject: two\r\n\r\nbody 2\r\n"
		untagged, done := r.appendParts("m1", fmt.Sprintf("m1 APPEND INBOX (\\Seen) {%d}\r\n", len(m1)),
			m1+fmt.Sprintf(` ($Label1) "05-Dec-2026 10:00:00 +0100" {%d}`+"\r\n", len(m2)), m2+"\r\n")
		if !strings.HasPrefix(done, "OK [APPENDUID ") || !strings.Contains(done, " 1:2] ") {
			t.Fatalf("MULTIAPPEND: %s", done)
		}
		if !containsLine(untagged, "* 2 EXISTS") {
			t.Errorf("MULTIAPPEND to the selected folder: no EXISTS in %q", untagged)
		}
		c := e.login(t, addr, nil)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true, InternalDate: true}).Collect()
		if err != nil || len(msgs) != 2 || !flagSet(msgs[0].Flags)[imap.FlagSeen] || !flagSet(msgs[1].Flags)["$Label1"] ||
			msgs[1].InternalDate.UTC().Format("2006-01-02 15:04") != "2026-12-05 09:00" {
			t.Fatalf("messages of the MULTIAPPEND: %+v %v", msgs, err)
		}
		want := []string{shaHex([]byte(m1)), shaHex([]byte(m2))}

		refusals := []struct {
			name   string
			parts  []string
			status string
		}{
			{"second over APPENDLIMIT", []string{"r1 APPEND INBOX {3}\r\n", "abc {5000}\r\n"}, "NO [TOOBIG]"},
			{"second over APPENDLIMIT, LITERAL+", []string{"r2 APPEND INBOX {3+}\r\nabc {5000+}\r\n" + strings.Repeat("r9 LOGOUT\r\n", 454) + "123456\r\n"}, "NO [TOOBIG]"},
			{"invalid flag", []string{"r3 APPEND INBOX {3}\r\n", "abc (\\Bogus) {3}\r\n"}, "NO [CLIENTBUG]"},
			{"invalid flag, LITERAL+", []string{"r4 APPEND INBOX {3+}\r\nabc (\\Bogus) {3+}\r\ndef {4+}\r\nr9 X\r\n"}, "NO [CLIENTBUG]"},
			{"invalid date", []string{"r5 APPEND INBOX {3}\r\n", "abc \"31-Feb-2026 00:00:00 +0000\" {3}\r\n"}, "BAD"},
			{"syntax error after the literals", []string{"r6 APPEND INBOX {3}\r\n", "abc {3}\r\n", "def junk\r\n"}, "BAD"},
			{"no such folder", []string{"r7 APPEND Nowhere {3}\r\n", "abc\r\n"}, "NO [TRYCREATE]"},
		}
		for _, x := range refusals {
			tag := strings.Fields(x.parts[0])[0]
			if _, done := r.appendParts(tag, x.parts...); !strings.HasPrefix(done, x.status) {
				t.Errorf("%s: %s, want %s", x.name, done, x.status)
			}
			if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
				t.Fatalf("session after %s: %s", x.name, done)
			}
		}
		if got := bodySHA(t, c, "INBOX"); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("INBOX after refused MULTIAPPENDs holds %d messages, want the first two only", len(got))
		}
		st, err := c.Status("INBOX", &imap.StatusOptions{UIDNext: true, NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != 2 {
			t.Errorf("STATUS after refused MULTIAPPENDs: %+v %v", st, err)
		}
	})
}

// TestAppendLiteral8 checks literal8 (RFC 3516): a message with NULs and
// every byte value, sent as ~{n} (synchronizing and LITERAL+), is stored
// and read back byte for byte, and so is the same message in an ordinary
// literal (clients without literal8 send it so; Dovecot stores it too).
func TestAppendLiteral8(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		var b strings.Builder
		b.WriteString("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n")
		for i := 0; i < 1024; i++ {
			b.WriteByte(byte(i * 7))
		}
		msg := b.String()
		if _, done := r.appendParts("b1", fmt.Sprintf("b1 APPEND INBOX ~{%d}\r\n", len(msg)), msg+"\r\n"); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Fatalf("APPEND literal8: %s", done)
		}
		r.send(fmt.Sprintf("b2 APPEND INBOX ~{%d+}\r\n%s\r\n", len(msg), msg))
		if _, done := r.until("b2"); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Fatalf("APPEND literal8 LITERAL+: %s", done)
		}
		if _, done := r.appendParts("b3", fmt.Sprintf("b3 APPEND INBOX {%d}\r\n", len(msg)), msg+"\r\n"); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Errorf("APPEND of NULs in an ordinary literal: %s", done)
		}
		c := e.login(t, addr, nil)
		if got, want := bodySHA(t, c, "INBOX"), shaHex([]byte(msg)); len(got) != 3 || got[0] != want || got[1] != want || got[2] != want {
			t.Errorf("binary messages read back: %q, want 3 × %s", got, want)
		}
	})
}

// catenateSource is a message with nested parts; its sections are known
// by construction.
var (
	catHeader  = "From: a@example.com\r\nSubject: nested\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
	catPart21H = "Content-Type: text/plain\r\n\r\n"
	catPart21  = "alt plain with \x01 odd \xff bytes"
	catPart22  = "<p>alt html</p>"
	catSource  = catHeader + "--XX\r\nContent-Type: text/plain\r\n\r\npart one\r\n" +
		"--XX\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n" +
		"--YY\r\n" + catPart21H + catPart21 + "\r\n--YY\r\nContent-Type: text/html\r\n\r\n" + catPart22 + "\r\n--YY--\r\n" +
		"--XX--\r\n"
)

// TestCatenate checks CATENATE (RFC 4469): a message built from TEXT
// literals and URLs of sections of another message (relative with
// UIDVALIDITY, absolute with the user's login, selected-folder relative,
// HEADER.FIELDS, MIME, PARTIAL) is byte-identical to the bytes those
// sections hold; two CATENATE messages in one APPEND (MULTIAPPEND) work;
// a bad URL is NO [BADURL] and stores nothing.
func TestCatenate(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		if !c.Caps().Has("CATENATE") || !c.Caps().Has("MULTIAPPEND") {
			t.Errorf("capabilities after login: %v", c.Caps())
		}
		if err := c.Create("Drafts2", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		uid := appendMsg(t, c, "INBOX", catSource, nil)
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		t1, t2 := "Subject: built\r\n\r\n", "\r\n-- end\r\n"
		u1 := fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=%d/;SECTION=2.1", sel.UIDValidity, uid)
		u2 := fmt.Sprintf("imap://%s@imap.example.com/INBOX/;UID=%d/;SECTION=2.2", strings.Replace(addr, "@", "%40", 1), uid)
		u3 := fmt.Sprintf("/INBOX/;UID=%d/;SECTION=2.1.MIME/;PARTIAL=0.12", uid)
		u4 := fmt.Sprintf("/INBOX/;UID=%d/;SECTION=HEADER.FIELDS%%20(Subject)", uid)
		untagged, done := r.appendParts("c1",
			fmt.Sprintf("c1 APPEND Drafts2 (\\Draft) CATENATE (TEXT {%d}\r\n", len(t1)),
			t1+fmt.Sprintf(` URL %q URL %q URL %q URL %q TEXT {%d}`+"\r\n", u1, u2, u3, u4, len(t2)),
			t2+fmt.Sprintf(`) CATENATE (URL "/INBOX/;UID=%d")`+"\r\n", uid))
		if !strings.HasPrefix(done, "OK [APPENDUID") || !strings.Contains(done, " 1:2] ") {
			t.Fatalf("APPEND CATENATE: %s %q", done, untagged)
		}
		want := []string{shaHex([]byte(t1 + catPart21 + catPart22 + catPart21H[:12] + "Subject: nested\r\n\r\n" + t2)), shaHex([]byte(catSource))}
		if got := bodySHA(t, c, "Drafts2"); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("catenated messages differ from their parts' bytes: %q, want %q", got, want)
		}

		// Relative to the selected folder.
		r.cmd("SELECT INBOX")
		if untagged, done := r.cmd(`APPEND INBOX CATENATE (URL ";UID=%d/;SECTION=1" TEXT {0+}`+"\r\n"+`)`, uid); !strings.HasPrefix(done, "OK [APPENDUID") ||
			!containsLine(untagged, "* 2 EXISTS") {
			t.Errorf("CATENATE of a selected-folder URL: %s %q", done, untagged)
		}

		// Bad URLs: nothing is stored, the session stays in step.
		for _, u := range []string{
			fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=%d", sel.UIDValidity+1, uid),
			fmt.Sprintf("/INBOX/;UID=%d", uid+100),
			fmt.Sprintf("/Nowhere/;UID=%d", uid),
			fmt.Sprintf("/INBOX/;UID=%d/;URLAUTH=anonymous:internal", uid),
			fmt.Sprintf("/INBOX/;UID=%d/;PARTIAL=0.0", uid),
			fmt.Sprintf("imap://%s/INBOX/;UID=%d", "imap.example.com", uid),
			"http://example.com/",
		} {
			r.send(fmt.Sprintf("x1 APPEND Drafts2 CATENATE (TEXT {3+}\r\nabc URL %q TEXT {3+}\r\ndef)\r\n", u))
			if _, done := r.until("x1"); !strings.HasPrefix(done, "NO [BADURL "+u+"]") {
				t.Errorf("CATENATE of %s: %s", u, done)
			}
			if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
				t.Fatalf("session after a bad URL: %s", done)
			}
		}
		if got := bodySHA(t, c, "Drafts2"); len(got) != 2 {
			t.Errorf("Drafts2 holds %d messages after refused CATENATEs, want 2", len(got))
		}
	})
}

// TestCatenateOtherUser checks tenant isolation of CATENATE URLs: a URL of
// another user's message — of the same tenant or another, by absolute URL
// or by that user's folder's UIDVALIDITY — is NO [BADURL], and nothing of
// that message is stored.
func TestCatenateOtherUser(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		alice, bob := e.user(t, "alice"), e.user(t, "bob")
		other, err := e.Dir.CreateTenant(bg, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		mallory := (&env{Dir: e.Dir, Tenant: other}).user(t, "mallory")
		cb := e.login(t, bob, nil)
		uid := appendMsg(t, cb, "INBOX", catSource, nil)
		sel, err := cb.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		cm := e.login(t, mallory, nil)
		appendMsg(t, cm, "INBOX", catSource, nil)

		r := e.raw(t)
		r.cmd("LOGIN %q %q", alice, password)
		for _, u := range []string{
			fmt.Sprintf("imap://%s@host/INBOX/;UID=%d", strings.Replace(bob, "@", "%40", 1), uid),
			fmt.Sprintf("imap://%s@host/INBOX/;UID=%d", strings.Replace(mallory, "@", "%40", 1), uid),
			fmt.Sprintf("/INBOX;UIDVALIDITY=%d/;UID=%d", sel.UIDValidity, uid),
			fmt.Sprintf("/Other Users/%s/INBOX/;UID=%d", bob, uid),
		} {
			if _, done := r.cmd(`APPEND INBOX CATENATE (URL %q)`, u); !strings.HasPrefix(done, "NO [BADURL "+u+"]") {
				t.Errorf("CATENATE of another user's message %s: %s", u, done)
			}
		}
		ca := e.login(t, alice, nil)
		if got := bodySHA(t, ca, "INBOX"); len(got) != 0 {
			t.Errorf("alice's INBOX holds %d messages after refused CATENATEs", len(got))
		}
	})
}

// TestAppendStreamsLargeLiteral checks that a large APPEND streams into
// the store: the bytes the server process allocates while it reads a
// 32 MiB literal stay a fraction of the literal (no buffering of the
// command), and the message is stored byte for byte.
func TestAppendStreamsLargeLiteral(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.AppendLimit = 64 << 20 })
		addr := e.user(t, "alice")
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		const size = 32 << 20
		chunk := []byte(strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 1024)) // 64 KiB
		h := sha256.New()
		r.send(fmt.Sprintf("big APPEND INBOX {%d}\r\n", size))
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("continuation: %q", l)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := r.c.Write(chunk); err != nil {
				t.Fatal(err)
			}
			h.Write(chunk)
		}
		r.send("\r\n")
		_, done := r.until("big")
		runtime.ReadMemStats(&after)
		if !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Fatalf("large APPEND: %s", done)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
			t.Errorf("the process allocated %d bytes while a %d-byte APPEND streamed in", alloc, size)
		}
		c := e.login(t, addr, nil)
		if got := bodySHA(t, c, "INBOX"); len(got) != 1 || got[0] != hex.EncodeToString(h.Sum(nil)) {
			t.Errorf("large message read back differs")
		}
	})
}

// TestAppendOverQuota checks that an APPEND over the tenant's quota is
// refused with NO [OVERQUOTA] and stores nothing: a MULTIAPPEND whose
// second message does not fit (refused before its literal is sent), and a
// CATENATE message that only its URL part makes too large.
func TestAppendOverQuota(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.Quota = &quota.Checker{Dir: o.Dir, Store: o.Store} })
		addr := e.user(t, "alice")
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		big := strings.Repeat("x", 3000)
		if _, done := r.appendParts("q0", fmt.Sprintf("q0 APPEND INBOX {%d}\r\n", len(big)), big+"\r\n"); !strings.HasPrefix(done, "OK") {
			t.Fatalf("APPEND before the quota: %s", done)
		}
		if _, err := e.Dir.SetTenantQuota(bg, e.Tenant.ID, 8000); err != nil {
			t.Fatal(err)
		}
		if _, done := r.appendParts("q1", fmt.Sprintf("q1 APPEND INBOX {%d}\r\n", len(big)), big+fmt.Sprintf(" {%d}\r\n", len(big))); !strings.HasPrefix(done, "NO [OVERQUOTA]") {
			t.Errorf("MULTIAPPEND over the quota: %s", done)
		}
		if _, done := r.cmd(`APPEND INBOX CATENATE (URL "/INBOX/;UID=1" URL "/INBOX/;UID=1")`); !strings.HasPrefix(done, "NO [OVERQUOTA]") {
			t.Errorf("CATENATE over the quota: %s", done)
		}
		if _, done := r.cmd(`APPEND INBOX CATENATE (URL "/INBOX/;UID=1/;PARTIAL=0.100")`); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Errorf("CATENATE within the quota: %s", done)
		}
		c := e.login(t, addr, nil)
		if got := bodySHA(t, c, "INBOX"); len(got) != 2 {
			t.Errorf("INBOX holds %d messages after refused APPENDs, want 2", len(got))
		}
	})
}
