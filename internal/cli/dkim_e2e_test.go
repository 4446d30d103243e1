package cli_test

import (
	"strings"
	"testing"
)

// TestDkimCommands drives `domain dkim add|rotate|list` through the real
// binary and HTTP API: dated selectors for Ed25519 and RSA with their DNS
// records, a second add refused, rotation to Retiring with the grace
// period, and a tenant admin kept to its own tenant's domains.
func TestDkimCommands(t *testing.T) {
	s := serve(t)
	op := s.as(t, s.op)
	var contoso, fabrikam struct{ Id, AdminToken string }
	op.json(&contoso, "tenant", "create", "contoso")
	op.json(&fabrikam, "tenant", "create", "fabrikam")
	src := s.as(t, contoso.AdminToken)
	// Signing keys are only for accepted domains: the tenant adds it, the
	// operator approves it (domain verification is tested in e2e_test.go).
	src.run("domain", "add", "--tenant", "contoso", "contoso.example")
	src.fail("DkimDomainNotAccepted", "domain", "dkim", "add", "--tenant", "contoso", "contoso.example")
	op.run("domain", "approve", "--tenant", "contoso", "contoso.example")

	type key struct {
		Selector, Algorithm, Status, DnsRecordName, DnsRecordType, DnsRecordValue, ZoneLine string
		RetiredAt                                                                           *string
	}
	var added []key
	src.json(&added, "domain", "dkim", "add", "--tenant", "contoso", "contoso.example")
	if len(added) != 2 || added[0].Algorithm != "ed25519" || added[1].Algorithm != "rsa" {
		t.Fatalf("add: %+v", added)
	}
	for _, k := range added {
		if k.Status != "Active" || k.DnsRecordType != "TXT" || k.DnsRecordName != k.Selector+"._domainkey.contoso.example" ||
			!strings.HasPrefix(k.DnsRecordValue, "v=DKIM1; k="+k.Algorithm+"; p=") || !strings.HasPrefix(k.ZoneLine, k.DnsRecordName+". 3600 IN TXT \"") {
			t.Fatalf("key %+v", k)
		}
	}
	src.fail("DkimKeyExists", "domain", "dkim", "add", "--tenant", "contoso", "contoso.example")
	src.fail("DkimAlgorithmInvalid", "domain", "dkim", "add", "--tenant", "contoso", "contoso.example", "--algorithm", "dsa")
	src.fail("DkimDomainNotAccepted", "domain", "dkim", "list", "--tenant", "contoso", "fabrikam.tenantferry.test")
	src.fail("DkimKeyNotFound", "domain", "dkim", "rotate", "--tenant", "contoso", "contoso.tenantferry.test")
	// fabrikam's admin cannot reach contoso's domain.
	s.as(t, fabrikam.AdminToken).fail("TenantAccessDenied", "domain", "dkim", "list", "--tenant", "contoso", "contoso.example")
	s.as(t, fabrikam.AdminToken).fail("DkimDomainNotAccepted", "domain", "dkim", "add", "--tenant", "fabrikam", "contoso.example")

	var rotated []key
	src.json(&rotated, "domain", "dkim", "rotate", "--tenant", "contoso", "contoso.example", "--grace", "72h")
	if len(rotated) != 2 || rotated[0].Status != "Active" {
		t.Fatalf("rotate: %+v", rotated)
	}
	var all []key
	src.json(&all, "domain", "dkim", "list", "--tenant", "contoso", "contoso.example")
	states := map[string]string{}
	for _, k := range all {
		states[k.Selector] = k.Status
	}
	if len(all) != 4 || states[added[0].Selector] != "Retiring" || states[added[1].Selector] != "Retiring" ||
		states[rotated[0].Selector] != "Active" || states[rotated[1].Selector] != "Active" {
		t.Fatalf("list after rotate: %v", states)
	}
	table := src.run("domain", "dkim", "list", "--tenant", "contoso", "contoso.example")
	if !strings.Contains(table, "Retiring") || !strings.Contains(table, rotated[1].Selector+"._domainkey.contoso.example. 3600 IN TXT") {
		t.Fatalf("table output:\n%s", table)
	}
}
