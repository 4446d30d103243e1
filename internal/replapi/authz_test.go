package replapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// call sends a replication API request with a bearer token and returns the
// HTTP status and the error code of the reply ("" on success).
func call(t *testing.T, url, token string) (int, string) {
	t.Helper()
	status, b := raw(t, url, token)
	var body struct{ Code, Hint, Detail string }
	json.Unmarshal([]byte(b), &body)
	if status >= 300 && (body.Detail == "" || body.Hint == "") {
		t.Fatalf("%s: %d %s without message or hint", url, status, body.Code)
	}
	return status, body.Code
}

// TestSourceAuthorization checks docs/architecture.md §4 checks 1–4 on the source side,
// with tokens the token endpoint would never issue: each request to the
// replication API is refused with the code of the first failing check,
// and only a token passing all of them reads a mailbox — and only one in
// the published scope (directly or through a nested group).
func TestSourceAuthorization(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	other := s.Tenant("northwind")
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	inScope := s.Mailbox("contoso", "inscope", "pw", false)
	nested := s.Mailbox("contoso", "nested", "pw", false)
	outside := s.Mailbox("contoso", "outside", "pw", false)
	foreign := s.Mailbox("fabrikam", "foreign", "pw", false)
	tr.AddToScope(t, s, "inscope")
	if _, err := s.Admin.CreateRecipient(ctx, s.Op, "contoso", directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "Wave2", Name: "Wave2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.AddMember(ctx, s.Op, "contoso", "Wave2", "nested"); err != nil {
		t.Fatal(err)
	}
	tr.AddToScope(t, s, "Wave2")

	base := s.PublicURL + replication.APIPrefix + tr.SourceTenant.ID
	check := base + "/check"
	mailbox := func(r *directory.Recipient) string { return base + "/mailboxes/" + r.ExchangeGuid }
	issue := func(tenantID, appID, aud string, roles []string, ttl time.Duration) string {
		t.Helper()
		tok, _, err := s.Issuer.Issue(ctx, tenantID, appID, aud, roles, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	role := []string{directory.PermissionMailboxMigration}
	good := issue(tr.TargetTenant.ID, tr.AppID, s.PublicURL, role, 0)

	// A token with the right issuer, kid and claims, signed with another key.
	parsed, _, err := jwt.NewParser().ParseUnverified(good, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, parsed.Claims)
	forged.Header["kid"] = parsed.Header["kid"]
	forgedTok, err := forged.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}

	otherApp, err := s.Admin.CreateApp(ctx, s.Op, "fabrikam", "Unconsented app", role)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, url, token string
		status           int
		code             string
	}{
		{"no token", check, "", 401, "TokenRejected"},
		{"malformed token", check, "not.a.jwt", 401, "TokenRejected"},
		{"forged signature", check, forgedTok, 401, "TokenRejected"},
		{"expired", check, issue(tr.TargetTenant.ID, tr.AppID, s.PublicURL, role, -time.Minute), 401, "TokenRejected"},
		{"other audience", check, issue(tr.TargetTenant.ID, tr.AppID, "https://elsewhere.example", role, 0), 401, "TokenRejected"},
		// Signed by this server, but by another tenant's issuer than the
		// one the consent recorded for the app.
		{"other issuer", check, issue(other.ID, tr.AppID, s.PublicURL, role, 0), 401, "TokenRejected"},
		{"app not consented", check, issue(tr.TargetTenant.ID, otherApp.AppID, s.PublicURL, role, 0), 403, "AppNotConsented"},
		{"app id not a GUID", check, issue(tr.TargetTenant.ID, "not-a-guid", s.PublicURL, role, 0), 403, "AppNotConsented"},
		// The app's token without the Mailbox.Migration role.
		{"no role", check, issue(tr.TargetTenant.ID, tr.AppID, s.PublicURL, nil, 0), 403, "AppPermissionMissing"},
		{"other role", check, issue(tr.TargetTenant.ID, tr.AppID, s.PublicURL, []string{"Mail.Read"}, 0), 403, "AppPermissionMissing"},
		{"good", check, good, 200, ""},
		{"in scope", mailbox(inScope), good, 200, ""},
		{"in scope through a nested group", mailbox(nested), good, 200, ""},
		{"not in scope", mailbox(outside), good, 403, "MailboxNotInScope"},
		{"not in scope: content", mailbox(outside) + "/folders", good, 403, "MailboxNotInScope"},
		{"another tenant's mailbox", mailbox(foreign), good, 403, "MailboxNotInScope"},
		{"unknown mailbox", base + "/mailboxes/" + uuid.NewString(), good, 403, "MailboxNotInScope"},
	} {
		status, code := call(t, c.url, c.token)
		if status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}

	// Check 3 is about the token's tenant: a relationship naming another
	// tenant does not authorize this one.
	if _, err := s.Admin.UpdateOrgRel(ctx, s.Op, "contoso", "fabrikam", directory.OrgRelSpec{DomainNames: []string{other.ID}}); err != nil {
		t.Fatal(err)
	}
	if status, code := call(t, check, good); status != 403 || code != "SourceNotAuthorized" {
		t.Fatalf("relationship naming another tenant: %d %s", status, code)
	}
}
