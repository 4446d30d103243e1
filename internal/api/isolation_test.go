package api_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
)

// isolationCase is one API request contoso's tenant admin makes against a
// fabrikam object.
type isolationCase struct {
	name   string
	method string
	path   string
	body   any
}

// routeCases returns a request for every resource route under tenant path
// p, naming fabrikam's objects f; refs of contoso's own objects are used
// where a route needs a second object (e.g. a group member).
func routeCases(p string, f *tenantObjs) []isolationCase {
	e := url.PathEscape
	mb, mu, g := f.Mailbox.Id, f.MailUser.Id, f.Group.Id
	return []isolationCase{
		{"tenant show", "GET", p, nil},
		{"tenant delete", "DELETE", p, nil},
		{"tenant admin-token", "POST", p + "/admin-tokens", map[string]string{"Name": "stolen"}},
		{"admin-token list", "GET", p + "/admin-tokens", nil},
		{"admin-token revoke", "DELETE", p + "/admin-tokens/" + f.TokenID, nil},
		{"domain list", "GET", p + "/domains", nil},
		{"domain add", "POST", p + "/domains", map[string]string{"DomainName": "stolen.example"}},
		{"domain remove", "DELETE", p + "/domains/" + e(f.Domain), nil},
		{"domain show", "GET", p + "/domains/" + e(f.Domain), nil},
		{"domain verify", "POST", p + "/domains/" + e(f.Domain) + "/verify", nil},
		{"domain approve", "POST", p + "/domains/" + e(f.Domain) + "/approve", nil},
		{"mailbox list", "GET", p + "/mailboxes", nil},
		{"mailbox show", "GET", p + "/mailboxes/" + mb, nil},
		{"mailbox create", "POST", p + "/mailboxes", map[string]any{"Alias": "intruder", "Password": "x"}},
		{"mailbox set", "PATCH", p + "/mailboxes/" + mb, map[string]any{"Password": "hijacked", "DisplayName": "owned"}},
		{"mailbox delete", "DELETE", p + "/mailboxes/" + mb, nil},
		{"mailbox stats", "GET", p + "/mailboxes/" + mb + "/stats", nil},
		{"mailbox permission list", "GET", p + "/mailboxes/" + mb + "/permissions", nil},
		{"mailbox permission add", "POST", p + "/mailboxes/" + mb + "/permissions", map[string]any{"User": mb, "AccessRights": "FullAccess"}},
		{"mailbox permission remove", "DELETE", p + "/mailboxes/" + mb + "/permissions/" + mb + "/FullAccess", nil},
		{"mailuser list", "GET", p + "/mailusers", nil},
		{"mailuser show", "GET", p + "/mailusers/" + mu, nil},
		{"mailuser create", "POST", p + "/mailusers", map[string]any{"Name": "x", "Alias": "x", "PrimarySmtpAddress": "x@" + f.InitialDomain, "ExternalEmailAddress": "x@example.org"}},
		{"mailuser set", "PATCH", p + "/mailusers/" + mu, map[string]any{"ExchangeGuid": uuid.NewString(), "ExternalEmailAddress": "evil@example.org"}},
		{"mailuser delete", "DELETE", p + "/mailusers/" + mu, nil},
		{"group list", "GET", p + "/groups", nil},
		{"group show", "GET", p + "/groups/" + g, nil},
		{"group create", "POST", p + "/groups", map[string]any{"Name": "Intruders", "Type": "security"}},
		{"group set", "PATCH", p + "/groups/" + g, map[string]any{"DisplayName": "owned"}},
		{"group delete", "DELETE", p + "/groups/" + g, nil},
		{"group add-member", "POST", p + "/groups/" + g + "/members", map[string]any{"Member": mu}},
		{"group remove-member", "DELETE", p + "/groups/" + g + "/members/" + mb, nil},
		{"group members", "GET", p + "/groups/" + g + "/members", nil},
		{"mailbox bulk create", "POST", p + "/mailboxes/bulk", raw{"text/csv", []byte("Address\nintruder@" + f.InitialDomain + "\n")}},
		{"app list", "GET", p + "/apps", nil},
		{"app show", "GET", p + "/apps/" + f.App.AppId, nil},
		{"app create", "POST", p + "/apps", map[string]any{"Name": "x", "Permissions": []string{"Mailbox.Migration"}}},
		{"app delete", "DELETE", p + "/apps/" + f.App.AppId, nil},
		{"app secret add", "POST", p + "/apps/" + f.App.AppId + "/secrets", map[string]any{}},
		{"app consent-url", "GET", p + "/apps/" + f.App.AppId + "/consent-url?source-server=https%3A%2F%2Fsrc.example&source-tenant=contoso.example", nil},
		{"consent list", "GET", p + "/consents", nil},
		{"consent grant", "POST", p + "/consents", map[string]any{"AppId": uuid.NewString(), "Issuer": "https://evil.example/x/v2.0"}},
		{"consent revoke", "DELETE", p + "/consents/" + f.ConsentApp, nil},
		{"orgrel list", "GET", p + "/orgrels", nil},
		{"orgrel show", "GET", p + "/orgrels/" + e(f.OrgRel.Name), nil},
		{"orgrel create", "POST", p + "/orgrels", map[string]any{"Name": "evil", "DomainNames": []string{uuid.NewString()}}},
		{"orgrel set", "PATCH", p + "/orgrels/" + e(f.OrgRel.Name), map[string]any{"Enabled": false}},
		{"orgrel delete", "DELETE", p + "/orgrels/" + e(f.OrgRel.Name), nil},
		{"endpoint list", "GET", p + "/endpoints", nil},
		{"endpoint show", "GET", p + "/endpoints/" + e(f.Endpoint.Name), nil},
		{"endpoint create", "POST", p + "/endpoints", map[string]any{"Name": "evil", "RemoteServer": "https://evil.example", "RemoteTenant": "evil.example",
			"ApplicationId": uuid.NewString(), "Secret": "x"}},
		{"endpoint delete", "DELETE", p + "/endpoints/" + e(f.Endpoint.Name), nil},
		{"endpoint test", "POST", p + "/endpoints/" + e(f.Endpoint.Name) + "/test", map[string]any{"TestMailbox": f.MailUser.PrimarySmtpAddress}},
		{"mailuser prepare", "POST", p + "/mailusers/prepare", map[string]any{"Endpoint": f.Endpoint.Name, "Csv": "EmailAddress\nx@" + f.Domain + "\n"}},
		{"mailbox import", "POST", p + "/mailboxes/" + mb + "/import?format=mbox", nil},
		{"batch list", "GET", p + "/batches", nil},
		{"batch show", "GET", p + "/batches/wave1", nil},
		{"batch users", "GET", p + "/batches/wave1/users", nil},
		{"batch report", "GET", p + "/batches/wave1/report", nil},
		{"batch create", "POST", p + "/batches", map[string]any{"Name": "evil", "Endpoint": f.Endpoint.Name, "Csv": "EmailAddress\nx@" + f.Domain + "\n",
			"TargetDeliveryDomain": f.InitialDomain, "AutoStart": true}},
		{"batch start", "POST", p + "/batches/wave1/start", nil},
		{"batch stop", "POST", p + "/batches/wave1/stop", nil},
		{"batch sync-now", "POST", p + "/batches/wave1/sync-now", nil},
		{"batch complete", "POST", p + "/batches/wave1/complete", map[string]any{"ApproveSkippedItems": true}},
		{"batch remove", "POST", p + "/batches/wave1/remove", nil},
	}
}

