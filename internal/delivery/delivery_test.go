package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// TestLocalDelivery: a queued message lands byte-exact (after our Received
// header) in the Inbox, marked delivered with the mailbox GUID; a re-run of
// its job — even after the row is forced back to queued, as after a crash
// between the append and the job's completion — adds no copy; a message
// reaching one mailbox through two recipients lands once.
func TestLocalDelivery(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, be *blobtest.Env) {
		d := be.DB
		e := newEnvOn(t, be, nil, nil)
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		bob := e.mailbox(tn, "bob")
		team := e.group(tn, "team", alice, bob)

		body := message("x@example.org", alice.PrimarySmtpAddress, "one", "Hello\r\n.dot line\r\nbare\nLF and trailing")
		q := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, body)
		got := e.waitInbox(alice, 1)
		if stripReceived(t, got[0]) != body {
			t.Fatalf("stored bytes differ from the received bytes:\n%q\n%q", got[0], body)
		}
		if q.Hops != 1 {
			t.Fatalf("hops = %d, want 1 (our Received header)", q.Hops)
		}
		if res := e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateDelivered); res != alice.ExchangeGuid {
			t.Fatalf("result = %q, want the mailbox GUID %s", res, alice.ExchangeGuid)
		}

		// Crash simulation: the append committed, the row is seen open
		// again and its job runs a second time.
		var rid int64
		if err := d.Read().QueryRowContext(bg, `SELECT r.id FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id WHERE m.uid = ?`, q.ID).Scan(&rid); err != nil {
			t.Fatal(err)
		}
		if err := d.Write(bg, func(tx *db.Tx) error {
			_, err := tx.ExecContext(bg, `UPDATE queue_recipients SET state = 'queued' WHERE id = ?`, rid)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.jobs.Insert(bg, delivery.DeliverArgs{Recipient: rid, Expires: time.Now().Add(time.Hour).UnixMilli()}, nil); err != nil {
			t.Fatal(err)
		}
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)
		if n := len(e.inbox(alice)); n != 1 {
			t.Fatalf("after a re-run alice has %d messages, want 1", n)
		}

		// alice directly and through the group: one copy each.
		q2 := e.send("x@example.org", []string{alice.PrimarySmtpAddress, team.PrimarySmtpAddress}, message("x@example.org", "team", "two", "both"))
		e.waitState(q2.ID, team.PrimarySmtpAddress, delivery.StateExpanded)
		e.waitInbox(bob, 1)
		eventually(t, 10*time.Second, func() bool { return e.states()[delivery.StateQueued] == 0 }, func() string { return "queue not drained" })
		if n := len(e.inbox(alice)); n != 2 {
			t.Fatalf("alice has %d messages, want 2 (no duplicate of the group copy)", n)
		}
	})
}

