package mailauth_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// freeAddrOn returns ip:port with a port free a moment ago (every
// 127.0.0.0/8 address is on the loopback interface).
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// forwardRig is the two servers of testForwarding after the move.
type forwardRig struct {
	t           *testing.T
	a, b        *scenario.Server
	smtpA, subB string
	src, sender *directory.Recipient
	envFrom     string // the SRS sender of the last forward B received
	dnsAddr     string
}

// startForwarding starts A and B with DNS for the three domains, moves
// user01 from contoso (A) to fabrikam (B) and creates northwind's sender.
func startForwarding(t *testing.T, dns *dnstest.Server) *forwardRig {
	ctx := context.Background()
	const ipA, ipB = "127.0.0.2", "127.0.0.3"
	smtpA, smtpB, subB := freeAddrOn(t, ipA), freeAddrOn(t, ipB), freeAddrOn(t, ipB)
	edit := func(ip, host, sub string) func(*scenario.Config) {
		return func(c *scenario.Config) {
			c.Hostname, c.SMTPBindAddress = host, ip
			if sub != "" {
				c.Submission = sub
			}
		}
	}
	a := scenario.StartWith(t, scenario.Options{SMTP: smtpA, DNSResolver: dns.Addr,
		Transports: map[string]string{"fabrikam.tenantferry.test": smtpB, "northwind.tenantferry.test": smtpB}}, edit(ipA, "mx.a.example", ""))
	b := scenario.StartWith(t, scenario.Options{SMTP: smtpB, DNSResolver: dns.Addr,
		Transports: map[string]string{"contoso.tenantferry.test": smtpA}}, edit(ipB, "mx.b.example", subB))
	a.Tenant("contoso")
	b.Tenant("fabrikam")
	b.Tenant("northwind")
	for _, x := range []struct {
		s           *scenario.Server
		tenant, ip  string
		domain      string
		dmarcPolicy string
	}{{a, "contoso", ipA, "contoso.tenantferry.test", "reject"}, {b, "fabrikam", ipB, "fabrikam.tenantferry.test", "reject"},
		{b, "northwind", ipB, "northwind.tenantferry.test", "reject"}} {
		ks, err := x.s.Admin.AddDkimKeys(ctx, x.s.Op, x.tenant, x.domain, "")
		if err != nil {
			t.Fatal(err)
		}
		publish(t, dns, ks)
		dns.Add(t, x.domain+`. TXT "v=spf1 ip4:`+x.ip+` -all"`, `_dmarc.`+x.domain+`. TXT "v=DMARC1; p=`+x.dmarcPolicy+`"`)
	}

	// The move of user01 from contoso (A) to fabrikam (B), completed.
	src := a.Mailbox("contoso", "user01", "pw-user01", false)
	scenario.Fill(t, a.Store, a.Content("contoso", src.ExchangeGuid).ID, []scenario.Item{{Folder: "Inbox", Date: time.Now(),
		Data: testMessage("old@partner.example", "user01@contoso.tenantferry.test", "before the move")}})
	tr := scenario.SetupTrust(t, a, "contoso", b, "fabrikam")
	tr.AddToScope(t, a, "user01")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\n")
	if _, err := b.Admin.PrepareMailUsers(ctx, b.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.CreateBatch(ctx, b.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: csv,
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true, AutoComplete: true}); err != nil {
		t.Fatal(err)
	}
	scenario.Eventually(t, 3*time.Minute, "the move completed", func() error {
		us, err := b.Admin.BatchUsers(ctx, b.Op, "fabrikam", "wave1")
		if err != nil || len(us) != 1 {
			return fmt.Errorf("%v %d users", err, len(us))
		}
		if us[0].Status == migration.StateFailed {
			t.Fatalf("move failed: %+v", us[0].Error)
		}
		if us[0].Status != migration.StateCompleted {
			return fmt.Errorf("%s %s", us[0].Status, us[0].StatusDetail)
		}
		return nil
	})
	old, err := a.Dir.GetRecipient(ctx, tr.SourceTenant.ID, "user01")
	if err != nil || old.Type != directory.MailUser {
		t.Fatalf("source after the move: %v %+v", err, old)
	}
	sender := b.Mailbox("northwind", "sender", "pw-sender", false)

	return &forwardRig{t: t, a: a, b: b, smtpA: smtpA, subB: subB, src: src, sender: sender, dnsAddr: dns.Addr}
}

// submit sends a message from northwind's user through B's submission,
// with extraReceived Received fields of earlier hops.
func (r *forwardRig) submit(to, subject string, extraReceived int) {
	r.t.Helper()
	var hdr strings.Builder
	for i := range extraReceived {
		fmt.Fprintf(&hdr, "Received: from relay%d.example by relay%d.example; Thu, 03 Dec 2026 09:00:00 +0000\r\n", i, i+1)
	}
	msg := append([]byte(hdr.String()), testMessage(r.sender.PrimarySmtpAddress, to, subject)...)
	c, err := smtp.Dial(r.subB)
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", r.sender.PrimarySmtpAddress, "pw-sender")); err != nil {
		r.t.Fatal(err)
	}
	if err := c.SendMail(r.sender.PrimarySmtpAddress, []string{to}, bytes.NewReader(msg)); err != nil {
		r.t.Fatal(err)
	}
	c.Quit()
}

