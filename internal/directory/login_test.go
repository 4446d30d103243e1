package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestLoginRule is the one login rule (issue 8 item 6): any SMTP address
// of a UserMailbox, any case, with its password; a wrong password, an
// unknown address, a shared mailbox, a MailUser and a group all fail with
// the same ErrLoginFailed.
func TestLoginRule(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := directory.New(d, "tenantferry.test", make([]byte, 32))
		ten, err := x.CreateTenant(ctx, "contoso")
		if err != nil {
			t.Fatal(err)
		}
		mk := func(spec directory.RecipientSpec) *directory.Recipient {
			t.Helper()
			r, err := x.CreateRecipient(ctx, ten.ID, spec)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		alice := mk(directory.RecipientSpec{Type: directory.UserMailbox, Alias: "alice", Password: "pw-alice", AddAddresses: []string{"smtp:ali@contoso.tenantferry.test"}})
		mk(directory.RecipientSpec{Type: directory.UserMailbox, Alias: "sales", Shared: true})
		mk(directory.RecipientSpec{Type: directory.MailUser, Alias: "ext", ExternalEmail: "ext@example.org"})
		mk(directory.RecipientSpec{Type: directory.DistributionGroup, Alias: "team"})
		for _, login := range []string{"alice@contoso.tenantferry.test", "ALICE@Contoso.TenantFerry.Test", "ali@contoso.tenantferry.test"} {
			r, err := x.Login(ctx, login, "pw-alice")
			if err != nil || r.ID != alice.ID {
				t.Errorf("login %s: %v", login, err)
			}
		}
		for _, c := range [][2]string{
			{"alice@contoso.tenantferry.test", "wrong"}, {"alice@contoso.tenantferry.test", ""}, {"nobody@contoso.tenantferry.test", "pw-alice"},
			{"sales@contoso.tenantferry.test", ""}, {"sales@contoso.tenantferry.test", "x"}, {"ext@contoso.tenantferry.test", "x"},
			{"team@contoso.tenantferry.test", "x"}, {"", ""}, {"alice", "pw-alice"},
		} {
			if _, err := x.Login(ctx, c[0], c[1]); !errors.Is(err, directory.ErrLoginFailed) {
				t.Errorf("login %q %q: %v, want ErrLoginFailed", c[0], c[1], err)
			}
		}
	})
}
