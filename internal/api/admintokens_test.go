package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestAdminTokens (issue 12, Tokens): a tenant admin issues tokens with an
// expiry, lists its tenant's tokens (never a token, never the operator's
// or another tenant's), revokes them; a revoked or expired token is
// refused with 401 and WWW-Authenticate; another tenant's admin can
// neither list nor revoke them.
func TestAdminTokens(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c := s.createTenant(t, "contoso")
		f := s.createTenant(t, "fabrikam")
		p := tp("contoso") + "/admin-tokens"

		var ci apitypes.TenantView
		before := time.Now()
		s.call(t, "POST", p, c.Token, apitypes.AdminTokenCreate{Name: "ci", Expires: "720h"}).ok(t, &ci)
		if ci.AdminToken == "" || ci.AdminTokenId == "" || ci.AdminTokenExpiresAt == nil ||
			ci.AdminTokenExpiresAt.Before(before.Add(719*time.Hour)) || ci.AdminTokenExpiresAt.After(time.Now().Add(721*time.Hour)) {
			t.Fatalf("issued: %+v", ci)
		}
		s.call(t, "GET", "/api/v1/whoami", ci.AdminToken, nil).ok(t, nil)
		var never apitypes.TenantView
		s.call(t, "POST", p, c.Token, apitypes.AdminTokenCreate{Name: "forever"}).ok(t, &never)
		if never.AdminTokenExpiresAt != nil {
			t.Errorf("a token without Expires expires at %v", never.AdminTokenExpiresAt)
		}
		for _, bad := range []string{"-1h", "soon", "2001-01-01T00:00:00Z"} {
			s.call(t, "POST", p, c.Token, apitypes.AdminTokenCreate{Name: "bad", Expires: bad}).wantErr(t, http.StatusBadRequest, "InvalidExpiry")
		}

		// The list: the tenant's tokens only, never a token.
		list := func(token string) []apitypes.AdminTokenView {
			t.Helper()
			var ts []apitypes.AdminTokenView
			r := s.call(t, "GET", p, token, nil)
			r.ok(t, &ts)
			if strings.Contains(string(r.Body), "tfa_") || strings.Contains(string(r.Body), "tfo_") {
				t.Fatalf("the list shows a token: %s", r.Body)
			}
			return ts
		}
		names := func(ts []apitypes.AdminTokenView) string {
			var out []string
			for _, x := range ts {
				n := x.Name
				if x.Current {
					n += "*"
				}
				if x.ExpiresAt != nil {
					n += "+exp"
				}
				out = append(out, n)
			}
			return strings.Join(out, ",")
		}
		if got := names(list(c.Token)); got != "initial*,ci+exp,forever" {
			t.Errorf("contoso's admin lists %q", got)
		}
		if got := names(list(s.Op)); got != "initial,ci+exp,forever" {
			t.Errorf("the operator lists %q for contoso", got)
		}
		// Another tenant's admin can neither list nor revoke them.
		s.call(t, "GET", p, f.Token, nil).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		s.call(t, "DELETE", p+"/"+ci.AdminTokenId, f.Token, nil).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		// A token of fabrikam is not contoso's to revoke, even for the operator.
		var fts []apitypes.AdminTokenView
		s.call(t, "GET", tp("fabrikam")+"/admin-tokens", f.Token, nil).ok(t, &fts)
		if len(fts) != 1 || fts[0].Name != "initial" {
			t.Fatalf("fabrikam's tokens: %+v", fts)
		}
		s.call(t, "DELETE", p+"/"+fts[0].Id, c.Token, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")
		s.call(t, "DELETE", p+"/"+fts[0].Id, s.Op, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")
		s.call(t, "GET", "/api/v1/whoami", f.Token, nil).ok(t, nil)

		// Revoked: refused with 401 and WWW-Authenticate.
		if r := s.call(t, "DELETE", p+"/"+ci.AdminTokenId, c.Token, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		r := s.call(t, "GET", "/api/v1/whoami", ci.AdminToken, nil)
		r.wantErr(t, http.StatusUnauthorized, "InvalidToken")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		s.call(t, "DELETE", p+"/"+ci.AdminTokenId, c.Token, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")
		if got := names(list(c.Token)); got != "initial*,forever" {
			t.Errorf("after revoke contoso lists %q", got)
		}

		// Expired: refused with 401 TokenExpired.
		var soon apitypes.TenantView
		s.call(t, "POST", p, c.Token, apitypes.AdminTokenCreate{Name: "soon", Expires: "1h"}).ok(t, &soon)
		s.call(t, "GET", tp("contoso"), soon.AdminToken, nil).ok(t, nil)
		if err := s.DB.Write(bg, func(tx *db.Tx) error {
			_, err := tx.ExecContext(bg, `UPDATE admin_tokens SET expires_at = ? WHERE id = ?`, time.Now().Add(-time.Second).UnixMilli(), soon.AdminTokenId)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r = s.call(t, "GET", tp("contoso"), soon.AdminToken, nil)
		r.wantErr(t, http.StatusUnauthorized, "TokenExpired")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	})
}
