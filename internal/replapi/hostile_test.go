package replapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestHostileRequests sends malformed and unauthorized requests to the
// replication API: each gets its stable code, never a 500.
func TestHostileRequests(t *testing.T) {
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	u := s.Mailbox("contoso", "user01", "pw", false)
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01")
	ts := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(s.PublicURL, tr.TargetTenant.ID), tr.AppID, tr.Secret, s.PublicURL)
	tok, err := ts.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	base := s.PublicURL + "/replication/v1/contoso.tenantferry.test"
	mb := base + "/mailboxes/" + u.ExchangeGuid
	cases := []struct {
		name, method, url, token, body string
		status                         int
		code                           string
	}{
		{"no token", "GET", base + "/check", "", "", 401, "TokenRejected"},
		{"garbage token", "GET", base + "/check", "not.a.jwt", "", 401, "TokenRejected"},
		{"tampered token", "GET", base + "/check", tok[:len(tok)-4] + "AAAA", "", 401, "TokenRejected"},
		{"unknown tenant", "GET", s.PublicURL + "/replication/v1/nowhere.example/check", tok, "", 403, "AppNotConsented"},
		{"other tenant with this token", "GET", s.PublicURL + "/replication/v1/fabrikam.tenantferry.test/check", tok, "", 403, "AppNotConsented"},
		{"unknown route", "GET", base + "/nothing", tok, "", 404, "NoSuchRoute"},
		{"unknown mailbox", "GET", base + "/mailboxes/nobody@contoso.tenantferry.test", tok, "", 403, "MailboxNotInScope"},
		{"not a guid", "GET", base + "/mailboxes/user01/state", tok, "", 400, "GuidRequired"},
		{"bad cursor", "GET", mb + "/items?after=x.y", tok, "", 400, "InvalidCursor"},
		{"negative upto", "GET", mb + "/items?upto=-5", tok, "", 400, "InvalidParameter"},
		{"bad since", "GET", mb + "/folders?since=abc", tok, "", 400, "InvalidParameter"},
		{"content: malformed JSON", "POST", mb + "/content", tok, "{", 400, "InvalidJson"},
		{"content: unknown field", "POST", mb + "/content", tok, `{"Ids":[1],"X":1}`, 400, "UnknownField"},
		{"content: no ids", "POST", mb + "/content", tok, `{"Ids":[]}`, 400, "InvalidParameter"},
		{"content: too many ids", "POST", mb + "/content", tok, `{"Ids":[` + strings.Repeat("1,", 10000) + `1]}`, 400, "InvalidParameter"},
		{"content: oversized body", "POST", mb + "/content", tok, `{"Ids":[` + strings.Repeat(" ", 2<<20) + `1]}`, 413, "RequestTooLarge"},
		// Lock and finalize need a registered move (issue 7 hole 3).
		{"finalize: no registered move", "POST", mb + "/finalize", tok, `{"ExternalEmailAddress":"nope"}`, 403, "MoveNotRegistered"},
		{"lock: no registered move", "POST", mb + "/lock", tok, `{"MoveId":"m1"}`, 403, "MoveNotRegistered"},
		{"lock: no body", "POST", mb + "/lock", tok, ``, 400, "InvalidJson"},
		{"register: bad move id", "PUT", base + "/moves/a%20b", tok, `{"Mailbox":"user01","TargetDeliveryDomain":"fabrikam.tenantferry.test"}`, 400, "InvalidParameter"},
		{"register: unknown field", "PUT", base + "/moves/m1", tok, `{"Mailbox":"user01","X":1}`, 400, "UnknownField"},
		{"register: bad domain", "PUT", base + "/moves/m1", tok, `{"Mailbox":"user01","TargetDeliveryDomain":"no domain"}`, 400, "InvalidDomain"},
		{"register: another tenant's domain", "PUT", base + "/moves/m1", tok, `{"Mailbox":"user01","TargetDeliveryDomain":"contoso.tenantferry.test"}`, 403, "DeliveryDomainNotProven"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if status, code, b := request(t, c.method, c.url, c.token, c.body); status != c.status || code != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", status, code, b, c.status, c.code)
			}
		})
	}
	// Nothing of that changed the source: still an unlocked mailbox.
	r, err := s.Dir.GetRecipient(context.Background(), tr.SourceTenant.ID, "user01")
	if err != nil || string(r.Type) != "UserMailbox" {
		t.Fatalf("source after hostile requests: %v %v", r, err)
	}
	if st := s.Content("contoso", u.ExchangeGuid).State; st != "active" {
		t.Fatalf("source mailbox state %s", st)
	}
}
