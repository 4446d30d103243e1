package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// apiCall sends a JSON request to the admin API with token and returns the
// status, the error code (if any) and the body.
func apiCall(t *testing.T, s *scenario.Server, token, method, path string, body any) (int, string, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.PublicURL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	var e struct{ Code string }
	json.Unmarshal(buf.Bytes(), &e)
	return resp.StatusCode, e.Code, buf.Bytes()
}

// smtpReply sends one message to rcpt at the MX (declaring size in MAIL
// FROM when > 0) and returns the SMTP error code and enhanced code of the
// first refusal ("" when accepted) and the command refused.
func smtpReply(t *testing.T, addr, rcpt string, msg []byte, size int) (code int, enh, stage string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(st string, err error) bool {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			code, enh, stage = se.Code, fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2]), st
			return false
		}
		if err != nil {
			t.Fatalf("%s: %v", st, err)
		}
		return true
	}
	var opts *smtp.MailOptions
	if size > 0 {
		opts = &smtp.MailOptions{Size: int64(size)}
	}
	if !check("MAIL", c.Mail("sender@example.org", opts)) || !check("RCPT", c.Rcpt(rcpt, nil)) {
		return
	}
	w, err := c.Data()
	if !check("DATA", err) {
		return
	}
	w.Write(msg)
	check("DATA", w.Close())
	return
}

