package directory_test

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestLookupCostIsOneStatement: the lookups the source runs on every
// replication request (GetTenant, then GetRecipient or ByExchangeGuid) are
// one statement each, whatever the reference, and still return the
// tenant's domains and the recipient's proxies in display order. (A
// separate query for the domains or the proxies fails the count.)
func TestLookupCostIsOneStatement(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		mustTenant(t, x, "fabrikam")
		for _, dom := range []string{"contoso.com", "a.contoso.com"} {
			_, err := x.AcceptDomain(ctx, c.ID, dom, directory.VerifiedByOperator)
			must(t, err)
		}
		r, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "user01", Password: "pw-user01", Archive: true,
			AddAddresses: []string{"smtp:zed@contoso.com", "X500:/o=Old/cn=user01", "smtp:al@a.contoso.com"}})
		must(t, err)
		wantDomains := []string{c.InitialDomain, "a.contoso.com", "contoso.com"}
		wantProxies := []string{"SMTP:user01@" + c.InitialDomain, "smtp:al@a.contoso.com", "smtp:zed@contoso.com", "X500:/o=Old/cn=user01"}

		one := func(what string, f func() error) {
			t.Helper()
			before := d.Statements()
			must(t, f())
			if n := d.Statements() - before; n != 1 {
				t.Errorf("%s ran %d statements, want 1", what, n)
			}
		}
		for _, ref := range []string{c.ID, c.Name, "CONTOSO.com", c.InitialDomain} {
			one("GetTenant "+ref, func() error {
				tn, err := x.GetTenant(ctx, ref)
				if err == nil && (tn.ID != c.ID || tn.Name != "contoso" || tn.CreatedAt.IsZero() || strings.Join(tn.Domains, ",") != strings.Join(wantDomains, ",")) {
					t.Errorf("GetTenant(%s) = %+v", ref, tn)
				}
				return err
			})
		}
		before := d.Statements()
		if _, err := x.GetTenant(ctx, "nowhere.example"); err == nil || !strings.Contains(err.Error(), "not found") {
			t.Fatalf("unknown tenant: %v", err)
		}
		if n := d.Statements() - before; n != 1 {
			t.Errorf("unknown tenant: %d statements", n)
		}

		check := func(what string, got *directory.Recipient) {
			t.Helper()
			if got == nil || got.ID != r.ID || got.ExchangeGuid != r.ExchangeGuid || got.Type != directory.UserMailbox ||
				strings.Join(got.EmailAddresses(), ",") != strings.Join(wantProxies, ",") {
				t.Errorf("%s = %+v", what, got)
			}
		}
		for _, ref := range []string{r.ID, "user01", "USER01@" + c.InitialDomain, "al@a.contoso.com", "smtp:zed@contoso.com", r.ExchangeGuid, r.LegacyExchangeDN, "X500:/o=Old/cn=user01"} {
			one("GetRecipient "+ref, func() error {
				got, err := x.GetRecipient(ctx, c.ID, ref)
				check("GetRecipient "+ref, got)
				return err
			})
		}
		for _, guid := range []string{r.ExchangeGuid, r.ArchiveGuid} {
			one("ByExchangeGuid", func() error {
				got, err := x.ByExchangeGuid(ctx, nil, c.ID, guid)
				check("ByExchangeGuid", got)
				return err
			})
		}
		one("ResolveAddress", func() error {
			got, err := x.ResolveAddress(ctx, "zed@contoso.com")
			check("ResolveAddress", got)
			return err
		})
		before = d.Statements()
		if _, err := x.GetRecipient(ctx, c.ID, "nobody"); err == nil {
			t.Fatal("unknown recipient found")
		}
		if n := d.Statements() - before; n != 1 {
			t.Errorf("unknown recipient: %d statements", n)
		}
	})
}