// TestRouting covers every recipient type at delivery time: group
// expansion, a MailUser forwarding to an address hosted here (delivered
// locally), a MailUser forwarding to a remote domain (outbound through the
// transport map, original envelope sender, exact bytes), a forwarding loop,
// an unknown address, and a remote permanent refusal — the failures each
// bounce with a DSN to the local sender.
func TestRouting(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		sk := newSink(t)
		sk.refuse["nobody"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		e := newEnv(t, d, map[string]string{"remote.test": sk.Addr}, nil)
		tn := e.tenant("contoso")
		dom := "@contoso.tenantferry.test"
		alice, bob, carol := e.mailbox(tn, "alice"), e.mailbox(tn, "bob"), e.mailbox(tn, "carol")
		team := e.group(tn, "team", alice, bob)
		dave := e.mailUser(tn, "dave", carol.PrimarySmtpAddress)
		erin := e.mailUser(tn, "erin", "erin@remote.test")
		e.mailUser(tn, "loop1", "loop2"+dom)
		e.mailUser(tn, "loop2", "loop1"+dom)
		e.mailUser(tn, "gina", "nobody@remote.test")

		r, err := e.svc.Resolve(bg, dave.PrimarySmtpAddress, false)
		if err != nil || r.Kind != "mailbox" || r.MailboxGUID != carol.ExchangeGuid || len(r.Via) != 1 {
			t.Fatalf("Resolve(dave) = %+v, %v; want carol's mailbox via dave", r, err)
		}
		if r, err := e.svc.Resolve(bg, erin.PrimarySmtpAddress, false); err != nil || r.Kind != "remote" || r.Address != "erin@remote.test" {
			t.Fatalf("Resolve(erin) = %+v, %v", r, err)
		}
		if r, err := e.svc.Resolve(bg, team.PrimarySmtpAddress, false); err != nil || r.Kind != "group" {
			t.Fatalf("Resolve(team) = %+v, %v", r, err)
		}
		for _, c := range []struct {
			addr   string
			relay  bool
			status string
		}{{"nobody" + dom, false, "5.1.1"}, {"x@foreign.test", false, "5.1.2"}, {"loop1" + dom, false, "5.4.6"}} {
			_, err := e.svc.Resolve(bg, c.addr, c.relay)
			if de := delivery.AsError(err); de == nil || de.StatusText() != c.status {
				t.Fatalf("Resolve(%s) error = %v, want status %s", c.addr, err, c.status)
			}
		}
		if r, err := e.svc.Resolve(bg, "x@foreign.test", true); err != nil || r.Kind != "remote" {
			t.Fatalf("Resolve(foreign, relay) = %+v, %v", r, err)
		}

		sender := alice.PrimarySmtpAddress
		qt := e.send(sender, []string{team.PrimarySmtpAddress}, message(sender, "team", "t", "to the team"))
		e.waitInbox(bob, 1)
		e.waitState(qt.ID, team.PrimarySmtpAddress, delivery.StateExpanded)
		e.waitState(qt.ID, bob.PrimarySmtpAddress, delivery.StateDelivered)

		e.send(sender, []string{dave.PrimarySmtpAddress}, message(sender, "dave", "d", "forwarded locally"))
		if got := e.waitInbox(carol, 1); !strings.Contains(got[0], "forwarded locally") {
			t.Fatalf("carol got %q", got[0])
		}

		body := message(sender, "erin", "e", "forwarded out")
		qe := e.send(sender, []string{erin.PrimarySmtpAddress}, body)
		if res := e.waitState(qe.ID, erin.PrimarySmtpAddress, delivery.StateRelayed); res != sk.Addr+" plaintext" {
			t.Fatalf("relayed via %q, want %s plaintext (the sink offers no STARTTLS)", res, sk.Addr)
		}
		m := sk.messages()
		if len(m) != 1 || m[0].From != sender || len(m[0].To) != 1 || m[0].To[0] != "erin@remote.test" || stripReceived(t, string(m[0].Data)) != body {
			t.Fatalf("remote got %+v", m)
		}

		// Failures: each bounces to alice with a DSN.
		ql := e.send(sender, []string{"loop1" + dom}, message(sender, "loop", "l", "loop"))
		qu := e.send(sender, []string{"nobody" + dom}, message(sender, "nobody", "u", "unknown"))
		qg := e.send(sender, []string{"gina" + dom}, message(sender, "gina", "g", "refused remotely"))
		for _, c := range []struct{ id, rcpt, status string }{{ql.ID, "loop1" + dom, "5.4.6"}, {qu.ID, "nobody" + dom, "5.1.1"}, {qg.ID, "gina" + dom, "5.1.1"}} {
			if res := e.waitState(c.id, c.rcpt, delivery.StateBounced); !strings.HasPrefix(res, c.status) {
				t.Fatalf("%s bounced with %q, want %s", c.rcpt, res, c.status)
			}
		}
		dsns := e.waitInbox(alice, 4) // the team copy and three DSNs
		var n int
		for _, raw := range dsns {
			if strings.Contains(raw, "multipart/report; report-type=delivery-status") {
				n++
				if !strings.Contains(raw, "Action: failed") || !strings.Contains(raw, "Final-Recipient: rfc822;") {
					t.Fatalf("DSN without the RFC 3464 fields:\n%s", raw)
				}
			}
		}
		if n != 3 {
			t.Fatalf("alice has %d DSNs, want 3", n)
		}
		if !strings.Contains(strings.Join(dsns, "\n"), "said: 550 no such user") {
			t.Fatalf("the remote refusal's text is missing from the DSN")
		}
	})
}

