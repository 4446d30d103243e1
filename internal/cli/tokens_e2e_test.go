package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestCLIAdminTokens: `tenant token create|list|revoke --tenant T` issues
// a token with an expiry (printed once), lists the tenant's tokens without
// the tokens, revokes only with a confirmation (--yes) after which the
// token is refused; another tenant's admin gets TenantAccessDenied.
func TestCLIAdminTokens(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		dsn := ""
		if dialect == db.Postgres {
			dsn = dbtest.DSN(t, db.Postgres)
		}
		s := serveIn(t, t.TempDir(), dsn)
		op := s.as(t, s.op)
		var contoso, fabrikam struct{ Id, AdminToken string }
		op.json(&contoso, "tenant", "create", "contoso")
		op.json(&fabrikam, "tenant", "create", "fabrikam")
		ca := s.as(t, contoso.AdminToken)

		var ci struct {
			AdminToken, AdminTokenId string
			AdminTokenExpiresAt      time.Time
		}
		ca.json(&ci, "tenant", "token", "create", "--tenant", "contoso", "--name", "ci", "--expires", "720h")
		if !strings.HasPrefix(ci.AdminToken, "tfa_") || ci.AdminTokenId == "" || time.Until(ci.AdminTokenExpiresAt) < 719*time.Hour {
			t.Fatalf("token create: %+v", ci)
		}
		ca.fail("InvalidExpiry", "tenant", "token", "create", "--tenant", "contoso", "--expires", "yesterday")
		var list []struct {
			Id, Name string
			Current  bool
		}
		ca.json(&list, "tenant", "token", "list", "--tenant", "contoso")
		var names []string
		for _, x := range list {
			names = append(names, x.Name)
		}
		if strings.Join(names, ",") != "initial,ci" {
			t.Fatalf("token list: %+v", list)
		}
		if out := ca.run("tenant", "token", "list", "--tenant", "contoso"); strings.Contains(out, "tfa_") || !strings.Contains(out, ci.AdminTokenId) {
			t.Fatalf("token list table:\n%s", out)
		}
		s.as(t, fabrikam.AdminToken).fail("TenantAccessDenied", "tenant", "token", "list", "--tenant", "contoso")
		s.as(t, fabrikam.AdminToken).fail("TenantAccessDenied", "tenant", "token", "revoke", "--tenant", "contoso", ci.AdminTokenId, "--yes")

		// No confirmation, no revocation (exit 2).
		r := cli(t, s.dir, ca.env(), "tenant", "token", "revoke", "--tenant", "contoso", ci.AdminTokenId)
		if r.code != 2 {
			t.Fatalf("revoke without --yes: exit %d, stderr %q", r.code, r.stderr)
		}
		s.as(t, ci.AdminToken).run("tenant", "token", "list", "--tenant", "contoso")
		ca.run("tenant", "token", "revoke", "--tenant", "contoso", ci.AdminTokenId, "--yes")
		s.as(t, ci.AdminToken).fail("InvalidToken", "tenant", "token", "list", "--tenant", "contoso")
		ca.fail("AdminTokenNotFound", "tenant", "token", "revoke", "--tenant", "contoso", ci.AdminTokenId, "--yes")
	})
}
