package smtpd_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
)

// TestResentMessageQueuedOnce: a client that sends the same message again
// (same envelope, same bytes), as a peer does when the connection broke
// after our 250 or when it crashed before recording it, gets 250 again
// but the message is queued and delivered once. Other bytes, or another
// recipient, are another message.
func TestResentMessageQueuedOnce(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := startServer(t, dialect, nil)
		s.tenant("contoso")
		alice, bob := s.mailbox("contoso", "alice"), s.mailbox("contoso", "bob")
		mx := s.Addr("smtp")
		msg := message("peer@example.org", alice.PrimarySmtpAddress, "resent", "the same bytes")
		for i := 0; i < 3; i++ {
			if err := sendMail(mx, "peer@example.org", []string{alice.PrimarySmtpAddress}, msg); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if err := sendMail(mx, "peer@example.org", []string{alice.PrimarySmtpAddress}, msg+"changed\r\n"); err != nil {
			t.Fatal(err)
		}
		if err := sendMail(mx, "peer@example.org", []string{bob.PrimarySmtpAddress}, msg); err != nil {
			t.Fatal(err)
		}
		s.waitInbox(alice, 2)
		s.waitInbox(bob, 1)
		s.drained()
		if got := len(s.inbox(alice)); got != 2 {
			t.Fatalf("alice holds %d messages, want 2 (the resent one once, the changed one)", got)
		}
		if got := len(s.inbox(bob)); got != 1 {
			t.Fatalf("bob holds %d messages, want 1", got)
		}
	})
}
