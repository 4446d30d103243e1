package mailauth_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// TestIndependentVerifiers checks what tenantferry signs, seals and
// concludes against verifiers nobody here wrote, all started by the test
// on 127.0.0.1 with DNS from the test's loopback server: python3-dkim
// (DKIM and ARC), rspamd (DKIM, SPF, DMARC, ARC symbols) — and, across two
// tenantferry servers, the post-cutover forwarding of a completed move.
func TestIndependentVerifiers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rspamd and two servers")
	}
	needPython(t, "dkim", "spf", "dns.resolver")
	d := dbtest.Open(t, db.SQLite)
	e := newAuthEnv(t, d, "example", "tenantferry.test")
	rs := startRspamd(t, e.dns.Addr)
	t.Run("dkim", func(t *testing.T) { testDKIMVerifiers(t, e, rs) })
	t.Run("arc", func(t *testing.T) { testARCVerifiers(t, e, rs) })
	t.Run("inbound", func(t *testing.T) { testInbound(t, e) })
	t.Run("forwarding across two servers", func(t *testing.T) { testForwarding(t, e.dns, rs) })
}

// dkimDomain sets up a tenant with keys for domain, published with SPF
// (ip) and DMARC (policy) records.
func dkimDomain(t *testing.T, e *authEnv, tenant, domain, ip, policy string) string {
	t.Helper()
	id := e.tenant(t, tenant, domain)
	ks, err := e.svc.AddKeys(bg, id, domain, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, e.dns, ks)
	e.dns.Add(t, domain+`. TXT "v=spf1 ip4:`+ip+` -all"`, `_dmarc.`+domain+`. TXT "v=DMARC1; p=`+policy+`"`)
	return id
}