// TestQuotas (issue 10 item 7): a mailbox quota (mailbox set --quota) and
// a tenant quota (tenant set --quota, operator only) bound every way in:
// SMTP answers 452 4.2.2 for a full mailbox and 552 5.2.2 for a message
// larger than the quota (at RCPT with SIZE, at the end of DATA without);
// IMAP GETQUOTAROOT reports usage and limit in KiB to python's imaplib,
// and APPEND over quota gets NO [OVERQUOTA]; an import over quota fails
// with QuotaExceeded and writes nothing. Room made by expunging lets mail
// in again.
func TestQuotas(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		ctx := context.Background()
		imapAddr := scenario.FreeAddr(t)
		s := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), IMAP: imapAddr})
		ten := s.Tenant("contoso")
		u := s.Mailbox("contoso", "user01", "pw", false)
		s.Mailbox("contoso", "user02", "pw", false)
		tenTok, err := s.Dir.CreateAdminToken(ctx, ten.ID, "test")
		if err != nil {
			t.Fatal(err)
		}
		base := "/api/v1/tenants/contoso"

		// Bad input: a negative quota, a quota on a group, a tenant admin
		// raising its own tenant's quota.
		if st, code, _ := apiCall(t, s, tenTok, "PATCH", base+"/mailboxes/user01", map[string]any{"Quota": -1}); st != 400 || code != "InvalidQuota" {
			t.Errorf("negative quota: %d %s", st, code)
		}
		if st, code, _ := apiCall(t, s, tenTok, "PATCH", base, map[string]any{"Quota": 1 << 40}); st != 403 {
			t.Errorf("tenant admin set its tenant's quota: %d %s, want 403", st, code)
		}
		// A 40 KiB quota on user01.
		st, code, body := apiCall(t, s, tenTok, "PATCH", base+"/mailboxes/user01", map[string]any{"Quota": 40 << 10})
		if st != 200 || !strings.Contains(string(body), `"Quota":40960`) {
			t.Fatalf("mailbox set --quota: %d %s %s", st, code, body)
		}

		// Mail fits until the mailbox is full.
		seq := 0
		msg := func(n int) []byte { // a new Message-ID each time: the queue drops resent duplicates
			seq++
			return scenario.Message("sender@example.org", u.PrimarySmtpAddress, fmt.Sprintf("fill %d", seq), strings.Repeat("q", n))
		}
		for i := 0; i < 3; i++ {
			if code, _, stage := smtpReply(t, s.Cfg.SMTP, u.PrimarySmtpAddress, msg(12<<10), 0); code != 0 {
				t.Fatalf("message %d refused at %s with %d", i, stage, code)
			}
		}
		mb := s.Content("contoso", u.ExchangeGuid)
		scenario.Eventually(t, 20*time.Second, "three messages delivered", func() error {
			if n := scenario.Take(t, s.Store, mb.ID).Count(); n != 3 {
				return errors.New("not yet")
			}
			return nil
		})
		// 36+ KiB used: a declared 8 KiB does not fit, temporarily; a
		// declared 1 MiB never fits; undeclared, DATA decides.
		if code, enh, stage := smtpReply(t, s.Cfg.SMTP, u.PrimarySmtpAddress, msg(8<<10), 9<<10); code != 452 || enh != "4.2.2" || stage != "RCPT" {
			t.Errorf("full mailbox: %d %s at %s, want 452 4.2.2 at RCPT", code, enh, stage)
		}
		if code, enh, stage := smtpReply(t, s.Cfg.SMTP, u.PrimarySmtpAddress, msg(8<<10), 1<<20); code != 552 || enh != "5.2.2" || stage != "RCPT" {
			t.Errorf("larger than the quota: %d %s at %s, want 552 5.2.2 at RCPT", code, enh, stage)
		}
		if code, enh, stage := smtpReply(t, s.Cfg.SMTP, u.PrimarySmtpAddress, msg(8<<10), 0); code != 452 || enh != "4.2.2" || stage != "DATA" {
			t.Errorf("undeclared size into a full mailbox: %d %s at %s, want 452 4.2.2 at DATA", code, enh, stage)
		}
		if code, _, stage := smtpReply(t, s.Cfg.SMTP, "user02@"+ten.InitialDomain, msg(8<<10), 0); code != 0 {
			t.Errorf("user02 has no quota but was refused at %s with %d", stage, code)
		}

		// An import over quota: QuotaExceeded, nothing written.
		before := scenario.Take(t, s.Store, mb.ID).Count()
		mbox := []byte("From a@b Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + strings.Repeat("x", 8<<10) + "\n")
		if status, code := upload(t, s, "mbox", mbox, int64(len(mbox))); status != http.StatusRequestEntityTooLarge || code != "QuotaExceeded" {
			t.Errorf("import over quota: %d %s, want 413 QuotaExceeded", status, code)
		}
		if n := scenario.Take(t, s.Store, mb.ID).Count(); n != before {
			t.Errorf("the refused import wrote %d items", n-before)
		}

		// IMAP: python's imaplib reads the quota root and usage, APPEND
		// over quota gets OVERQUOTA, and after an expunge it fits again.
		out := runPython(t, imapQuotaScript, imapAddr, u.PrimarySmtpAddress)
		for _, want := range []string{
			`CAP QUOTA True`,
			`ROOT [[b'"INBOX" "User quota"'], [b'"User quota" (STORAGE 37 40)']]`, // KiB, used rounded up
			`APPEND NO [b'[OVERQUOTA] QuotaExceeded`,
			`APPEND2 OK`,
			`SETQUOTA NO`,
		} {
			if !strings.Contains(out, want) {
				t.Errorf("imaplib output lacks %q:\n%s", want, out)
			}
		}

		// A tenant quota (operator) below the tenant's usage refuses
		// user02 too.
		st, code, body = apiCall(t, s, s.OperatorToken, "PATCH", base, map[string]any{"Quota": 20 << 10})
		if st != 200 || !strings.Contains(string(body), `"Quota":20480`) {
			t.Fatalf("tenant set --quota: %d %s %s", st, code, body)
		}
		if code, enh, stage := smtpReply(t, s.Cfg.SMTP, "user02@"+ten.InitialDomain, msg(1<<10), 0); code != 452 || enh != "4.2.2" || stage != "RCPT" {
			t.Errorf("tenant over quota: %d %s at %s, want 452 4.2.2 at RCPT", code, enh, stage)
		}
		if st, code, _ := apiCall(t, s, s.OperatorToken, "PATCH", base, map[string]any{"Quota": 0}); st != 200 {
			t.Fatalf("tenant set --quota unlimited: %d %s", st, code)
		}
		if code, _, stage := smtpReply(t, s.Cfg.SMTP, "user02@"+ten.InitialDomain, msg(1<<10), 0); code != 0 {
			t.Errorf("unlimited again, but refused at %s with %d", stage, code)
		}
	})
}

// runPython runs a python3 script with arguments and returns its output.
func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command("python3", append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return string(out)
}

// imapQuotaScript drives the quota commands with python's imaplib.
const imapQuotaScript = `
import imaplib, sys, time
host, port = sys.argv[1].rsplit(":", 1)
m = imaplib.IMAP4(host, int(port))
m.login(sys.argv[2], "pw")
print("CAP QUOTA", b"QUOTA" in m.capability()[1][0].split())
typ, data = m.getquotaroot("INBOX")
print("ROOT", data)
msg = b"Subject: over\r\n\r\n" + b"z" * 8192 + b"\r\n"
try:
    typ, data = m.append("INBOX", None, None, msg)
    print("APPEND", typ, data)
except imaplib.IMAP4.error as e:
    print("APPEND NO", e)
m.select("INBOX")
m.store("1:2", "+FLAGS", "\\Deleted")
m.expunge()
typ, data = m.append("INBOX", None, None, msg)
print("APPEND2", typ)
try:
    typ, data = m.setquota('"User quota"', "(STORAGE 99999)")
    print("SETQUOTA", typ, data)
except imaplib.IMAP4.error as e:
    print("SETQUOTA NO", e)
m.logout()
`
