package imapd_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestNotify checks NOTIFY (RFC 5465) on the wire: the initial STATUS,
// STATUS for another folder's new mail written while no command runs,
// LIST for a created folder and a subscription change, the selected
// folder left to its own updates, NOTIFY NONE, bad input, and that a
// name of another user's folder watches nothing and leaks nothing.
func TestNotify(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		other := e.login(t, addr, nil)
		if err := other.Create("Other", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		a := e.raw(t)
		if _, done := a.cmd("LOGIN %q %q", addr, password); !strings.Contains(done, " NOTIFY") {
			t.Errorf("NOTIFY not advertised after login: %s", done)
		}
		expectLines(t, a, "NOTIFY SET (mailboxes Other (MessageNew Frobnicate))", "NO [BADEVENT (")
		expectLines(t, a, "NOTIFY SET (elsewhere (MessageNew))", "BAD")
		untagged, done := a.cmd("NOTIFY SET STATUS (mailboxes (Other Nowhere) (MessageNew MessageExpunge)) (personal (MailboxName SubscriptionChange))")
		if !strings.HasPrefix(done, "OK") || len(untagged) != 1 || !strings.HasPrefix(untagged[0], `* STATUS "Other" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY `) {
			t.Fatalf("NOTIFY SET STATUS: %q %s", untagged, done)
		}

		// Written while a has no command running.
		appendMsg(t, other, "Other", "Subject: x\r\n\r\nx\r\n", nil)
		if l := a.line(); !strings.HasPrefix(l, `* STATUS "Other" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY `) {
			t.Fatalf("after APPEND elsewhere: %q", l)
		}
		if err := other.Create("New", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if l := a.line(); l != `* LIST () "/" "New"` {
			t.Fatalf("after CREATE elsewhere: %q", l)
		}
		if err := other.Subscribe("New").Wait(); err != nil {
			t.Fatal(err)
		}
		if l := a.line(); l != `* LIST (\Subscribed) "/" "New"` {
			t.Fatalf("after SUBSCRIBE elsewhere: %q", l)
		}

		// Another user, of the same tenant or another one, naming alice's
		// folders gets nothing.
		bob := e.user(t, "bob")
		fab, err := e.Dir.CreateTenant(bg, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		eve, err := e.Dir.CreateRecipient(bg, fab.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "eve", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		var strangers []*rawConn
		for _, who := range []string{bob, eve.PrimarySmtpAddress} {
			b := e.raw(t)
			b.cmd("LOGIN %q %q", who, password)
			expectLines(t, b, "NOTIFY SET STATUS (mailboxes (Other New "+addr+"/INBOX) (MessageNew MessageExpunge FlagChange)) "+
				"(subtree Other (MessageNew)) (personal (MailboxName SubscriptionChange))", "OK")
			strangers = append(strangers, b)
		}

		// The selected folder gets its own updates, not STATUS.
		if _, done := a.cmd("SELECT Other"); !strings.HasPrefix(done, "OK") {
			t.Fatalf("SELECT Other: %s", done)
		}
		if _, err := other.Select("Other", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := other.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		untagged, _ = a.cmd("NOOP")
		if strings.Contains(strings.Join(untagged, "\n"), "STATUS") || !strings.Contains(strings.Join(untagged, "\n"), "* 1 EXPUNGE") {
			t.Errorf("NOOP in the watched folder after an expunge there: %q", untagged)
		}
		for _, b := range strangers {
			expectLines(t, b, "NOOP", "OK")
		}

		expectLines(t, a, "NOTIFY NONE", "OK")
		appendMsg(t, other, "INBOX", "Subject: y\r\n\r\ny\r\n", nil)
		if err := other.Create("Newer", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		expectLines(t, a, "UNSELECT", "OK")
		for _, b := range strangers {
			expectLines(t, b, "NOOP", "OK")
		}
	})
}