// ownPathCases names fabrikam's objects (by id, GUID, address, name) under
// contoso's own tenant path p; c are contoso's objects.
func ownPathCases(p string, c, f *tenantObjs) []isolationCase {
	e := url.PathEscape
	var out []isolationCase
	for _, ref := range []string{f.Mailbox.Id, f.Mailbox.ExchangeGuid, f.Mailbox.PrimarySmtpAddress, "user01@" + f.Domain, f.Mailbox.LegacyExchangeDN} {
		out = append(out,
			isolationCase{"mailbox show " + ref, "GET", p + "/mailboxes/" + e(ref), nil},
			isolationCase{"mailbox set " + ref, "PATCH", p + "/mailboxes/" + e(ref), map[string]any{"Password": "hijacked"}},
			isolationCase{"mailbox delete " + ref, "DELETE", p + "/mailboxes/" + e(ref), nil},
			isolationCase{"mailbox stats " + ref, "GET", p + "/mailboxes/" + e(ref) + "/stats", nil},
			isolationCase{"group add-member " + ref, "POST", p + "/groups/" + c.Group.Id + "/members", map[string]any{"Member": ref}},
		)
	}
	for _, ref := range []string{f.MailUser.Id, f.MailUser.ExchangeGuid, f.MailUser.PrimarySmtpAddress} {
		out = append(out,
			isolationCase{"mailuser show " + ref, "GET", p + "/mailusers/" + e(ref), nil},
			isolationCase{"mailuser set " + ref, "PATCH", p + "/mailusers/" + e(ref), map[string]any{"ExternalEmailAddress": "evil@example.org"}},
			isolationCase{"mailuser delete " + ref, "DELETE", p + "/mailusers/" + e(ref), nil},
		)
	}
	for _, ref := range []string{f.Group.Id, f.Group.PrimarySmtpAddress} {
		out = append(out,
			isolationCase{"group show " + ref, "GET", p + "/groups/" + e(ref), nil},
			isolationCase{"group set " + ref, "PATCH", p + "/groups/" + e(ref), map[string]any{"DisplayName": "owned"}},
			isolationCase{"group delete " + ref, "DELETE", p + "/groups/" + e(ref), nil},
			isolationCase{"group add-member to " + ref, "POST", p + "/groups/" + e(ref) + "/members", map[string]any{"Member": c.Mailbox.Id}},
			isolationCase{"group remove-member from " + ref, "DELETE", p + "/groups/" + e(ref) + "/members/" + f.Mailbox.Id, nil},
			isolationCase{"orgrel scope " + ref, "POST", p + "/orgrels", map[string]any{"Name": "evil", "DomainNames": []string{f.Id},
				"MailboxMovePublishedScopes": []string{ref}}},
		)
	}
	return append(out,
		isolationCase{"domain remove", "DELETE", p + "/domains/" + e(f.Domain), nil},
		isolationCase{"domain remove initial", "DELETE", p + "/domains/" + e(f.InitialDomain), nil},
		isolationCase{"app show", "GET", p + "/apps/" + f.App.AppId, nil},
		isolationCase{"app delete", "DELETE", p + "/apps/" + f.App.AppId, nil},
		isolationCase{"app secret add", "POST", p + "/apps/" + f.App.AppId + "/secrets", map[string]any{}},
		isolationCase{"app consent-url", "GET", p + "/apps/" + f.App.AppId + "/consent-url?source-server=https%3A%2F%2Fsrc.example&source-tenant=x.example", nil},
		isolationCase{"consent revoke", "DELETE", p + "/consents/" + f.ConsentApp, nil},
		isolationCase{"orgrel show by id", "GET", p + "/orgrels/" + f.OrgRelID, nil},
		isolationCase{"orgrel delete by id", "DELETE", p + "/orgrels/" + f.OrgRelID, nil},
		isolationCase{"endpoint show by id", "GET", p + "/endpoints/" + f.EndpointID, nil},
		isolationCase{"endpoint delete by id", "DELETE", p + "/endpoints/" + f.EndpointID, nil},
		isolationCase{"orgrel show by name", "GET", p + "/orgrels/" + e(f.OrgRel.Name), nil},
		isolationCase{"orgrel set", "PATCH", p + "/orgrels/" + e(f.OrgRel.Name), map[string]any{"Enabled": false}},
		isolationCase{"orgrel delete", "DELETE", p + "/orgrels/" + e(f.OrgRel.Name), nil},
		isolationCase{"endpoint show", "GET", p + "/endpoints/" + e(f.Endpoint.Name), nil},
		isolationCase{"endpoint delete", "DELETE", p + "/endpoints/" + e(f.Endpoint.Name), nil},
		isolationCase{"endpoint test", "POST", p + "/endpoints/" + e(f.Endpoint.Name) + "/test", nil},
		isolationCase{"batch create with fabrikam's endpoint", "POST", p + "/batches", map[string]any{"Name": "evil", "Endpoint": f.EndpointID,
			"Csv": "EmailAddress\nx@" + c.Domain + "\n", "TargetDeliveryDomain": c.InitialDomain}},
		isolationCase{"mailuser prepare with fabrikam's endpoint", "POST", p + "/mailusers/prepare", map[string]any{"Endpoint": f.EndpointID,
			"Csv": "EmailAddress\nx@" + c.Domain + "\n"}},
		isolationCase{"mailbox import into fabrikam's mailbox", "POST", p + "/mailboxes/" + e(f.Mailbox.PrimarySmtpAddress) + "/import?format=mbox", nil},
	)
}

