package replapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// raw sends a GET with a bearer token and returns the status and body.
func raw(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestNoEnumeration (issue 7, hole 6): a caller without a valid token gets
// the same answer for an existing tenant as for one that does not exist,
// and an authorized partner gets the same answer for a mailbox outside the
// published scope as for one that does not exist, without learning the
// mailbox's address or alias.
func TestNoEnumeration(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	outside := s.Mailbox("contoso", "hidden.person", "pw", false)
	prefix := s.PublicURL + replication.APIPrefix

	// A self-signed token naming an app nobody consented: unverifiable.
	// (Only who knows an app the tenant consented can tell its token
	// rejected from an unknown tenant, and such a caller already knows the
	// tenant from the consent URL.)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	stranger := uuid.NewString()
	strangerTok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"appid": stranger, "tid": uuid.NewString(),
		"iss": "https://attacker.example/x/v2.0", "aud": s.PublicURL, "exp": time.Now().Add(time.Hour).Unix()}).SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "garbage", strangerTok} {
		for _, ref := range [][2]string{{"contoso", "nosuchtenant"}, {tr.SourceTenant.ID, uuid.NewString()}, {"contoso.tenantferry.test", "nosuch.example"}} {
			ks, kb := raw(t, prefix+ref[0]+"/check", tok)
			us, ub := raw(t, prefix+ref[1]+"/check", tok)
			if ks != us || strings.ReplaceAll(kb, ref[0], "T") != strings.ReplaceAll(ub, ref[1], "T") || ks < 400 {
				t.Errorf("token %.10q: tenant %s answers %d %s\nunknown %s answers %d %s", tok, ref[0], ks, kb, ref[1], us, ub)
			}
		}
	}

	// An authorized partner asking for mailboxes outside the scope.
	ts, _, err := s.Issuer.Issue(ctx, tr.TargetTenant.ID, tr.AppID, s.PublicURL, []string{directory.PermissionMailboxMigration}, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := prefix + tr.SourceTenant.ID + "/mailboxes/"
	ghost := uuid.NewString()
	for _, ref := range [][2]string{{outside.ExchangeGuid, ghost}, {outside.ExchangeGuid + "/state", ghost + "/state"}, {"hidden.person", "nobody.here"}} {
		ks, kb := raw(t, base+ref[0], ts)
		us, ub := raw(t, base+ref[1], ts)
		if ks != http.StatusForbidden || ks != us || strings.ReplaceAll(kb, strings.Split(ref[0], "/")[0], "M") != strings.ReplaceAll(ub, strings.Split(ref[1], "/")[0], "M") {
			t.Errorf("out of scope %s: %d %s\nunknown %s: %d %s", ref[0], ks, kb, ref[1], us, ub)
		}
		if strings.Contains(kb, outside.PrimarySmtpAddress) || (ref[0] != "hidden.person" && strings.Contains(kb, "hidden.person")) {
			t.Errorf("the answer for %s names the mailbox: %s", ref[0], kb)
		}
	}
}
