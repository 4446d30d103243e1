package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// tenantAdmin is the principal of a tenant's admin token.
func tenantAdmin(s *scenario.Server, name string) *admin.Principal {
	t := s.Tenant(name)
	return &admin.Principal{TokenID: "test-" + name, TenantID: t.ID, Name: name + " admin"}
}

// inbox returns the raw messages in a mailbox's Inbox containing marker.
func holds(t *testing.T, s *scenario.Server, tenant, guid, marker string) bool {
	t.Helper()
	for _, xs := range scenario.Take(t, s.Store, s.Content(tenant, guid).ID) {
		for _, x := range xs {
			sha := strings.Fields(x)[0]
			b, err := s.Blobs.Open(context.Background(), sha)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(b)
			b.Close()
			if strings.Contains(buf.String(), marker) {
				return true
			}
		}
	}
	return false
}

// TestUnverifiedDomainsCaptureNothing (issue 7, hole 2): tenant mallory
// on a shared server adds external.example, a domain it does not own,
// whose real mail server is another server. The domain stays Pending: no
// address can be created in it (DomainNotVerified), and mail from other
// tenants of the shared server to it — sent directly or forwarded by a
// MailUser — goes out to the real server, not to mallory. Only the TXT
// record with mallory's own token (at _tenantferry.<domain> or the apex)
// verifies it; the operator can approve a domain instead; --verified is
// operator-only.
func TestUnverifiedDomainsCaptureNothing(t *testing.T) {
	ctx := context.Background()
	dns := dnstest.Start(t, "external.example", "apex.example", "north.example")
	real := scenario.Start(t, scenario.Options{})
	real.Tenant("owner")
	if _, err := real.Admin.AddDomain(ctx, real.Op, "owner", "external.example", true); err != nil {
		t.Fatal(err)
	}
	victim, err := real.Admin.CreateRecipient(ctx, real.Op, "owner", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "victim",
		PrimarySmtp: "victim@external.example", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	shared := scenario.StartWith(t, scenario.Options{Transports: map[string]string{"external.example": real.Cfg.SMTP}},
		func(c *scenario.Config) { c.DNSResolver = dns.Addr })
	shared.Tenant("contoso")
	mallory := tenantAdmin(shared, "mallory")

	// The initial domain is verified; the claimed one is Pending.
	dom, err := shared.Admin.AddDomain(ctx, mallory, "mallory", "external.example", false)
	if err != nil {
		t.Fatal(err)
	}
	if dom.Status != directory.DomainPending || dom.Record.Name != "_tenantferry.external.example" ||
		!strings.HasPrefix(dom.Record.Value, directory.VerificationPrefix) || dom.Record.Type != "TXT" {
		t.Fatalf("added domain: %+v", dom)
	}
	ds, err := shared.Admin.ListDomains(ctx, mallory, "mallory")
	if err != nil || len(ds) != 2 || ds[0].Status != directory.DomainVerified || ds[0].VerifiedBy != directory.VerifiedByInitial || ds[1].Status != directory.DomainPending {
		t.Fatalf("domains: %v %+v %+v", err, ds[0], ds[len(ds)-1])
	}
	if _, err := shared.Admin.AddDomain(ctx, mallory, "mallory", "other.example", true); !errors.Is(err, admin.ErrOperatorRequired) {
		t.Fatalf("--verified by a tenant admin: %v", err)
	}
	spec := directory.RecipientSpec{Type: directory.UserMailbox, Alias: "victim", PrimarySmtp: "victim@external.example", Password: "pw"}
	if _, err := shared.Admin.CreateRecipient(ctx, mallory, "mallory", spec); !errors.Is(err, directory.ErrDomainNotVerified) {
		t.Fatalf("address in a pending domain: %v, want DomainNotVerified", err)
	}
	catcher, err := shared.Admin.CreateRecipient(ctx, mallory, "mallory", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "catcher", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	spec.Alias, spec.PrimarySmtp, spec.AddAddresses = "catcher2", "", []string{"smtp:victim@external.example"}
	if _, err := shared.Admin.CreateRecipient(ctx, mallory, "mallory", spec); !errors.Is(err, directory.ErrDomainNotVerified) {
		t.Fatalf("secondary address in a pending domain: %v, want DomainNotVerified", err)
	}
	// A contoso MailUser forwards to the address; a contoso user sends to it.
	if _, err := shared.Admin.CreateRecipient(ctx, shared.Op, "contoso", directory.RecipientSpec{Type: directory.MailUser, Alias: "fwd", Name: "fwd",
		PrimarySmtp: "fwd@contoso.tenantferry.test", ExternalEmail: "victim@external.example"}); err != nil {
		t.Fatal(err)
	}
	if err := scenario.Send(shared.Cfg.SMTP, "partner@elsewhere.example", []string{"fwd@contoso.tenantferry.test"},
		scenario.Message("partner@elsewhere.example", "fwd@contoso.tenantferry.test", "forwarded secret", "MARK-forwarded")); err != nil {
		t.Fatal(err)
	}
	if _, err := shared.Delivery.Enqueue(ctx, delivery.Envelope{From: "ceo@contoso.tenantferry.test", To: []string{"victim@external.example"},
		Source: "submission", Relay: true, AuthUser: "ceo@contoso.tenantferry.test"},
		bytes.NewReader(scenario.Message("ceo@contoso.tenantferry.test", "victim@external.example", "direct secret", "MARK-direct"))); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"MARK-forwarded", "MARK-direct"} {
		scenario.Eventually(t, 30*time.Second, m+" at the real owner's server", func() error {
			if !holds(t, real, "owner", victim.ExchangeGuid, m) {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		if holds(t, shared, "mallory", catcher.ExchangeGuid, m) {
			t.Fatalf("%s reached mallory", m)
		}
	}

	// Verification: nothing published, a record with another tenant's
	// token, then mallory's own record.
	if _, err := shared.Admin.VerifyDomain(ctx, mallory, "mallory", "external.example"); !errors.Is(err, directory.ErrDomainVerificationFailed) ||
		!strings.Contains(errs.As(err).Hint, dom.Record.Value) {
		t.Fatalf("verify without a record: %v", err)
	}
	contosoDom, err := shared.Admin.AddDomain(ctx, tenantAdmin(shared, "contoso"), "contoso", "external.example", false)
	if err != nil {
		t.Fatalf("a second tenant's claim of the same pending domain: %v", err)
	}
	if contosoDom.Record.Value == dom.Record.Value {
		t.Fatal("two tenants got the same verification token")
	}
	dns.Add(t, `_tenantferry.external.example. 60 IN TXT "`+contosoDom.Record.Value+`"`, `external.example. 60 IN TXT "v=spf1 -all"`)
	if _, err := shared.Admin.VerifyDomain(ctx, mallory, "mallory", "external.example"); !errors.Is(err, directory.ErrDomainVerificationFailed) {
		t.Fatalf("verify with another tenant's record: %v", err)
	}
	dns.Add(t, `_tenantferry.external.example. 60 IN TXT "`+dom.Record.Value+`"`)
	got, err := shared.Admin.VerifyDomain(ctx, mallory, "mallory", "external.example")
	if err != nil || got.Status != directory.DomainVerified || got.VerifiedBy != directory.VerifiedByDNS {
		t.Fatalf("verify with the record: %+v %v", got, err)
	}
	if _, err := shared.Admin.GetDomain(ctx, tenantAdmin(shared, "contoso"), "contoso", "external.example"); !errors.Is(err, directory.ErrDomainNotFound) {
		t.Fatalf("contoso's competing claim survived the verification: %v", err)
	}
	spec.Alias, spec.PrimarySmtp, spec.AddAddresses = "victim", "victim@external.example", nil
	if _, err := shared.Admin.CreateRecipient(ctx, mallory, "mallory", spec); err != nil {
		t.Fatalf("address in the verified domain: %v", err)
	}

	// The apex record works too.
	apex, err := shared.Admin.AddDomain(ctx, mallory, "mallory", "apex.example", false)
	if err != nil {
		t.Fatal(err)
	}
	dns.Add(t, `apex.example. 60 IN TXT "`+apex.Record.Value+`"`)
	if got, err := shared.Admin.VerifyDomain(ctx, mallory, "mallory", "apex.example"); err != nil || got.Status != directory.DomainVerified {
		t.Fatalf("apex record: %+v %v", got, err)
	}

	// The operator approves a claim; a tenant admin cannot.
	north := tenantAdmin(shared, "northwind")
	if _, err := shared.Admin.AddDomain(ctx, north, "northwind", "north.example", false); err != nil {
		t.Fatal(err)
	}
	if _, err := shared.Admin.ApproveDomain(ctx, north, "northwind", "north.example"); !errors.Is(err, admin.ErrOperatorRequired) {
		t.Fatalf("approve by a tenant admin: %v", err)
	}
	if got, err := shared.Admin.ApproveDomain(ctx, shared.Op, "northwind", "north.example"); err != nil || got.VerifiedBy != directory.VerifiedByOperator {
		t.Fatalf("approve by the operator: %+v %v", got, err)
	}
}