// deniedCodes are the codes an isolation refusal may carry: no access to
// the tenant, or no such object in the caller's own tenant. NoSuchRoute is
// deliberately absent: it would mean the case tests a wrong URL.
var deniedCodes = map[string]bool{
	"TenantAccessDenied": true, "OperatorRequired": true,
	"RecipientNotFound": true, "DomainNotFound": true, "AppNotFound": true, "AppNotConsented": true,
	"OrgRelNotFound": true, "EndpointNotFound": true, "ScopeGroupNotFound": true,
}

// TestIsolation proves criterion 4: with contoso's tenant-admin token,
// every read and write of a fabrikam object fails with 403/404 and changes
// nothing.
func TestIsolation(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c, f := s.world(t)
		// Orgrel and endpoint names differ between the tenants ("contoso" vs
		// "fabrikam"), so a name of fabrikam's never resolves in contoso.
		before := s.snapshot(t, f)
		beforeC := s.snapshot(t, c)

		// The routes are real: fabrikam's own token reads every one of them.
		for _, tc := range routeCases(tp(f.Name), f) {
			if tc.method == "GET" {
				r := s.call(t, "GET", tc.path, f.Token, nil)
				if tc.name == "mailbox stats" {
					if r.Status == http.StatusNotFound || r.Status == http.StatusForbidden {
						t.Fatalf("fabrikam's own %s: %d %s", tc.name, r.Status, r.Body)
					}
					continue
				}
				if r.Status != http.StatusOK {
					t.Fatalf("fabrikam's own %s: %d %s", tc.name, r.Status, r.Body)
				}
			}
		}

		check := func(t *testing.T, tc isolationCase, token string) reply {
			t.Helper()
			r := s.call(t, tc.method, tc.path, token, tc.body)
			if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
				t.Fatalf("%s %s: status %d, want 403 or 404: %s", tc.method, tc.path, r.Status, r.Body)
			}
			if e := r.errBody(t); !deniedCodes[e.Code] {
				t.Fatalf("%s %s: code %s (%s)", tc.method, tc.path, e.Code, e.Detail)
			}
			return r
		}
		// By tenant name, id, initial domain and custom domain (any case).
		for _, ref := range []string{f.Name, f.Id, f.InitialDomain, f.Domain, "FABRIKAM", "Fabrikam.Example"} {
			t.Run("tenant="+ref, func(t *testing.T) {
				for _, tc := range routeCases(tp(ref), f) {
					if r := check(t, tc, c.Token); r.Status != http.StatusForbidden {
						t.Fatalf("%s: %d, want 403", tc.name, r.Status)
					}
				}
			})
		}
		// A tenant that does not exist looks the same as one that does.
		for _, tc := range routeCases(tp("northwind"), f)[:1] {
			s.call(t, tc.method, tc.path, c.Token, tc.body).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		}
		s.call(t, "GET", tp(f.Id), c.Token, nil).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		// Fabrikam's objects under contoso's own path, by every reference.
		for _, own := range []string{c.Name, c.Id, c.Domain} {
			t.Run("own="+own, func(t *testing.T) {
				for _, tc := range ownPathCases(tp(own), c, f) {
					check(t, tc, c.Token)
				}
			})
		}
		// Listing tenants shows contoso only.
		var ts []struct{ Name string }
		s.call(t, "GET", "/api/v1/tenants", c.Token, nil).ok(t, &ts)
		if len(ts) != 1 || ts[0].Name != "contoso" {
			t.Fatalf("tenant list for contoso's admin: %+v", ts)
		}

		if after := s.snapshot(t, f); after != before {
			t.Fatalf("fabrikam changed:\n--- before\n%s\n--- after\n%s", before, after)
		}
		if after := s.snapshot(t, c); after != beforeC {
			t.Fatalf("contoso changed:\n--- before\n%s\n--- after\n%s", beforeC, after)
		}
	})
}