// checkForwarded checks the forwarded message as B stored it: B's
// verdicts, A's ARC set, the SRS sender, and the verdicts of pyspf,
// python3-dkim and rspamd.
func (r *forwardRig) checkForwarded(stored []byte, rs *rspamd) {
	t, ctx := r.t, context.Background()

	// B stored its own Authentication-Results and Received above the bytes
	// A sent: A's ARC set and contoso's signatures, then what A received.
	if !bytes.HasPrefix(stored, []byte("Authentication-Results: mx.b.example;\r\n")) {
		t.Fatalf("stored message at B does not start with B's Authentication-Results:\n%s", head(stored))
	}
	arB := string(stored[:bytes.Index(stored, []byte("\r\nReceived: "))])
	for _, w := range []string{"spf=pass smtp.mailfrom=SRS0=", "@contoso.tenantferry.test", "dkim=pass header.d=contoso.tenantferry.test",
		"dkim=pass header.d=northwind.tenantferry.test", "dmarc=pass (p=reject) header.from=northwind.tenantferry.test", "arc=pass"} {
		if !strings.Contains(arB, w) {
			t.Errorf("B's Authentication-Results lacks %q:\n%s", w, arB)
		}
	}
	afterB := stored[bytes.Index(stored, []byte("\r\nARC-Seal: "))+2:]
	if !bytes.HasPrefix(afterB, []byte("ARC-Seal: i=1;")) || !bytes.Contains(afterB, []byte("ARC-Authentication-Results: i=1; mx.a.example;")) {
		t.Fatalf("no ARC set of A:\n%s", head(stored))
	}

	// The envelope sender B saw (B's queue row; read-only).
	var envFrom string
	if err := r.b.DB.Read().QueryRowContext(ctx, `SELECT mail_from FROM queue_messages WHERE source = 'smtp' AND mail_from LIKE 'SRS0=%' ORDER BY id DESC`).Scan(&envFrom); err != nil {
		t.Fatalf("B's queue has no SRS sender: %v", err)
	}
	if !strings.HasSuffix(envFrom, "@contoso.tenantferry.test") {
		t.Fatalf("envelope sender %q", envFrom)
	}
	// Independent verdicts on the message as B received it.
	if got := verify(t, r.dnsAddr, "spf", []byte("127.0.0.2"+" "+envFrom+" mx.a.example\n"+"127.0.0.2"+" "+r.sender.PrimarySmtpAddress+" mx.a.example\n")); got != "pass\nfail" {
		t.Fatalf("pyspf: SRS sender / original sender from A = %q, want pass and fail", got)
	}
	if got := verify(t, r.dnsAddr, "dkim", stored); strings.Count(got, "pass") != 4 || strings.Contains(got, "fail") {
		t.Fatalf("python3-dkim on the forwarded message: %q (want 4 signatures passing: northwind and contoso, Ed25519 and RSA)", got)
	}
	if got := verify(t, r.dnsAddr, "arc", stored); got != "pass" {
		t.Fatalf("python3-dkim arc_verify on the forwarded message: %q", got)
	}
	syms := rs.check(t, stored, "127.0.0.2", "mx.a.example", envFrom, "user01@fabrikam.tenantferry.test")
	wantSymbols(t, "forwarded message", syms, "R_DKIM_ALLOW", "R_SPF_ALLOW", "ARC_ALLOW", "DMARC_POLICY_ALLOW")
	for _, bad := range []string{"R_DKIM_REJECT", "R_SPF_FAIL", "ARC_REJECT", "ARC_INVALID"} {
		if _, ok := syms[bad]; ok {
			t.Errorf("rspamd: %s %s", bad, syms[bad])
		}
	}
	r.envFrom = envFrom
}

