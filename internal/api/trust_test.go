package api_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// tokenReply is the token endpoint's reply.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
	Code        string `json:"code"`
}

// requestToken asks a tenant's token endpoint for a client-credentials
// token for resource.
func requestToken(t *testing.T, tokenURL, clientID, secret, resource string) (int, tokenReply) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {resource + "/.default"}}
	r := do(t, "POST", tokenURL, "", raw{"application/x-www-form-urlencoded", []byte(form.Encode())})
	var tr tokenReply
	if err := json.Unmarshal(r.Body, &tr); err != nil {
		t.Fatalf("token reply %d: %s", r.Status, r.Body)
	}
	return r.Status, tr
}

// tamper returns the token with its payload changed by f (the signature is
// kept, so it no longer matches).
func tamper(t *testing.T, token string, f func(claims map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	f(claims)
	b, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestCrossServerTrust proves criterion 3: an app registered on server A
// gets a token from A's token endpoint; server B, whose tenant consented to
// the app with A's issuer, accepts it; tokens of an unconsented app,
// tampered, expired or for another audience are rejected.
func TestCrossServerTrust(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		a := newServer(t, dialect) // target: fabrikam registers the app
		b := newServer(t, dialect) // source: contoso consents
		if a.URL == b.URL {
			t.Fatal("both servers on one URL")
		}
		fab := a.createTenant(t, "fabrikam")
		con := b.createTenant(t, "contoso")

		// Step 1 on A: the migration app and its secret.
		var app struct{ AppId, Issuer string }
		a.call(t, "POST", tp("fabrikam")+"/apps", fab.Token, map[string]any{"Name": "Mailbox migration", "Permissions": []string{"Mailbox.Migration"}}).ok(t, &app)
		if app.Issuer != identity.IssuerURL(a.URL, fab.Id) {
			t.Fatalf("Issuer %q, want %q", app.Issuer, identity.IssuerURL(a.URL, fab.Id))
		}
		var sec struct{ SecretText string }
		a.call(t, "POST", tp("fabrikam")+"/apps/"+app.AppId+"/secrets", fab.Token, nil).ok(t, &sec)
		// An app contoso never consents to.
		var other struct{ AppId string }
		a.call(t, "POST", tp("fabrikam")+"/apps", fab.Token, map[string]any{"Name": "Other", "Permissions": []string{"Mailbox.Migration"}}).ok(t, &other)
		var otherSec struct{ SecretText string }
		a.call(t, "POST", tp("fabrikam")+"/apps/"+other.AppId+"/secrets", fab.Token, nil).ok(t, &otherSec)

		// Step 2 on B: consent with A's issuer.
		var consent struct{ AppId, Issuer, JwksUri string }
		b.call(t, "POST", tp("contoso")+"/consents", con.Token, map[string]any{"AppId": app.AppId, "Issuer": app.Issuer}).ok(t, &consent)
		if consent.JwksUri != identity.JWKSURL(a.URL, fab.Id) {
			t.Fatalf("JwksUri %q", consent.JwksUri)
		}

		// trusted looks up what B trusts for a token: the issuer recorded in
		// contoso's consent for the token's appid.
		trusted := func(token string) (identity.TrustedIssuer, error) {
			claims, err := identity.ParseUnverified(token)
			if err != nil {
				return identity.TrustedIssuer{}, err
			}
			cs, err := b.Dir.GetConsent(bg, con.Id, claims.AppID)
			if err != nil {
				return identity.TrustedIssuer{}, err
			}
			return identity.TrustedIssuer{Issuer: cs.Issuer, JWKSURL: cs.JWKSURL}, nil
		}
		verify := func(token string) (*identity.Claims, error) {
			tr, err := trusted(token)
			if err != nil {
				return nil, err
			}
			return b.Verifier.Verify(bg, token, tr, b.URL)
		}

		// A issues the token over HTTP (token endpoint by tenant id and by
		// tenant name); B accepts it.
		for _, ten := range []string{fab.Id, "fabrikam", fab.InitialDomain} {
			status, tr := requestToken(t, a.URL+"/"+ten+"/oauth2/v2.0/token", app.AppId, sec.SecretText, b.URL)
			if status != http.StatusOK || tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") || tr.ExpiresIn <= 0 {
				t.Fatalf("token endpoint: %d %+v", status, tr)
			}
			claims, err := verify(tr.AccessToken)
			if err != nil {
				t.Fatalf("B rejects A's token: %v", err)
			}
			if claims.Issuer != app.Issuer || claims.TenantID != fab.Id || claims.AppID != app.AppId || !claims.HasRole("Mailbox.Migration") ||
				len(claims.Audience) != 1 || claims.Audience[0] != b.URL {
				t.Fatalf("claims %+v", claims)
			}
		}
		// The client's TokenSource gets the same kind of token.
		ts := identity.NewTokenSource(nil, identity.TokenURL(a.URL, fab.Id), app.AppId, sec.SecretText, b.URL)
		good, err := ts.Token(bg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verify(good); err != nil {
			t.Fatalf("TokenSource token rejected: %v", err)
		}

		// A refuses a wrong secret, and a secret of another app.
		if status, tr := requestToken(t, identity.TokenURL(a.URL, fab.Id), app.AppId, sec.SecretText+"x", b.URL); status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Fatalf("wrong secret: %d %+v", status, tr)
		}
		if status, tr := requestToken(t, identity.TokenURL(a.URL, fab.Id), app.AppId, otherSec.SecretText, b.URL); status != http.StatusUnauthorized || tr.Error != "invalid_client" {
			t.Fatalf("other app's secret: %d %+v", status, tr)
		}

		// Unconsented app: A issues the token, but B's consent lookup fails.
		_, tr := requestToken(t, identity.TokenURL(a.URL, fab.Id), other.AppId, otherSec.SecretText, b.URL)
		if tr.AccessToken == "" {
			t.Fatalf("no token for the other app: %+v", tr)
		}
		_, err = verify(tr.AccessToken)
		if !errors.Is(err, directory.ErrAppNotConsented) {
			t.Fatalf("unconsented app: %v", err)
		}

		rejected := func(name, token string) {
			t.Helper()
			_, err := verify(token)
			if !errors.Is(err, identity.ErrTokenRejected) {
				t.Fatalf("%s: want TokenRejected, got %v", name, err)
			}
			if errs.HTTPStatus(err) != http.StatusUnauthorized {
				t.Fatalf("%s: status %d", name, errs.HTTPStatus(err))
			}
		}
		// Tampered: claims changed after signing, or the signature altered.
		rejected("tampered roles", tamper(t, good, func(c map[string]any) { c["roles"] = []string{"Mailbox.Migration", "Admin"} }))
		rejected("tampered tid", tamper(t, good, func(c map[string]any) { c["tid"] = con.Id }))
		rejected("tampered exp", tamper(t, good, func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() }))
		sig := []byte(good)
		i := len(sig) - 5
		if sig[i] == 'A' {
			sig[i] = 'B'
		} else {
			sig[i] = 'A'
		}
		rejected("altered signature", string(sig))
		rejected("no signature", good[:strings.LastIndexByte(good, '.')+1])
		rejected("alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))+"."+strings.Split(good, ".")[1]+".")
		// Expired: minted by A's issuer with A's key, an hour ago.
		expired, _, err := a.Issuer.Issue(bg, fab.Id, app.AppId, b.URL, []string{"Mailbox.Migration"}, -time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		rejected("expired", expired)
		// Another audience: a valid token of A, but for another resource.
		_, tr = requestToken(t, identity.TokenURL(a.URL, fab.Id), app.AppId, sec.SecretText, "https://other.example")
		if tr.AccessToken == "" {
			t.Fatalf("no token for another audience: %+v", tr)
		}
		rejected("other audience", tr.AccessToken)
		_, tr = requestToken(t, identity.TokenURL(a.URL, fab.Id), app.AppId, sec.SecretText, a.URL)
		rejected("audience of the issuing server", tr.AccessToken)
		// A token signed by B itself for the consented app id: valid
		// signature, but not from the issuer recorded in the consent.
		forged, _, err := b.Issuer.Issue(bg, fab.Id, app.AppId, b.URL, []string{"Mailbox.Migration"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		rejected("other issuer", forged)
		forged2 := tamper(t, forged, func(c map[string]any) { c["iss"] = app.Issuer })
		rejected("other issuer's key", forged2)

		// And the good token is still accepted after all that.
		if _, err := verify(good); err != nil {
			t.Fatal(err)
		}
	})
}
