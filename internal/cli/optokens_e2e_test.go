package cli_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestCLIOperatorAdminTokens: `token create|list|revoke` issues an
// operator token with an expiry (printed once), lists the operator's
// tokens without the tokens, revokes only with a confirmation (--yes)
// after which the token is refused; a tenant admin gets OperatorRequired
// on each verb; the last operator token is refused (LastOperatorToken).
func TestCLIOperatorAdminTokens(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		dsn := ""
		if dialect == db.Postgres {
			dsn = dbtest.DSN(t, db.Postgres)
		}
		s := serveIn(t, t.TempDir(), dsn)
		op := s.as(t, s.op)
		var contoso struct{ Id, AdminToken string }
		op.json(&contoso, "tenant", "create", "contoso")

		var ci struct {
			Name, AdminToken, AdminTokenId string
			AdminTokenExpiresAt            time.Time
		}
		op.json(&ci, "token", "create", "--name", "ci", "--expires", "720h")
		if !strings.HasPrefix(ci.AdminToken, "tfo_") || ci.AdminTokenId == "" || ci.Name != "ci" || time.Until(ci.AdminTokenExpiresAt) < 719*time.Hour {
			t.Fatalf("token create: %+v", ci)
		}
		op.fail("InvalidExpiry", "token", "create", "--expires", "yesterday")
		type row struct {
			Id, Name string
			Current  bool
		}
		var list []row
		op.json(&list, "token", "list")
		if len(list) != 2 || !list[0].Current || list[1].Name != "ci" || list[1].Id != ci.AdminTokenId {
			t.Fatalf("token list: %+v", list)
		}
		first := list[0]
		if out := op.run("token", "list"); strings.Contains(out, "tfo_") || strings.Contains(out, "tfa_") || !strings.Contains(out, ci.AdminTokenId) {
			t.Fatalf("token list table:\n%s", out)
		}
		ca := s.as(t, contoso.AdminToken)
		ca.fail("OperatorRequired", "token", "list")
		ca.fail("OperatorRequired", "token", "create", "--name", "sneak")
		ca.fail("OperatorRequired", "token", "revoke", ci.AdminTokenId, "--yes")

		// No confirmation, no revocation (exit 2).
		r := cli(t, s.dir, op.env(), "token", "revoke", ci.AdminTokenId)
		if r.code != 2 {
			t.Fatalf("revoke without --yes: exit %d, stderr %q", r.code, r.stderr)
		}
		s.as(t, ci.AdminToken).run("token", "list")
		// ci revokes the first; then ci is the last and is refused.
		s.as(t, ci.AdminToken).run("token", "revoke", first.Id, "--yes")
		op.fail("InvalidToken", "token", "list")
		s.as(t, ci.AdminToken).fail("LastOperatorToken", "token", "revoke", ci.AdminTokenId, "--yes")
		s.as(t, ci.AdminToken).fail("AdminTokenNotFound", "token", "revoke", first.Id, "--yes")
		list = nil
		s.as(t, ci.AdminToken).json(&list, "token", "list")
		if len(list) != 1 || list[0].Id != ci.AdminTokenId || !list[0].Current {
			t.Fatalf("after the refusal: %+v", list)
		}
	})
}