func testDKIMVerifiers(t *testing.T, e *authEnv, rs *rspamd) {
	contoso := dkimDomain(t, e, "contoso", "contoso.example", "127.0.0.2", "reject")
	msg := testMessage("alice@contoso.example", "bob@example.net", "dkim verifiers")
	sigs, err := e.svc.SignDKIM(bg, contoso, "contoso.example", bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	signed := append(sigs, msg...)
	if got := verify(t, e.dns.Addr, "dkim", signed); got != "0 pass\n1 pass" {
		t.Fatalf("python3-dkim: %q\n%s", got, signed)
	}
	syms := rs.check(t, signed, "127.0.0.2", "mail.contoso.example", "alice@contoso.example", "bob@example.net")
	wantSymbols(t, "signed message", syms, "R_DKIM_ALLOW", "R_SPF_ALLOW", "DMARC_POLICY_ALLOW")
	if _, bad := syms["R_DKIM_REJECT"]; bad {
		t.Errorf("rspamd rejects one of the signatures: %s", syms["R_DKIM_REJECT"])
	}

	// Real-world messages of the corpus (odd charsets, bare LF, long
	// lines): every signature verifies on the message as SMTP carries it.
	n, unparseable := 0, 0
	for _, m := range corpus.Messages(t) {
		if n == 40 {
			break
		}
		if !bytes.Contains(m.Data, []byte("\n\n")) && !bytes.Contains(m.Data, []byte("\r\n\r\n")) {
			continue // no body separator: nothing to sign against
		}
		sigs, err := e.svc.SignDKIM(bg, contoso, "contoso.example", bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("sign %s: %v", m.Entry.Path, err)
		}
		got := verify(t, e.dns.Addr, "dkim", append(sigs, wire(m.Data)...))
		if strings.HasPrefix(got, "unparseable") {
			unparseable++
			continue
		}
		// Ours are the first two; a signature the corpus message came
		// with cannot verify here (its key is in no served zone).
		if !strings.HasPrefix(got+"\n", "0 pass\n1 pass\n") {
			t.Errorf("python3-dkim on corpus %s: %q", m.Entry.Path, got)
		}
		n++
	}
	t.Logf("%d corpus messages signed and verified by python3-dkim (%d skipped: python3-dkim cannot parse them)", n, unparseable)
	if n < 30 {
		t.Fatalf("only %d corpus messages verified", n)
	}
}

func testARCVerifiers(t *testing.T, e *authEnv, rs *rspamd) {
	fwd := dkimDomain(t, e, "forwarder", "forwarder.example", "127.0.0.4", "none")
	second := dkimDomain(t, e, "second", "second.example", "127.0.0.5", "none")
	orig := testMessage("carol@origin.example", "list@forwarder.example", "arc verifiers")
	open := func(b []byte) func() io.Reader { return func() io.Reader { return bytes.NewReader(b) } }
	hop1, err := e.svc.Outbound(bg, mailauth.Outgoing{TenantID: fwd, Domain: "forwarder.example", Seal: true,
		Results: "spf=pass smtp.mailfrom=carol@origin.example;\r\n\tdkim=none", Chain: mailauth.ARCNone}, open(orig))
	if err != nil {
		t.Fatal(err)
	}
	msg1 := append(hop1, orig...)
	if !bytes.HasPrefix(msg1, []byte("ARC-Seal: i=1;")) || !bytes.Contains(msg1, []byte("ARC-Authentication-Results: i=1; mx.test;")) {
		t.Fatalf("first hop:\n%s", msg1)
	}
	if got := verify(t, e.dns.Addr, "arc", msg1); got != "pass" {
		t.Fatalf("python3-dkim arc_verify after one hop: %q\n%s", got, msg1)
	}
	wantSymbols(t, "one ARC set", rs.check(t, msg1, "127.0.0.4", "mx.forwarder.example", "x@forwarder.example", "y@example.net"), "ARC_ALLOW")

	// Our own validation of it, then a second hop (i=2, cv=pass).
	v := e.svc.Check(bg, mailauth.Inbound{IP: net.ParseIP("127.0.0.4"), Helo: "mx.forwarder.example", MailFrom: "x@forwarder.example"}, open(msg1))
	if v.ARC != mailauth.ARCPass || v.ARCInstance != 1 {
		t.Fatalf("our ARC validation: %s %d", v.ARC, v.ARCInstance)
	}
	hop2, err := e.svc.Outbound(bg, mailauth.Outgoing{TenantID: second, Domain: "second.example", Seal: true, Results: v.Results(),
		Chain: v.ARC, Instance: v.ARCInstance}, open(msg1))
	if err != nil {
		t.Fatal(err)
	}
	msg2 := append(hop2, msg1...)
	if !bytes.HasPrefix(msg2, []byte("ARC-Seal: i=2;")) || !bytes.Contains(msg2, []byte("cv=pass")) {
		t.Fatalf("second hop:\n%s", msg2)
	}
	if got := verify(t, e.dns.Addr, "arc", msg2); got != "pass" {
		t.Fatalf("python3-dkim arc_verify after two hops: %q", got)
	}
	wantSymbols(t, "two ARC sets", rs.check(t, msg2, "127.0.0.5", "mx.second.example", "x@second.example", "y@example.net"), "ARC_ALLOW")
	v = e.svc.Check(bg, mailauth.Inbound{IP: net.ParseIP("127.0.0.5"), Helo: "mx.second.example", MailFrom: "x@second.example"}, open(msg2))
	if v.ARC != mailauth.ARCPass || v.ARCInstance != 2 {
		t.Fatalf("our ARC validation of two sets: %s %d", v.ARC, v.ARCInstance)
	}
	// A changed body breaks the newest message signature: fail for us and
	// for python3-dkim alike.
	tampered := bytes.Replace(msg2, []byte("Hello,"), []byte("Hullo,"), 1)
	if got := verify(t, e.dns.Addr, "arc", tampered); got != "fail" {
		t.Fatalf("python3-dkim on a tampered chain: %q", got)
	}
	if v := e.svc.Check(bg, mailauth.Inbound{IP: net.ParseIP("127.0.0.5"), MailFrom: "x@second.example"}, open(tampered)); v.ARC != mailauth.ARCFail {
		t.Fatalf("our validation of a tampered chain: %s", v.ARC)
	}
}

func testInbound(t *testing.T, e *authEnv) {
	acme := dkimDomain(t, e, "acme", "acme.example", "127.0.0.6", "reject")
	e.dns.Add(t, `quarantine.example. TXT "v=spf1 ip4:127.0.0.7 -all"`, `_dmarc.quarantine.example. TXT "v=DMARC1; p=quarantine; adkim=s"`)
	msg := testMessage("alice@acme.example", "bob@example.net", "inbound")
	sigs, err := e.svc.SignDKIM(bg, acme, "acme.example", bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	signed := append(sigs, msg...)
	check := func(m []byte, ip, from string) *mailauth.Verdict {
		return e.svc.Check(bg, mailauth.Inbound{IP: net.ParseIP(ip), Helo: "client.example", MailFrom: from}, func() io.Reader { return bytes.NewReader(m) })
	}
	cases := []struct {
		name, ip, from string
		msg            []byte
		action         mailauth.Action
		want           []string
	}{
		{"signed, SPF pass", "127.0.0.6", "alice@acme.example", signed, mailauth.Accept,
			[]string{"spf=pass smtp.mailfrom=alice@acme.example", "dkim=pass header.d=acme.example", "dmarc=pass (p=reject) header.from=acme.example", "arc=none"}},
		{"signed, from elsewhere (a forward)", "127.0.0.99", "alice@acme.example", signed, mailauth.Accept,
			[]string{"spf=fail", "dkim=pass header.d=acme.example", "dmarc=pass"}},
		{"unsigned, SPF pass", "127.0.0.6", "alice@acme.example", msg, mailauth.Accept, []string{"spf=pass", "dkim=none", "dmarc=pass"}},
		{"unsigned, from elsewhere: p=reject", "127.0.0.99", "alice@acme.example", msg, mailauth.Reject, []string{"spf=fail", "dmarc=fail (p=reject)"}},
		{"tampered signature, from elsewhere", "127.0.0.99", "alice@acme.example", bytes.Replace(signed, []byte("Hello,"), []byte("Hullo,"), 1),
			mailauth.Reject, []string{"dkim=fail header.d=acme.example", "dmarc=fail"}},
		{"p=quarantine", "127.0.0.99", "eve@quarantine.example", testMessage("eve@quarantine.example", "bob@example.net", "q"), mailauth.Quarantine,
			[]string{"spf=fail", "dmarc=fail (p=quarantine) header.from=quarantine.example"}},
		{"no DMARC record", "127.0.0.99", "x@nodmarc.example", testMessage("x@nodmarc.example", "bob@example.net", "n"), mailauth.Accept,
			[]string{"spf=none", "dmarc=none header.from=nodmarc.example"}},
		{"DNS failure never rejects", "127.0.0.99", "x@unserved.invalid", testMessage("x@unserved.invalid", "bob@example.net", "t"), mailauth.Accept,
			[]string{"spf=temperror", "dmarc=temperror"}},
		{"null sender: HELO identity", "127.0.0.99", "", testMessage("MAILER-DAEMON@client.example", "bob@example.net", "dsn"), mailauth.Accept,
			[]string{"spf=none smtp.helo=client.example"}},
	}
	for _, c := range cases {
		v := check(c.msg, c.ip, c.from)
		res := v.Results()
		if v.Action != c.action {
			t.Errorf("%s: action %d, want %d\n%s", c.name, v.Action, c.action, res)
		}
		for _, w := range c.want {
			if !strings.Contains(res, w) {
				t.Errorf("%s: Authentication-Results lacks %q:\n%s", c.name, w, res)
			}
		}
		h := string(v.Header("mx.test"))
		if !strings.HasPrefix(h, "Authentication-Results: mx.test;\r\n\t") || !strings.HasSuffix(h, "\r\n") ||
			strings.ContainsAny(strings.ReplaceAll(strings.TrimSuffix(h, "\r\n"), "\r\n\t", ""), "\r\n") {
			t.Errorf("%s: malformed field %q", c.name, h)
		}
	}
}
