package api_test

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestProblemDetails: every error reply is an RFC 9457 problem
// (application/problem+json with type, title, status, detail, instance and
// the extension members Code and Hint); a body that is not JSON is 415
// with what the resource takes; a body without a Content-Type is JSON.
func TestProblemDetails(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)

		r := s.call(t, "GET", "/api/v1/tenants", "", nil)
		r.wantErr(t, 401, "AuthenticationRequired")
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 without WWW-Authenticate")
		}
		e := r.errBody(t)
		if e.Title != "Authentication required" {
			t.Fatalf("title %q", e.Title)
		}

		r = s.call(t, "GET", "/api/v1/tenants/no%20such/mailboxes", s.Op, nil)
		r.wantErr(t, 404, "TenantNotFound")
		if e := r.errBody(t); e.Instance != "/api/v1/tenants/no%20such/mailboxes" || e.Title != "Tenant not found" {
			t.Fatalf("problem %s", r.Body)
		}

		form := raw{"application/x-www-form-urlencoded", []byte(`{"Name":"northwind"}`)}
		r = s.call(t, "POST", "/api/v1/tenants", s.Op, form)
		r.wantErr(t, 415, "UnsupportedMediaType")
		if got := r.Header.Get("Accept-Post"); got != "application/json" {
			t.Fatalf("415 to POST: Accept-Post %q", got)
		}
		if e := r.errBody(t); !strings.Contains(e.Hint, "Content-Type: application/json") {
			t.Fatalf("415 hint %q", e.Hint)
		}
		r = s.call(t, "PATCH", "/api/v1/tenants/northwind", s.Op, raw{"text/plain", []byte(`{"Quota":1}`)})
		r.wantErr(t, 415, "UnsupportedMediaType")
		if got := r.Header.Get("Accept-Patch"); got != "application/json" {
			t.Fatalf("415 to PATCH: Accept-Patch %q", got)
		}

		// Bodies a hand-written request sends: no Content-Type at all, or
		// JSON with a charset parameter.
		var v apitypes.TenantView
		s.call(t, "POST", "/api/v1/tenants", s.Op, raw{"", []byte(`{"Name":"northwind"}`)}).ok(t, &v)
		s.call(t, "POST", "/api/v1/tenants", s.Op, raw{"application/json; charset=utf-8", []byte(`{"Name":"tailspin"}`)}).ok(t, &v)
		if v.Name != "tailspin" {
			t.Fatalf("created %+v", v)
		}

		// Success replies stay application/json.
		r = s.call(t, "GET", "/api/v1/tenants", s.Op, nil)
		if ct := r.Header.Get("Content-Type"); r.Status != 200 || ct != "application/json; charset=utf-8" {
			t.Fatalf("list: %d %q", r.Status, ct)
		}
	})
}