// TestHopLimit: a message whose Received fields (ours included) exceed
// MaxHops is bounced as a loop and never delivered or forwarded; one at the
// limit is delivered; a looping message with the null sender is dropped
// without a DSN.
func TestHopLimit(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		sk := newSink(t)
		e := newEnv(t, d, map[string]string{"remote.test": sk.Addr}, nil)
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		fwd := e.mailUser(tn, "fwd", "out@remote.test")
		hops := func(n int) string {
			return strings.Repeat("Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0000\r\n", n) + message("x@y", "z", "h", "hops")
		}
		ok := e.send(alice.PrimarySmtpAddress, []string{alice.PrimarySmtpAddress}, hops(delivery.DefaultMaxHops-1))
		if ok.Hops != delivery.DefaultMaxHops {
			t.Fatalf("hops = %d, want %d", ok.Hops, delivery.DefaultMaxHops)
		}
		e.waitState(ok.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)

		loop := e.send(alice.PrimarySmtpAddress, []string{fwd.PrimarySmtpAddress}, hops(delivery.DefaultMaxHops))
		if res := e.waitState(loop.ID, fwd.PrimarySmtpAddress, delivery.StateBounced); !strings.HasPrefix(res, "5.4.6") {
			t.Fatalf("bounce status %q, want 5.4.6", res)
		}
		null := e.send("", []string{alice.PrimarySmtpAddress}, hops(delivery.DefaultMaxHops+5))
		e.waitState(null.ID, alice.PrimarySmtpAddress, delivery.StateBounced)
		got := e.waitInbox(alice, 2) // the message at the limit and one DSN
		eventually(t, 10*time.Second, func() bool { return e.states()[delivery.StateQueued] == 0 }, func() string { return "queue not drained" })
		if n := len(e.inbox(alice)); n != 2 || !strings.Contains(got[1], "5.4.6") {
			t.Fatalf("alice has %d messages (want 2: one delivered, one DSN for the loop)", n)
		}
		if len(sk.messages()) != 0 {
			t.Fatalf("a looping message was forwarded")
		}
	})
}