// The post-cutover forwarding of docs/architecture.md §1 step 14 between two servers on
// the Internet, as far as loopback allows: server A (127.0.0.2) hosts the
// source tenant contoso, server B (127.0.0.3) the target fabrikam and a
// third tenant, northwind, whose user writes to the moved user's old
// address. Each server sends from its own address, and the test zone
// publishes SPF, DKIM and DMARC (p=reject) for all three domains, so the
// forward must carry an SRS sender (northwind's SPF does not list A), a
// DKIM signature of contoso and an ARC set for B and for rspamd to accept
// it; and a bounce B sends to the SRS address must come back, through A,
// to the original sender.
func testForwarding(t *testing.T, dns *dnstest.Server, rs *rspamd) {
	r := startForwarding(t, dns)
	// northwind's user writes to the old address, through B's submission.
	r.submit("user01@contoso.tenantferry.test", "forwarded after the move", 0)
	stored := waitMessage(t, r.b, "fabrikam", r.src.ExchangeGuid, mailstore.UseInbox, "forwarded after the move")
	r.checkForwarded(stored, rs)

	// A message B cannot deliver (it has passed too many hops by the time
	// it reaches B) is bounced by B to the SRS address; A checks the hash
	// and routes the DSN to the original sender.
	r.submit("user01@contoso.tenantferry.test", "bounced after the move", r.a.Delivery.MaxHops-2)
	dsn := waitMessage(t, r.b, "northwind", r.sender.ExchangeGuid, mailstore.UseInbox, "Undelivered Mail Returned to Sender")
	if !bytes.Contains(dsn, []byte("Subject: bounced after the move")) || !bytes.Contains(dsn, []byte("Status: 5.4.6")) {
		t.Fatalf("the DSN does not report the bounced message:\n%s", dsn)
	}

	// A forged bounce address is refused at RCPT, nothing queued.
	forged := "SRS0=aaaaaaaa=" + r.envFrom[len("SRS0=")+9:]
	err := scenario.Send(r.smtpA, "", []string{forged}, testMessage("mailer-daemon@evil.example", forged, "forged bounce"))
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("forged SRS bounce: %v", err)
	}

	testPolicy(t, dns, r.a, r.smtpA)

	// Mail between tenants of one server never crosses the MX: not
	// checked, not penalised (no Authentication-Results is added).
	r.submit("user01@fabrikam.tenantferry.test", "between tenants of B", 0)
	local := waitMessage(t, r.b, "fabrikam", r.src.ExchangeGuid, mailstore.UseInbox, "between tenants of B")
	if !bytes.HasPrefix(local, []byte("Received: ")) {
		t.Fatalf("mail between tenants of one server was changed:\n%s", head(local))
	}
}

// testPolicy sends mail to server a's MX (from 127.0.0.1) that fails DMARC:
// p=reject is refused at DATA with nothing queued, p=quarantine lands in
// Junk Email with its Authentication-Results.
func testPolicy(t *testing.T, dns *dnstest.Server, a *scenario.Server, smtpA string) {
	ctx := context.Background()
	dns.Add(t, `quarantine.example. TXT "v=spf1 -all"`, `_dmarc.quarantine.example. TXT "v=DMARC1; p=quarantine"`)
	rcpt := a.Mailbox("contoso", "user02", "pw-user02", false)
	count := func() (n int) {
		a.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM queue_messages`).Scan(&n)
		return n
	}
	before := count()
	err := scenario.Send(smtpA, "ceo@northwind.tenantferry.test", []string{rcpt.PrimarySmtpAddress},
		testMessage("ceo@northwind.tenantferry.test", rcpt.PrimarySmtpAddress, "spoofed"))
	if err == nil || !strings.Contains(err.Error(), "550") || !strings.Contains(err.Error(), "DMARC") {
		t.Fatalf("p=reject spoof: %v, want 550 5.7.1 at DATA", err)
	}
	if after := count(); after != before {
		t.Fatalf("a refused message was queued (%d → %d rows)", before, after)
	}
	if err := scenario.Send(smtpA, "eve@quarantine.example", []string{rcpt.PrimarySmtpAddress},
		testMessage("eve@quarantine.example", rcpt.PrimarySmtpAddress, "quarantined")); err != nil {
		t.Fatal(err)
	}
	junk := waitMessage(t, a, "contoso", rcpt.ExchangeGuid, mailstore.UseJunk, "quarantined")
	if !bytes.Contains(head(junk), []byte("dmarc=fail (p=quarantine) header.from=quarantine.example")) {
		t.Fatalf("quarantined message:\n%s", head(junk))
	}
}

// waitMessage waits for a message with the subject in a folder of a
// mailbox and returns its stored bytes.
func waitMessage(t *testing.T, s *scenario.Server, tenant, guid, use, subject string) []byte {
	t.Helper()
	ctx := context.Background()
	mb := s.Content(tenant, guid)
	var out []byte
	scenario.Eventually(t, 2*time.Minute, subject+" in "+tenant, func() error {
		f, err := s.Store.FolderBySpecialUse(ctx, mb.ID, use)
		if err != nil {
			return err
		}
		snap, err := s.Store.Select(ctx, mb.ID, f.ID)
		if err != nil {
			return err
		}
		for _, m := range snap.Messages {
			its, err := s.Store.Fetch(ctx, mb.ID, f.ID, mailstore.UIDs(m.UID))
			if err != nil || len(its) != 1 || its[0].Subject != subject {
				continue
			}
			rc, err := s.Store.Blobs().Open(ctx, its[0].SHA256)
			if err != nil {
				return err
			}
			defer rc.Close()
			out, err = io.ReadAll(rc)
			return err
		}
		return fmt.Errorf("not there yet")
	})
	return out
}

// head returns the header section of a message, for failure output.
func head(msg []byte) []byte {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return msg[:i]
	}
	return msg
}
