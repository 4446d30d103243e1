package mailauth_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestSPFAgainstPySPF evaluates a zone of SPF records of every kind —
// mechanisms, qualifiers, CIDR lengths, include, redirect, exists with
// macros, the lookup and void limits, syntax errors, two records — for
// several clients, and requires the verdict python3-spf (pyspf, an
// independent implementation of RFC 7208) gives on the same zone.
func TestSPFAgainstPySPF(t *testing.T) {
	needPython(t, "spf", "dns.resolver")
	d := dbtest.Open(t, db.SQLite)
	e := newAuthEnv(t, d, "spf.test")
	e.dns.Add(t,
		`plain.spf.test. TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`a.spf.test. TXT "v=spf1 a a:host.spf.test/28 -all"`,
		`a.spf.test. A 198.51.100.9`,
		`host.spf.test. A 203.0.113.20`,
		`mx.spf.test. TXT "v=spf1 mx/30 ~all"`,
		`mx.spf.test. MX 10 mail.spf.test.`,
		`mail.spf.test. A 198.51.100.4`,
		`inc.spf.test. TXT "v=spf1 include:plain.spf.test ?all"`,
		`redir.spf.test. TXT "v=spf1 -ip4:192.0.2.1 redirect=plain.spf.test"`,
		`exists.spf.test. TXT "v=spf1 exists:%{ir}.%{v}._spf.%{d} -all"`,
		`77.2.0.192.in-addr._spf.exists.spf.test. A 127.0.0.2`,
		`local.spf.test. TXT "v=spf1 exists:%{l1r-}.users.spf.test ~all"`,
		`alice.users.spf.test. A 127.0.0.2`,
		`two.spf.test. TXT "v=spf1 +all"`,
		`two.spf.test. TXT "v=spf1 -all"`,
		`bad.spf.test. TXT "v=spf1 ip4:300.1.1.1 -all"`,
		`badmech.spf.test. TXT "v=spf1 frobnicate -all"`,
		`loop.spf.test. TXT "v=spf1 include:loop.spf.test -all"`,
		`voids.spf.test. TXT "v=spf1 a:nx1.spf.test a:nx2.spf.test a:nx3.spf.test -all"`,
		`neutral.spf.test. TXT "v=spf1 ?all"`,
		`soft.spf.test. TXT "v=spf1 ~all"`,
		`incnone.spf.test. TXT "v=spf1 include:nothing.spf.test -all"`,
		`v6.spf.test. TXT "v=spf1 ip6:2001:db8::/32 -all"`,
		`other.spf.test. TXT "not spf at all"`,
		`other.spf.test. TXT "v=spf10 -all"`,
		`nothing.spf.test. A 127.0.0.1`,
	)
	domains := []string{"plain", "a", "mx", "inc", "redir", "exists", "local", "two", "bad", "badmech", "loop", "voids",
		"neutral", "soft", "incnone", "v6", "other", "nothing", "nx"}
	ips := []string{"192.0.2.1", "192.0.2.77", "198.51.100.9", "198.51.100.6", "203.0.113.30", "2001:db8::25", "10.1.2.3"}
	type query struct{ ip, sender, got, detail string }
	var qs []query
	var input strings.Builder
	for _, dom := range domains {
		for _, ip := range ips {
			for _, local := range []string{"alice", "bob"} {
				sender := local + "@" + dom + ".spf.test"
				got, _, detail := e.svc.CheckSPF(bg, net.ParseIP(ip), "helo.spf.test", sender)
				qs = append(qs, query{ip, sender, string(got), detail})
				fmt.Fprintf(&input, "%s %s helo.spf.test\n", ip, sender)
			}
		}
	}
	wants := strings.Split(verify(t, e.dns.Addr, "spf", []byte(input.String())), "\n")
	if len(wants) != len(qs) {
		t.Fatalf("pyspf gave %d verdicts for %d queries", len(wants), len(qs))
	}
	results := map[string]int{}
	for i, q := range qs {
		if q.got != wants[i] {
			t.Errorf("SPF %s from %s: tenantferry %s (%s), pyspf %s", q.sender, q.ip, q.got, q.detail, wants[i])
		}
		results[wants[i]]++
	}
	// The null sender checks the HELO identity.
	if got, dom, _ := e.svc.CheckSPF(bg, net.ParseIP("192.0.2.5"), "plain.spf.test", ""); got != "pass" || dom != "plain.spf.test" {
		t.Errorf("null sender: %s for %s, want pass for the HELO domain", got, dom)
	}
	t.Logf("verdicts compared with pyspf: %v", results)
	for _, r := range []string{"pass", "fail", "softfail", "neutral", "none", "permerror"} {
		if results[r] == 0 {
			t.Errorf("the zone produced no %s verdict: the comparison does not cover it", r)
		}
	}
}