// TestHeldAndRelease: delivery to a locked mailbox is held (no attempt
// counted, nothing refused); Release after unlocking delivers at once
// (HoldRecheck is an hour here); after a completed move — the recipient
// became a MailUser and the mailbox was retired — the released message is
// forwarded to the new mailbox, never into the old one.
func TestHeldAndRelease(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, be *blobtest.Env) {
		d := be.DB
		e := newEnvOn(t, be, nil, func(s *delivery.Service) { s.HoldRecheck = time.Hour })
		src, dst := e.tenant("contoso"), e.tenant("fabrikam")
		alice := e.mailbox(src, "alice")
		target := e.mailbox(dst, "alice")
		mb, err := e.store.Mailbox(bg, src.ID, alice.ExchangeGuid)
		if err != nil {
			t.Fatal(err)
		}
		setState := func(st string) {
			t.Helper()
			if err := e.store.SetMailboxState(bg, mb.ID, mailboxState(st)); err != nil {
				t.Fatal(err)
			}
		}

		setState("locked")
		q := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", "alice", "held1", "while locked"))
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateHeld)
		// Held is the outcome of the delivery job, which has ended: the
		// next attempt is the recheck a minute later, or the Release below.
		if st, _, attempts := e.row(q.ID, alice.PrimarySmtpAddress); st != delivery.StateHeld || attempts != 0 {
			t.Fatalf("row is %s with %d attempts, want held with 0", st, attempts)
		}
		if n := len(e.inbox(alice)); n != 0 {
			t.Fatalf("a locked mailbox received %d messages", n)
		}
		setState("active")
		if err := e.svc.Release(bg, src.ID, strings.ToUpper(alice.ExchangeGuid)); err != nil {
			t.Fatal(err)
		}
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)

		// A completing move: lock, hold two messages, convert, retire, release.
		setState("locked")
		q1 := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", "alice", "held2", "during completion"))
		q2 := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", "alice", "held3", "during completion"))
		e.waitState(q1.ID, alice.PrimarySmtpAddress, delivery.StateHeld)
		e.waitState(q2.ID, alice.PrimarySmtpAddress, delivery.StateHeld)
		if err := d.Write(bg, func(tx *db.Tx) error {
			_, err := e.dir.ConvertToMailUser(bg, tx, src.ID, alice.ID, target.PrimarySmtpAddress, "")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		setState("retired")
		if err := e.svc.Release(bg, src.ID, alice.ExchangeGuid); err != nil {
			t.Fatal(err)
		}
		e.waitState(q1.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)
		e.waitState(q2.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)
		if got := e.waitInbox(target, 2); !strings.Contains(got[0], "during completion") {
			t.Fatalf("target got %q", got[0])
		}
		if n := len(e.inbox(alice)); n != 1 {
			t.Fatalf("the retired source has %d messages, want only the first one", n)
		}
		if err := e.svc.Release(bg, src.ID, alice.ExchangeGuid); err != nil {
			t.Fatalf("releasing with nothing held: %v", err)
		}

		// ReleaseTx in the transaction that unlocks the mailbox.
		tmb, _ := e.store.Mailbox(bg, dst.ID, target.ExchangeGuid)
		if err := e.store.SetMailboxState(bg, tmb.ID, mailboxState("locked")); err != nil {
			t.Fatal(err)
		}
		q4 := e.send("x@example.org", []string{target.PrimarySmtpAddress}, message("x@example.org", "alice", "held4", "unlock and release together"))
		e.waitState(q4.ID, target.PrimarySmtpAddress, delivery.StateHeld)
		if err := d.Write(bg, func(tx *db.Tx) error {
			if _, err := tx.ExecContext(bg, `UPDATE mailboxes SET state = 'active' WHERE id = ?`, tmb.ID); err != nil {
				return err
			}
			n, err := e.svc.ReleaseTx(bg, tx, dst.ID, target.ExchangeGuid)
			if err == nil && n != 1 {
				t.Errorf("ReleaseTx released %d, want 1", n)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		e.waitState(q4.ID, target.PrimarySmtpAddress, delivery.StateDelivered)
	})
}

// TestHoldRecheck: without a Release, a held delivery is retried after
// HoldRecheck and delivered once the mailbox is unlocked.
func TestHoldRecheck(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, func(s *delivery.Service) { s.HoldRecheck = 300 * time.Millisecond })
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		mb, _ := e.store.Mailbox(bg, tn.ID, alice.ExchangeGuid)
		if err := e.store.SetMailboxState(bg, mb.ID, mailboxState("locked")); err != nil {
			t.Fatal(err)
		}
		q := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", "alice", "r", "recheck"))
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateHeld)
		// A recheck while still locked holds again, under a fresh job id:
		// wait for one, then the row is still held without an attempt.
		first := e.heldJob(q.ID, alice.PrimarySmtpAddress)
		seen := map[int64]bool{first: true}
		eventually(t, 20*time.Second, func() bool {
			seen[e.heldJob(q.ID, alice.PrimarySmtpAddress)] = true
			return len(seen) >= 2
		}, func() string { return fmt.Sprintf("%d hold jobs seen, want 2 (a recheck)", len(seen)) })
		if st, _, attempts := e.row(q.ID, alice.PrimarySmtpAddress); st != delivery.StateHeld || attempts != 0 {
			t.Fatalf("row is %s with %d attempts, want held with 0", st, attempts)
		}
		if err := e.store.SetMailboxState(bg, mb.ID, mailboxState("active")); err != nil {
			t.Fatal(err)
		}
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)
	})
}

