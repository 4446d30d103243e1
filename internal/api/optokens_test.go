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

// TestOperatorAdminTokens (issue 12, Tokens): the operator lists, issues
// and revokes operator tokens at /api/v1/admin-tokens (never a token, never
// a tenant's); a revoked operator token gets 401; a tenant admin gets 403
// OperatorRequired on each route and changes nothing; the last operator
// token cannot be revoked (409 LastOperatorToken).
func TestOperatorAdminTokens(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c := s.createTenant(t, "contoso")
		const p = "/api/v1/admin-tokens"
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
		start := list(s.Op)
		if len(start) != 1 || !start[0].Current || start[0].ExpiresAt != nil {
			t.Fatalf("the operator's tokens at start: %+v", start)
		}
		first := start[0]

		// Issue one with an expiry, one without.
		var ci apitypes.OperatorTokenIssued
		before := time.Now()
		s.call(t, "POST", p, s.Op, apitypes.AdminTokenCreate{Name: "ci", Expires: "720h"}).ok(t, &ci)
		if !strings.HasPrefix(ci.AdminToken, "tfo_") || ci.AdminTokenId == "" || ci.Name != "ci" || ci.AdminTokenExpiresAt == nil ||
			ci.AdminTokenExpiresAt.Before(before.Add(719*time.Hour)) || ci.AdminTokenExpiresAt.After(time.Now().Add(721*time.Hour)) {
			t.Fatalf("issued: %+v", ci)
		}
		var dflt apitypes.OperatorTokenIssued
		if r := s.call(t, "POST", p, s.Op, nil); r.Status != http.StatusCreated {
			t.Fatalf("issue without a body: %d %s", r.Status, r.Body)
		} else {
			r.ok(t, &dflt)
		}
		if dflt.Name != "operator" || dflt.AdminTokenExpiresAt != nil {
			t.Errorf("issued without a body: %+v", dflt)
		}
		s.call(t, "POST", p, s.Op, apitypes.AdminTokenCreate{Name: "bad", Expires: "-1h"}).wantErr(t, http.StatusBadRequest, "InvalidExpiry")
		// The new token is an operator's: it creates tenants.
		var who struct{ Operator bool }
		s.call(t, "GET", "/api/v1/whoami", ci.AdminToken, nil).ok(t, &who)
		if !who.Operator {
			t.Errorf("the issued token is not an operator's")
		}
		s.createTenant(t, "fabrikam")
		if got := names(list(ci.AdminToken)); got != first.Name+",ci*+exp,operator" {
			t.Errorf("ci lists %q", got)
		}
		// A tenant's tokens are not listed here, nor the operator's there.
		var cts []apitypes.AdminTokenView
		s.call(t, "GET", tp("contoso")+"/admin-tokens", c.Token, nil).ok(t, &cts)
		if names(cts) != "initial*" {
			t.Errorf("contoso lists %q", names(cts))
		}
		s.call(t, "DELETE", p+"/"+cts[0].Id, s.Op, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")
		s.call(t, "DELETE", tp("contoso")+"/admin-tokens/"+ci.AdminTokenId, s.Op, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")

		// A tenant admin: 403 on each route, nothing changes.
		s.call(t, "GET", p, c.Token, nil).wantErr(t, http.StatusForbidden, "OperatorRequired")
		s.call(t, "POST", p, c.Token, apitypes.AdminTokenCreate{Name: "sneak"}).wantErr(t, http.StatusForbidden, "OperatorRequired")
		s.call(t, "DELETE", p+"/"+ci.AdminTokenId, c.Token, nil).wantErr(t, http.StatusForbidden, "OperatorRequired")
		if got := names(list(s.Op)); got != first.Name+"*,ci+exp,operator" {
			t.Errorf("after the tenant admin's tries the operator lists %q", got)
		}

		// Revoke ci: 401 from then on, 404 a second time.
		if r := s.call(t, "DELETE", p+"/"+ci.AdminTokenId, s.Op, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		r := s.call(t, "GET", "/api/v1/whoami", ci.AdminToken, nil)
		r.wantErr(t, http.StatusUnauthorized, "InvalidToken")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		s.call(t, "DELETE", p+"/"+ci.AdminTokenId, s.Op, nil).wantErr(t, http.StatusNotFound, "AdminTokenNotFound")

		// Revoke the first with the default one, then the last is refused.
		if r := s.call(t, "DELETE", p+"/"+first.Id, dflt.AdminToken, nil); r.Status != http.StatusNoContent {
			t.Fatalf("revoke the first: %d %s", r.Status, r.Body)
		}
		s.call(t, "GET", "/api/v1/whoami", s.Op, nil).wantErr(t, http.StatusUnauthorized, "InvalidToken")
		s.call(t, "DELETE", p+"/"+dflt.AdminTokenId, dflt.AdminToken, nil).wantErr(t, http.StatusConflict, "LastOperatorToken")
		if got := names(list(dflt.AdminToken)); got != "operator*" {
			t.Errorf("after the refusal the operator lists %q", got)
		}
		s.call(t, "GET", "/api/v1/whoami", dflt.AdminToken, nil).ok(t, nil)
	})
}
