package smtpd_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"os/exec"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestSendAs: submission enforces SendAs (issue 9 item 3) on MAIL FROM and
// on the From header field, driven by swaks. alice holds SendAs on the
// shared mailbox sales and may send as it; carol holds FullAccess only and
// is refused with 550 5.7.1, as is a user of another tenant and alice once
// the permission is removed. Refused messages are stored nowhere.
func TestSendAs(t *testing.T) {
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Skip("swaks is not installed (Debian package swaks; .ci/run installs it)")
	}
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		a := startServer(t, dialect, nil)
		a.tenant("contoso")
		a.tenant("fabrikam")
		alice, carol, dave := a.mailbox("contoso", "alice"), a.mailbox("contoso", "carol"), a.mailbox("contoso", "dave")
		eve := a.mailbox("fabrikam", "eve")
		sales := a.recipient("contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "sales", Shared: true})
		grant := func(user, right string) {
			t.Helper()
			if _, err := a.Admin.AddMailboxPermission(bg, op, "contoso", "sales", user, right); err != nil {
				t.Fatal(err)
			}
		}
		grant("alice", directory.SendAs)
		grant("carol", directory.FullAccess)
		sub := a.Addr("submission")
		send := func(user *directory.Recipient, mailFrom, headerFrom, marker string) (string, bool) {
			t.Helper()
			return swaks(t, sub, "--auth", "PLAIN", "--auth-user", user.PrimarySmtpAddress, "--auth-password", "pw-"+user.Alias,
				"--from", mailFrom, "--to", dave.PrimarySmtpAddress, "--header", "From: "+headerFrom,
				"--header", "Subject: "+marker, "--body", marker)
		}
		refused := func(out string, ok bool, what string) {
			t.Helper()
			if ok || !strings.Contains(out, "550 5.7.1") {
				t.Fatalf("%s: want 550 5.7.1, got:\n%s", what, out)
			}
		}

		if out, ok := send(alice, sales.PrimarySmtpAddress, "Sales <"+sales.PrimarySmtpAddress+">", "sendas-permitted"); !ok {
			t.Fatalf("alice with SendAs on sales: %s", out)
		}
		if out, ok := send(alice, alice.PrimarySmtpAddress, alice.PrimarySmtpAddress, "own-address"); !ok {
			t.Fatalf("alice as herself: %s", out)
		}
		out, ok := send(carol, sales.PrimarySmtpAddress, sales.PrimarySmtpAddress, "fullaccess-envelope")
		refused(out, ok, "carol (FullAccess only) in MAIL FROM")
		out, ok = send(carol, carol.PrimarySmtpAddress, "Sales <"+sales.PrimarySmtpAddress+">", "fullaccess-header")
		refused(out, ok, "carol (FullAccess only) in the From header")
		out, ok = send(carol, carol.PrimarySmtpAddress, carol.PrimarySmtpAddress+", "+alice.PrimarySmtpAddress, "header-other-user")
		refused(out, ok, "carol naming alice in the From header")
		out, ok = send(eve, sales.PrimarySmtpAddress, sales.PrimarySmtpAddress, "other-tenant")
		refused(out, ok, "a user of another tenant")
		out, ok = send(eve, eve.PrimarySmtpAddress, sales.PrimarySmtpAddress, "other-tenant-header")
		refused(out, ok, "a user of another tenant, in the From header")
		if err := a.Admin.RemoveMailboxPermission(bg, op, "contoso", "sales", "alice", directory.SendAs); err != nil {
			t.Fatal(err)
		}
		out, ok = send(alice, sales.PrimarySmtpAddress, sales.PrimarySmtpAddress, "after-removal")
		refused(out, ok, "alice after the SendAs permission was removed")

		got := a.waitInbox(dave, 2)
		a.drained()
		got = a.inbox(dave)
		if len(got) != 2 || !strings.Contains(got[0], "sendas-permitted") || !strings.Contains(got[1], "own-address") {
			t.Fatalf("dave holds %d messages, want the 2 permitted ones: %q", len(got), got)
		}
		for _, m := range got {
			for _, bad := range []string{"fullaccess-", "other-tenant", "after-removal", "header-other-user"} {
				if strings.Contains(m, bad) {
					t.Fatalf("a refused message (%s) was delivered", bad)
				}
			}
		}
	})
}