// TestExpiry: a destination that stays unreachable is retried (attempts
// recorded) until the lifetime ends, then bounced with 4.4.7 and a DSN.
func TestExpiry(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, map[string]string{"down.test": closedPort(t)}, func(s *delivery.Service) { s.Lifetime = 1500 * time.Millisecond })
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		out := e.mailUser(tn, "out", "someone@down.test")
		q := e.send(alice.PrimarySmtpAddress, []string{out.PrimarySmtpAddress}, message(alice.PrimarySmtpAddress, "out", "x", "never arrives"))
		if res := e.waitState(q.ID, out.PrimarySmtpAddress, delivery.StateBounced); !strings.HasPrefix(res, "4.4.7") {
			t.Fatalf("bounce status %q, want 4.4.7", res)
		}
		if _, _, attempts := e.row(q.ID, out.PrimarySmtpAddress); attempts < 2 {
			t.Fatalf("only %d attempts before the expiry", attempts)
		}
		got := e.waitInbox(alice, 1)
		if !strings.Contains(got[0], "Status: 4.4.7") || !strings.Contains(got[0], "To: <"+alice.PrimarySmtpAddress+">") {
			t.Fatalf("DSN:\n%s", got[0])
		}
	})
}

// TestCheckRecipient: the RCPT-time decisions of the MX and submission
// listeners.
func TestCheckRecipient(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, nil)
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		e.mailUser(tn, "mu", "x@elsewhere.test")
		for _, c := range []struct {
			addr  string
			relay bool
			code  int
		}{
			{alice.PrimarySmtpAddress, false, 0},
			{"MU@Contoso.Tenantferry.Test", false, 0},
			{"ghost@contoso.tenantferry.test", false, 550},
			{"ghost@contoso.tenantferry.test", true, 550},
			{"someone@gmail.example", false, 554},
			{"someone@gmail.example", true, 0},
			{"no-at-sign", true, 501},
		} {
			err := e.svc.CheckRecipient(bg, c.addr, c.relay, 0)
			code := 0
			if err != nil {
				code = delivery.AsError(err).Code
			}
			if code != c.code {
				t.Errorf("CheckRecipient(%s, relay=%v) = %v, want code %d", c.addr, c.relay, err, c.code)
			}
		}
		u, err := e.svc.Login(bg, alice.PrimarySmtpAddress, "secret-alice")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.svc.CheckSender(bg, u, strings.ToUpper(alice.PrimarySmtpAddress)); err != nil {
			t.Fatalf("own address refused: %v", err)
		}
		if err := e.svc.CheckSender(bg, u, "ceo@contoso.tenantferry.test"); delivery.AsError(err).StatusText() != "5.7.1" {
			t.Fatalf("foreign sender: %v", err)
		}
		for _, bad := range [][2]string{{alice.PrimarySmtpAddress, "wrong"}, {"ghost@contoso.tenantferry.test", "x"}, {"mu@contoso.tenantferry.test", ""}} {
			if _, err := e.svc.Login(bg, bad[0], bad[1]); delivery.AsError(err).Code != 535 {
				t.Fatalf("Login(%s) = %v, want 535", bad[0], err)
			}
		}
		if de := delivery.AsError(errs.Internalf(nil, "boom")); !de.Temporary() {
			t.Fatalf("an internal error maps to %v, want temporary", de)
		}
	})
}
