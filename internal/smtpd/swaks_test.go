package smtpd_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"os/exec"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// swaks runs the swaks SMTP client (Debian package swaks) against addr and
// returns its transcript and whether it exited 0.
func swaks(t *testing.T, addr string, args ...string) (string, bool) {
	t.Helper()
	all := append([]string{"--server", addr, "--helo", "client.test", "--timeout", "30"}, args...)
	out, err := exec.Command("swaks", all...).CombinedOutput()
	return string(out), err == nil
}

// TestSwaks is issue 3's acceptance criterion 3, driven by swaks, a client
// nobody here wrote, against two real servers: A (tenant contoso) routes
// fabrikam.tenantferry.test to B (tenant fabrikam) by its transport map.
// Mail to a mailbox lands in its Inbox; mail to a MailUser whose external
// address lives on B arrives on B; mail to a group reaches every member;
// an unknown address gets 550 5.1.1; a foreign domain without AUTH gets
// 554 5.7.1 (no relay); an authenticated submission goes out through the
// transport map.
func TestSwaks(t *testing.T) {
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Skip("swaks is not installed (Debian package swaks; .ci/run installs it)")
	}
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		b := startServer(t, dialect, func(c *config.Config) { c.Hostname = "mx-b.test" })
		b.tenant("fabrikam")
		bob := b.mailbox("fabrikam", "bob")
		a := startServer(t, dialect, func(c *config.Config) {
			c.Hostname = "mx-a.test"
			c.Transports = []string{"fabrikam.tenantferry.test=" + b.Addr("smtp")}
		})
		a.tenant("contoso")
		alice, carol := a.mailbox("contoso", "alice"), a.mailbox("contoso", "carol")
		team := a.recipient("contoso", directory.RecipientSpec{Type: directory.DistributionGroup, Alias: "team"})
		for _, m := range []string{"alice", "carol"} {
			if _, err := a.Admin.AddMember(bg, op, "contoso", "team", m); err != nil {
				t.Fatal(err)
			}
		}
		moved := a.recipient("contoso", directory.RecipientSpec{Type: directory.MailUser, Alias: "moved", ExternalEmail: bob.PrimarySmtpAddress})
		mx, sub := a.Addr("smtp"), a.Addr("submission")
		ok := func(addr string, args ...string) {
			t.Helper()
			if out, ok := swaks(t, addr, args...); !ok {
				t.Fatalf("swaks %v failed:\n%s", args, out)
			}
		}

		ok(mx, "--from", "ext@example.org", "--to", alice.PrimarySmtpAddress, "--header", "Subject: swaks-mailbox", "--body", "marker-mailbox")
		if got := a.waitInbox(alice, 1); !strings.Contains(got[0], "marker-mailbox") || !strings.Contains(got[0], "Subject: swaks-mailbox") {
			t.Fatalf("alice got %q", got[0])
		}

		ok(mx, "--from", "ext@example.org", "--to", moved.PrimarySmtpAddress, "--header", "Subject: swaks-forward", "--body", "marker-forward")
		got := b.waitInbox(bob, 1)
		if !strings.Contains(got[0], "marker-forward") || strings.Count(got[0], "Received: from client.test") != 1 ||
			!strings.Contains(got[0], "by mx-b.test") || !strings.Contains(got[0], "by mx-a.test") {
			t.Fatalf("bob (on B) got %q", got[0])
		}

		ok(mx, "--from", "ext@example.org", "--to", team.PrimarySmtpAddress, "--header", "Subject: swaks-group", "--body", "marker-group")
		a.waitInbox(carol, 1)
		a.waitInbox(alice, 2)
		a.drained()
		if got := a.inbox(alice); len(got) != 2 || !strings.Contains(got[1], "marker-group") {
			t.Fatalf("alice has %d messages", len(got))
		}
		if got := a.inbox(carol); len(got) != 1 || !strings.Contains(got[0], "marker-group") {
			t.Fatalf("carol has %d messages", len(got))
		}

		out, success := swaks(t, mx, "--from", "ext@example.org", "--to", "ghost@contoso.tenantferry.test")
		if success || !strings.Contains(out, "550 5.1.1") {
			t.Fatalf("unknown recipient: want 550 5.1.1, got:\n%s", out)
		}
		out, success = swaks(t, mx, "--from", "ext@example.org", "--to", "victim@foreign.example")
		if success || !strings.Contains(out, "554 5.7.1") {
			t.Fatalf("relay attempt: want 554 5.7.1, got:\n%s", out)
		}

		for i, mech := range []string{"PLAIN", "LOGIN"} {
			ok(sub, "--auth", mech, "--auth-user", alice.PrimarySmtpAddress, "--auth-password", "pw-alice",
				"--from", alice.PrimarySmtpAddress, "--to", bob.PrimarySmtpAddress, "--header", "Subject: swaks-submission-"+mech, "--body", "marker-submission")
			if got := b.waitInbox(bob, 2+i); !strings.Contains(got[1+i], "Subject: swaks-submission-"+mech) || !strings.Contains(got[1+i], "with ESMTPA") {
				t.Fatalf("submitted message on B: %q", got[1+i])
			}
		}
		out, success = swaks(t, sub, "--auth", "PLAIN", "--auth-user", alice.PrimarySmtpAddress, "--auth-password", "nope",
			"--from", alice.PrimarySmtpAddress, "--to", bob.PrimarySmtpAddress)
		if success || !strings.Contains(out, "535 5.7.8") {
			t.Fatalf("wrong password: want 535 5.7.8, got:\n%s", out)
		}
	})
}
