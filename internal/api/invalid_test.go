package api_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/db"
)

// TestInvalidRequests proves criterion 5: invalid requests each return
// their stable code and status, never a 500, and change nothing.
func TestInvalidRequests(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c, f := s.world(t)
		p, tok := tp(c.Name), c.Token
		long := strings.Repeat("a", 65)
		js := func(s string) raw { return raw{"application/json", []byte(s)} }
		huge := js(`{"Name":"` + strings.Repeat("x", api.DefaultMaxBody) + `"}`)
		mb := p + "/mailboxes"
		mu := p + "/mailusers/mu01"
		cases := []struct {
			name         string
			method, path string
			token        string
			body         any
			status       int
			code         string
		}{
			// Authentication and routing.
			{"no token", "GET", "/api/v1/tenants", "", nil, 401, "AuthenticationRequired"},
			{"bad token", "GET", "/api/v1/tenants", "tfa_nope", nil, 401, "InvalidToken"},
			{"unknown route", "GET", "/api/v1/nothing-here", s.Op, nil, 404, "NoSuchRoute"},
			{"tenant admin creates tenant", "POST", "/api/v1/tenants", tok, map[string]string{"Name": "northwind"}, 403, "OperatorRequired"},
			{"tenant admin deletes own tenant", "DELETE", p, tok, nil, 403, "OperatorRequired"},
			{"operator without tenant", "GET", tp("nope") + "/mailboxes", s.Op, nil, 404, "TenantNotFound"},
			// Malformed bodies.
			{"malformed JSON", "POST", "/api/v1/tenants", s.Op, js(`{"Name":`), 400, "InvalidJson"},
			{"not an object", "POST", "/api/v1/tenants", s.Op, js(`["northwind"]`), 400, "InvalidJson"},
			{"wrong field type", "POST", "/api/v1/tenants", s.Op, js(`{"Name": 5}`), 400, "InvalidJson"},
			{"trailing data", "POST", "/api/v1/tenants", s.Op, js(`{"Name":"a"} {"Name":"b"}`), 400, "InvalidJson"},
			{"empty body", "POST", "/api/v1/tenants", s.Op, js(``), 400, "InvalidJson"},
			{"unknown field", "POST", "/api/v1/tenants", s.Op, js(`{"Nmae":"northwind"}`), 400, "UnknownField"},
			{"not JSON content type", "POST", "/api/v1/tenants", s.Op, raw{"text/plain", []byte(`{"Name":"northwind"}`)}, 415, "UnsupportedMediaType"},
			{"form content type (curl -d)", "POST", "/api/v1/tenants", s.Op, raw{"application/x-www-form-urlencoded", []byte(`{"Name":"northwind"}`)}, 415, "UnsupportedMediaType"},
			{"JSON-like content type", "PATCH", mu, tok, raw{"application/jsonx", []byte(`{"DisplayName":"x"}`)}, 415, "UnsupportedMediaType"},
			{"unparsable content type", "POST", "/api/v1/tenants", s.Op, raw{"application/json; charset", []byte(`{"Name":"northwind"}`)}, 415, "UnsupportedMediaType"},
			{"oversized body", "POST", "/api/v1/tenants", s.Op, huge, 413, "RequestTooLarge"},
			{"oversized mailbox body", "POST", mb, tok, js(`{"Alias":"x","Password":"` + strings.Repeat("p", 2<<20) + `"}`), 413, "RequestTooLarge"},
			{"wrong type in nested field", "POST", p + "/endpoints", tok, js(`{"Name":"x","MaxConcurrentMigrations":"ten"}`), 400, "InvalidJson"},
			// Tenants and domains.
			{"tenant name missing", "POST", "/api/v1/tenants", s.Op, map[string]string{}, 400, "MissingField"},
			{"tenant name too long", "POST", "/api/v1/tenants", s.Op, map[string]string{"Name": long}, 400, "NameTooLong"},
			{"tenant name invalid", "POST", "/api/v1/tenants", s.Op, map[string]string{"Name": "North_Wind"}, 400, "InvalidTenantName"},
			{"tenant exists", "POST", "/api/v1/tenants", s.Op, map[string]string{"Name": "Contoso"}, 409, "TenantExists"},
			{"domain missing", "POST", p + "/domains", tok, map[string]string{}, 400, "MissingField"},
			{"domain invalid", "POST", p + "/domains", tok, map[string]string{"DomainName": "not a domain"}, 400, "InvalidDomain"},
			{"domain of another tenant", "POST", p + "/domains", tok, map[string]string{"DomainName": f.Domain}, 409, "DomainExists"},
			{"domain under service domain", "POST", p + "/domains", tok, map[string]string{"DomainName": "northwind.tenantferry.test"}, 400, "ReservedDomain"},
			{"initial domain removal", "DELETE", p + "/domains/" + c.InitialDomain, tok, nil, 409, "DomainInUse"},
			// Mailboxes.
			{"alias missing", "POST", mb, tok, map[string]any{"Password": "x"}, 400, "MissingField"},
			{"password missing", "POST", mb, tok, map[string]any{"Alias": "x"}, 400, "MissingField"},
			{"alias too long", "POST", mb, tok, map[string]any{"Alias": long, "Password": "x"}, 400, "NameTooLong"},
			{"name too long", "POST", mb, tok, map[string]any{"Alias": "x", "Name": long, "Password": "x"}, 400, "NameTooLong"},
			{"alias invalid", "POST", mb, tok, map[string]any{"Alias": "a b", "Password": "x"}, 400, "InvalidAlias"},
			{"address invalid", "POST", mb, tok, map[string]any{"Alias": "x", "Password": "x", "PrimarySmtpAddress": "x@@contoso.example"}, 400, "InvalidSmtpAddress"},
			{"address not accepted", "POST", mb, tok, map[string]any{"Alias": "x", "Password": "x", "PrimarySmtpAddress": "x@northwind.example"}, 400, "NotAcceptedDomain"},
			{"duplicate address", "POST", mb, tok, map[string]any{"Alias": "x", "Password": "x", "PrimarySmtpAddress": "USER01@" + c.Domain}, 409, "ProxyAddressExists"},
			{"duplicate alias", "POST", mb, tok, map[string]any{"Alias": "User01", "Password": "x"}, 409, "RecipientExists"},
			{"bad ExchangeGuid", "POST", mb, tok, map[string]any{"Alias": "x", "Password": "x", "ExchangeGuid": "1234-5678"}, 400, "InvalidGuid"},
			{"group type on a mailbox", "POST", mb, tok, map[string]any{"Alias": "x", "Password": "x", "Type": "security"}, 400, "InvalidRecipientType"},
			{"Type on a mail user", "POST", p + "/mailusers", tok, map[string]any{"Alias": "x", "Type": "shared", "ExternalEmailAddress": "a@b.example", "PrimarySmtpAddress": "x@" + c.Domain}, 400, "UnknownField"},
			{"unknown mailbox", "GET", mb + "/nobody", tok, nil, 404, "RecipientNotFound"},
			{"read-only field", "PATCH", mb + "/user01", tok, map[string]any{"Alias": "renamed"}, 400, "ReadOnlyField"},
			{"GUID on a mailbox", "PATCH", mb + "/user01", tok, map[string]any{"ExchangeGuid": uuid.NewString()}, 400, "InvalidForRecipientType"},
			{"remove primary", "PATCH", mb + "/user01", tok, map[string]any{"RemoveAddresses": []string{c.Mailbox.PrimarySmtpAddress}}, 409, "CannotRemovePrimaryAddress"},
			{"empty password", "PATCH", mb + "/user01", tok, map[string]any{"Password": ""}, 400, "InvalidPassword"},
			// Mail users.
			{"mailuser external missing", "POST", p + "/mailusers", tok, map[string]any{"Name": "x", "Alias": "x", "PrimarySmtpAddress": "x@" + c.Domain}, 400, "MissingField"},
			{"mailuser primary missing", "POST", p + "/mailusers", tok, map[string]any{"Name": "x", "Alias": "x", "ExternalEmailAddress": "x@example.org"}, 400, "MissingField"},
			{"mailuser bad ExchangeGuid", "PATCH", mu, tok, map[string]any{"ExchangeGuid": "not-a-guid"}, 400, "InvalidGuid"},
			{"mailuser bad ArchiveGuid", "PATCH", mu, tok, map[string]any{"ArchiveGuid": "{1234}"}, 400, "InvalidGuid"},
			{"mailuser bad X500", "PATCH", mu, tok, map[string]any{"AddAddresses": []string{"X500:no-slash"}}, 400, "InvalidProxyAddress"},
			{"mailuser unknown prefix", "PATCH", mu, tok, map[string]any{"AddAddresses": []string{"SIP:mu01@" + c.Domain}}, 400, "InvalidProxyAddress"},
			{"mailuser address not accepted", "PATCH", mu, tok, map[string]any{"AddAddresses": []string{"smtp:mu01@northwind.example"}}, 400, "NotAcceptedDomain"},
			{"mailuser duplicate address", "PATCH", mu, tok, map[string]any{"AddAddresses": []string{"smtp:user01@" + c.Domain}}, 409, "ProxyAddressExists"},
			{"mailuser bad external", "PATCH", mu, tok, map[string]any{"ExternalEmailAddress": "nobody"}, 400, "InvalidSmtpAddress"},
			{"mailuser unknown address removal", "PATCH", mu, tok, map[string]any{"RemoveAddresses": []string{"nobody@" + c.Domain}}, 404, "ProxyAddressNotFound"},
			// Groups.
			{"group type missing", "POST", p + "/groups", tok, map[string]any{"Name": "g"}, 400, "MissingField"},
			{"group password", "POST", p + "/groups", tok, map[string]any{"Name": "g", "Type": "security", "Password": "x"}, 400, "InvalidForRecipientType"},
			{"group password set", "PATCH", p + "/groups/MigrationScope", tok, map[string]any{"Password": "x"}, 400, "InvalidForRecipientType"},
			{"group type unknown", "POST", p + "/groups", tok, map[string]any{"Name": "g", "Type": "dynamic"}, 400, "InvalidGroupType"},
			{"member missing", "POST", p + "/groups/MigrationScope/members", tok, map[string]any{}, 400, "MissingField"},
			{"group cycle", "POST", p + "/groups/MigrationScope/members", tok, map[string]any{"Member": "MigrationScope"}, 409, "GroupCycle"},
			{"already member", "POST", p + "/groups/MigrationScope/members", tok, map[string]any{"Member": "user01"}, 409, "AlreadyMember"},
			{"not a member", "DELETE", p + "/groups/MigrationScope/members/mu01", tok, nil, 404, "NotAMember"},
			// Apps and consents.
			{"app name missing", "POST", p + "/apps", tok, map[string]any{"Permissions": []string{"Mailbox.Migration"}}, 400, "MissingField"},
			{"app permission unknown", "POST", p + "/apps", tok, map[string]any{"Name": "x", "Permissions": []string{"Mail.Send"}}, 400, "UnknownPermission"},
			{"app id not a GUID", "GET", p + "/apps/not-a-guid", tok, nil, 400, "InvalidGuid"},
			{"app unknown", "GET", p + "/apps/" + uuid.NewString(), tok, nil, 404, "AppNotFound"},
			{"secret expiry not a duration", "POST", p + "/apps/" + c.App.AppId + "/secrets", tok, map[string]any{"Expires": "forever"}, 400, "InvalidExpiry"},
			{"secret expiry too short", "POST", p + "/apps/" + c.App.AppId + "/secrets", tok, map[string]any{"Expires": "10s"}, 400, "InvalidExpiry"},
			{"secret expiry too long", "POST", p + "/apps/" + c.App.AppId + "/secrets", tok, map[string]any{"Expires": "100000h"}, 400, "InvalidExpiry"},
			{"consent-url without server", "GET", p + "/apps/" + c.App.AppId + "/consent-url?source-tenant=x.example", tok, nil, 400, "InvalidRemoteServer"},
			{"consent-url without tenant", "GET", p + "/apps/" + c.App.AppId + "/consent-url?source-server=https%3A%2F%2Fsrc.example", tok, nil, 400, "MissingField"},
			{"consent app not a GUID", "POST", p + "/consents", tok, map[string]any{"AppId": "app", "Issuer": "https://x.example/t/v2.0"}, 400, "InvalidGuid"},
			{"consent app missing", "POST", p + "/consents", tok, map[string]any{"Issuer": "https://x.example/t/v2.0"}, 400, "MissingField"},
			{"consent issuer missing", "POST", p + "/consents", tok, map[string]any{"AppId": uuid.NewString()}, 400, "MissingField"},
			{"consent issuer invalid", "POST", p + "/consents", tok, map[string]any{"AppId": uuid.NewString(), "Issuer": "ftp://x.example/t/v2.0"}, 400, "InvalidIssuer"},
			{"consent revoke unknown", "DELETE", p + "/consents/" + uuid.NewString(), tok, nil, 404, "AppNotConsented"},
			// Organization relationships.
			{"orgrel name missing", "POST", p + "/orgrels", tok, map[string]any{"DomainNames": []string{f.Id}}, 400, "MissingField"},
			{"orgrel name too long", "POST", p + "/orgrels", tok, map[string]any{"Name": long, "DomainNames": []string{f.Id}}, 400, "NameTooLong"},
			{"orgrel domain names missing", "POST", p + "/orgrels", tok, map[string]any{"Name": "x"}, 400, "MissingField"},
			{"orgrel domain names invalid", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{"not valid!"}}, 400, "InvalidDomainNames"},
			{"orgrel capability unknown", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{f.Id}, "MailboxMoveCapability": []string{"Sideways"}}, 400, "InvalidCapability"},
			{"orgrel capability unknown in list", "PATCH", p + "/orgrels/fabrikam", tok, map[string]any{"MailboxMoveCapability": []string{"Inbound,Upward"}}, 400, "InvalidCapability"},
			{"orgrel app not a GUID", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{f.Id}, "OAuthApplicationId": "abc"}, 400, "InvalidGuid"},
			{"orgrel RemoteOutbound without app", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{f.Id}, "MailboxMoveEnabled": true,
				"MailboxMoveCapability": []string{"RemoteOutbound"}}, 400, "MissingField"},
			{"orgrel scope unknown", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{f.Id}, "MailboxMovePublishedScopes": []string{"NoSuchGroup"}}, 404, "ScopeGroupNotFound"},
			{"orgrel scope not a security group", "POST", p + "/orgrels", tok, map[string]any{"Name": "x", "DomainNames": []string{f.Id}, "MailboxMovePublishedScopes": []string{"user01"}}, 400, "ScopeNotSecurityGroup"},
			{"orgrel duplicate", "POST", p + "/orgrels", tok, map[string]any{"Name": "FABRIKAM", "DomainNames": []string{f.Id}}, 409, "OrgRelExists"},
			{"orgrel rename", "PATCH", p + "/orgrels/fabrikam", tok, map[string]any{"Name": "other"}, 400, "ReadOnlyField"},
			{"orgrel unknown", "GET", p + "/orgrels/nope", tok, nil, 404, "OrgRelNotFound"},
			// Migration endpoints.
			{"endpoint server invalid", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "nope", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString(), "Secret": "s"}, 400, "InvalidRemoteServer"},
			{"endpoint tenant invalid", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "https://x.example", "RemoteTenant": "not a tenant", "ApplicationId": uuid.NewString(), "Secret": "s"}, 400, "InvalidRemoteTenant"},
			{"endpoint app not a GUID", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": "x", "Secret": "s"}, 400, "InvalidGuid"},
			{"endpoint secret missing", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString()}, 400, "MissingField"},
			{"endpoint concurrency", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString(), "Secret": "s", "MaxConcurrentMigrations": 5000}, 400, "InvalidConcurrency"},
			{"endpoint bandwidth", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString(), "Secret": "s", "MaxBytesPerSecond": -1}, 400, "InvalidBandwidth"},
			{"endpoint type", "POST", p + "/endpoints", tok, map[string]any{"Name": "x", "Type": "POP3", "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "Secret": "s"}, 400, "InvalidEndpointType"},
			{"endpoint duplicate", "POST", p + "/endpoints", tok, map[string]any{"Name": c.Endpoint.Name, "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString(), "Secret": "s"}, 409, "EndpointExists"},
			{"endpoint name too long", "POST", p + "/endpoints", tok, map[string]any{"Name": long, "RemoteServer": "https://x.example", "RemoteTenant": "x.example", "ApplicationId": uuid.NewString(), "Secret": "s"}, 400, "NameTooLong"},
			{"endpoint unknown", "GET", p + "/endpoints/nope", tok, nil, 404, "EndpointNotFound"},
			// References no object can have: NUL bytes and invalid UTF-8
			// (PostgreSQL refuses both in text) are simply not found.
			{"tenant NUL", "GET", "/api/v1/tenants/%00", s.Op, nil, 404, "TenantNotFound"},
			{"tenant bad UTF-8", "GET", "/api/v1/tenants/%FF/mailboxes", s.Op, nil, 404, "TenantNotFound"},
			{"tenant NUL as tenant admin", "GET", "/api/v1/tenants/%00", tok, nil, 403, "TenantAccessDenied"},
			{"mailbox NUL", "GET", mb + "/a%00b", tok, nil, 404, "RecipientNotFound"},
			{"mailbox bad UTF-8", "GET", mb + "/%C3%28", tok, nil, 404, "RecipientNotFound"},
			{"mailbox address bad UTF-8", "DELETE", mb + "/%FF@" + c.Domain, tok, nil, 404, "RecipientNotFound"},
			{"mailbox X500 NUL", "GET", mb + "/%2Fo=x%00", tok, nil, 404, "RecipientNotFound"},
			{"member NUL", "POST", p + "/groups/MigrationScope/members", tok, map[string]any{"Member": "user\u000001"}, 404, "RecipientNotFound"},
			{"member NUL raw", "POST", p + "/groups/MigrationScope/members", tok, js(`{"Member":"user\u000001"}`), 404, "RecipientNotFound"},
			{"scope NUL", "POST", p + "/orgrels", tok, js(`{"Name":"x","DomainNames":["` + f.Id + `"],"MailboxMovePublishedScopes":["a\u0000"]}`), 404, "ScopeGroupNotFound"},
			{"orgrel NUL", "GET", p + "/orgrels/%00", tok, nil, 404, "OrgRelNotFound"},
			{"orgrel bad UTF-8", "PATCH", p + "/orgrels/%FF", tok, map[string]any{"Enabled": true}, 404, "OrgRelNotFound"},
			{"endpoint NUL", "DELETE", p + "/endpoints/%00", tok, nil, 404, "EndpointNotFound"},
			{"domain NUL", "DELETE", p + "/domains/%00.example", tok, nil, 404, "DomainNotFound"},
			{"external address NUL", "PATCH", mu, tok, js(`{"ExternalEmailAddress":"a\u0000@example.org"}`), 400, "InvalidSmtpAddress"},
			{"address NUL", "PATCH", mu, tok, js(`{"AddAddresses":["smtp:a\u0000@` + c.Domain + `"]}`), 400, "InvalidSmtpAddress"},
			{"admin token name NUL", "POST", p + "/admin-tokens", tok, js(`{"Name":"a\u0000"}`), 400, "InvalidName"},
			{"admin token name too long", "POST", p + "/admin-tokens", tok, map[string]any{"Name": long}, 400, "NameTooLong"},
			{"IMAP endpoint user NUL", "POST", p + "/endpoints", tok, js(`{"Name":"imap","Type":"IMAP","RemoteServer":"imaps://imap.example","RemoteTenant":"x.example","ApplicationId":"u\u0000","Secret":"s"}`), 400, "InvalidApplicationId"},
			{"X500 NUL", "PATCH", mu, tok, js(`{"AddAddresses":["X500:/o=a\u0000"]}`), 400, "InvalidProxyAddress"},
		}
		if len(cases) < 25 {
			t.Fatalf("only %d cases", len(cases))
		}
		before, beforeF := s.snapshot(t, c), s.snapshot(t, f)
		var tenants []apitypes.TenantView
		s.call(t, "GET", "/api/v1/tenants", s.Op, nil).ok(t, &tenants)
		for i, tc := range cases {
			t.Run(fmt.Sprintf("%02d %s", i, tc.name), func(t *testing.T) {
				r := s.call(t, tc.method, tc.path, tc.token, tc.body)
				if r.Status >= 500 {
					t.Fatalf("server error %d: %s", r.Status, r.Body)
				}
				r.wantErr(t, tc.status, tc.code)
			})
		}
		if after := s.snapshot(t, c); after != before {
			t.Fatalf("contoso changed:\n--- before\n%s\n--- after\n%s", before, after)
		}
		if after := s.snapshot(t, f); after != beforeF {
			t.Fatal("fabrikam changed")
		}
		var after []apitypes.TenantView
		s.call(t, "GET", "/api/v1/tenants", s.Op, nil).ok(t, &after)
		if len(after) != len(tenants) {
			t.Fatalf("%d tenants, want %d", len(after), len(tenants))
		}
		// Internal causes never reach the caller.
		if strings.Contains(string(s.Logs.Bytes()), "level=ERROR") {
			t.Fatalf("invalid requests logged errors:\n%s", s.Logs.Bytes())
		}
	})
}