// TestCrossTenantReferences covers writes in contoso's own tenant that name
// something fabrikam owns: they are refused with their own codes (a domain
// belongs to one tenant; addresses only in accepted domains) and change
// nothing in either tenant.
func TestCrossTenantReferences(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c, f := s.world(t)
		before, beforeC := s.snapshot(t, f), s.snapshot(t, c)
		p := tp(c.Name)
		for _, tc := range []struct {
			method, path string
			body         any
			status       int
			code         string
		}{
			{"POST", p + "/domains", map[string]string{"DomainName": f.Domain}, 409, "DomainExists"},
			{"POST", p + "/domains", map[string]string{"DomainName": f.InitialDomain}, 400, "ReservedDomain"},
			{"POST", p + "/mailboxes", map[string]any{"Alias": "x", "Password": "x", "PrimarySmtpAddress": "x@" + f.Domain}, 400, "NotAcceptedDomain"},
			{"POST", p + "/mailboxes", map[string]any{"Alias": "x", "Password": "x", "PrimarySmtpAddress": f.Mailbox.PrimarySmtpAddress}, 400, "NotAcceptedDomain"},
			{"POST", p + "/mailusers", map[string]any{"Name": "x", "Alias": "x", "PrimarySmtpAddress": "x@" + c.Domain, "ExternalEmailAddress": "x@example.org",
				"AddAddresses": []string{"smtp:user01@" + f.Domain}}, 400, "NotAcceptedDomain"},
			{"PATCH", p + "/mailboxes/user01", map[string]any{"AddAddresses": []string{"SMTP:user01@" + f.InitialDomain}}, 400, "NotAcceptedDomain"},
			{"PATCH", p + "/mailboxes/user01", map[string]any{"RemoveAddresses": []string{"user01@" + f.Domain}}, 404, "ProxyAddressNotFound"},
		} {
			s.call(t, tc.method, tc.path, c.Token, tc.body).wantErr(t, tc.status, tc.code)
		}
		if after := s.snapshot(t, f); after != before {
			t.Fatalf("fabrikam changed:\n--- before\n%s\n--- after\n%s", before, after)
		}
		if after := s.snapshot(t, c); after != beforeC {
			t.Fatalf("contoso changed:\n--- before\n%s\n--- after\n%s", beforeC, after)
		}
	})
}
