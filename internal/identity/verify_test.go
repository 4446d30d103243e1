package identity

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// trustedFor returns the TrustedIssuer of a tenant on a test server.
func trustedFor(s *testServer, tenantID string) TrustedIssuer {
	return TrustedIssuer{Issuer: IssuerURL(s.url, tenantID), JWKSURL: JWKSURL(s.url, tenantID)}
}

// noNetwork is an HTTP client that fails every request.
var noNetwork = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
	return nil, errors.New("network used")
})}

// TestCrossServer: an app registered on A gets a token from A's token
// endpoint; B verifies it against A's issuer and JWKS.
func TestCrossServer(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		b := newTestServer(t, dbtest.Open(t, d.Dialect))
		tn := seedTenant(t, a.d, "contoso")
		seedTenant(t, b.d, "fabrikam")
		appID, secret := seedApp(t, a.d, tn.id, "Mailbox.Migration")
		trusted := trustedFor(a, tn.id)
		if JWKSURLForIssuer(trusted.Issuer) != trusted.JWKSURL {
			t.Fatalf("JWKSURLForIssuer(%s) = %s", trusted.Issuer, JWKSURLForIssuer(trusted.Issuer))
		}
		v := NewVerifier(nil, VerifierOptions{Local: b.keys, LocalPublicURL: b.url})

		for _, ref := range []string{tn.id, tn.name, tn.domain} {
			tok, err := NewTokenSource(nil, TokenURL(a.url, ref), appID, secret, b.url).Token(ctx)
			if err != nil {
				t.Fatalf("token by %s: %v", ref, err)
			}
			c, err := v.Verify(ctx, tok, trusted, b.url)
			if err != nil {
				t.Fatalf("verify token got by %s: %v", ref, err)
			}
			if c.Issuer != trusted.Issuer || c.TenantID != tn.id || c.AppID != appID || !c.HasRole("Mailbox.Migration") ||
				len(c.Audience) != 1 || c.Audience[0] != b.url || c.ID == "" {
				t.Fatalf("claims: %+v", c)
			}
			if left := time.Until(c.ExpiresAt); left < 55*time.Minute || left > time.Hour+time.Second {
				t.Fatalf("token expires in %s", left)
			}
			u, err := ParseUnverified(tok)
			if err != nil || u.AppID != appID || u.TenantID != tn.id {
				t.Fatalf("ParseUnverified: %+v %v", u, err)
			}
		}
		if n := a.jwksHits.Load(); n != 1 {
			t.Fatalf("A's JWKS fetched %d times for 3 verifications, want 1 (cached)", n)
		}

		// Local shortcut: B verifies its own tokens without HTTP.
		tb := seedTenant(t, b.d, "northwind")
		local := NewVerifier(noNetwork, VerifierOptions{Local: b.keys, LocalPublicURL: b.url + "/"})
		tok, _, err := b.issuer.Issue(ctx, tb.id, appID, a.url, []string{"Mailbox.Migration"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := local.Verify(ctx, tok, trustedFor(b, tb.id), a.url); err != nil {
			t.Fatalf("local verify: %v", err)
		}
		// ... and a rotation is seen at once.
		if _, err := b.keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		tok2, _, _ := b.issuer.Issue(ctx, tb.id, appID, a.url, nil, 0)
		for _, tk := range []string{tok, tok2} {
			if _, err := local.Verify(ctx, tk, trustedFor(b, tb.id), a.url); err != nil {
				t.Fatalf("local verify after rotation: %v", err)
			}
		}
		// Without the shortcut the same client would have to fetch.
		_, err = NewVerifier(noNetwork, VerifierOptions{}).Verify(ctx, tok, trustedFor(b, tb.id), a.url)
		wantCode(t, err, "IssuerUnreachable", errs.Unavailable)
	})
}

// forge signs claims with any method and key, setting header fields.
func forge(t *testing.T, m jwt.SigningMethod, key any, claims jwt.Claims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyRejects(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		b := newTestServer(t, dbtest.Open(t, d.Dialect))
		tn := seedTenant(t, a.d, "contoso")
		other := seedTenant(t, a.d, "northwind")
		tb := seedTenant(t, b.d, "fabrikam")
		appID := "11111111-2222-3333-4444-555555555555"
		aud := "https://target.example"
		trusted := trustedFor(a, tn.id)
		v := NewVerifier(nil, VerifierOptions{})

		issue := func(iss *Issuer, tenantID, audience string, ttl time.Duration) string {
			tok, _, err := iss.Issue(ctx, tenantID, appID, audience, []string{"Mailbox.Migration"}, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		good := issue(a.issuer, tn.id, aud, 0)
		if _, err := v.Verify(ctx, good, trusted, aud); err != nil {
			t.Fatalf("good token rejected: %v", err)
		}
		parts := strings.Split(good, ".")
		kid := tokenPart(t, good, 0)["kid"].(string)
		set, err := a.keys.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)

		payload := tokenPart(t, good, 1)
		payload["roles"] = []string{"Mailbox.Migration", "Global.Admin"}
		pb, _ := json.Marshal(payload)
		tamperedPayload := parts[0] + "." + base64.RawURLEncoding.EncodeToString(pb) + "." + parts[2]
		sig := []byte(parts[2])
		if sig[10] == 'A' {
			sig[10] = 'B'
		} else {
			sig[10] = 'A'
		}
		tamperedSig := parts[0] + "." + parts[1] + "." + string(sig)

		claims := func(mod func(c *accessClaims)) accessClaims {
			now := time.Now()
			c := accessClaims{Issuer: trusted.Issuer, Subject: appID, Audience: aud, TenantID: tn.id, AppID: appID,
				Roles: []string{"Mailbox.Migration"}, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "x"}
			if mod != nil {
				mod(&c)
			}
			return c
		}
		signA := func(c jwt.Claims) string {
			tok, err := a.keys.sign(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		_, strangerKey, _ := ed25519.GenerateKey(nil)
		hdr := map[string]any{"kid": kid}
		rsHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"` + kid + `","typ":"JWT"}`))

		for _, c := range []struct {
			name, token, want string
		}{
			{"tampered payload", tamperedPayload, "signature is invalid"},
			{"tampered signature", tamperedSig, "signature is invalid"},
			{"expired", issue(a.issuer, tn.id, aud, -2*time.Hour), "expired at"},
			{"other audience", issue(a.issuer, tn.id, "https://elsewhere.example", 0), "audience"},
			{"issued by B", issue(b.issuer, tb.id, aud, 0), "is not the issuer"},
			{"issued by A for another tenant", issue(a.issuer, other.id, aud, 0), "recorded in the consent"},
			{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), hdr), `algorithm "none"`},
			{"HS256 with JWKS x", forge(t, jwt.SigningMethodHS256, x, claims(nil), hdr), `algorithm "HS256"`},
			{"HS256 with JWKS x text", forge(t, jwt.SigningMethodHS256, []byte(set.Keys[0].X), claims(nil), hdr), `algorithm "HS256"`},
			{"RS256 header", rsHeader + "." + parts[1] + "." + parts[2], `algorithm "RS256"`},
			{"unknown kid", forge(t, jwt.SigningMethodEdDSA, strangerKey, claims(nil), map[string]any{"kid": "nosuchkey"}), "not published"},
			{"known kid, stranger key", forge(t, jwt.SigningMethodEdDSA, strangerKey, claims(nil), hdr), "signature is invalid"},
			{"no kid", forge(t, jwt.SigningMethodEdDSA, strangerKey, claims(nil), nil), "key id"},
			{"crit header", forge(t, jwt.SigningMethodEdDSA, strangerKey, claims(nil), map[string]any{"kid": kid, "crit": []string{"exp"}}), "critical"},
			{"no tid", signA(claims(func(c *accessClaims) { c.TenantID = "" })), "tid"},
			{"no appid", signA(claims(func(c *accessClaims) { c.AppID = "" })), "appid"},
			{"no exp", signA(claims(func(c *accessClaims) { c.ExpiresAt = nil })), "exp"},
			{"not yet valid", signA(claims(func(c *accessClaims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour)) })), "not valid before"},
			{"empty", "", "no token"},
			{"garbage", "garbage", "malformed"},
			{"three garbage parts", "a.b.c", "malformed"},
			{"dots", "..", "malformed"},
			{"huge", strings.Repeat("a", MaxTokenSize+1), "malformed"},
			{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2")) + "." + parts[2], "malformed"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := v.Verify(ctx, c.token, trusted, aud)
				e := wantCode(t, err, "TokenRejected", errs.Unauthorized)
				t.Log(err)
				if !strings.Contains(e.Message, c.want) {
					t.Fatalf("message %q does not say %q", e.Message, c.want)
				}
			})
		}
		// The issuer mismatch message names both issuers.
		_, err = v.Verify(ctx, issue(b.issuer, tb.id, aud, 0), trusted, aud)
		if msg := errs.As(err).Message; !strings.Contains(msg, IssuerURL(b.url, tb.id)) || !strings.Contains(msg, trusted.Issuer) {
			t.Fatalf("issuer mismatch message: %s", msg)
		}
		// Within the leeway an expired token still passes.
		if _, err := v.Verify(ctx, issue(a.issuer, tn.id, aud, -30*time.Second), trusted, aud); err != nil {
			t.Fatalf("token expired 30s ago (inside the leeway) rejected: %v", err)
		}
	})
}

func TestVerifierJWKSFetch(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		tn := seedTenant(t, a.d, "contoso")
		aud := "https://target.example"
		tok, _, err := a.issuer.Issue(ctx, tn.id, "11111111-2222-3333-4444-555555555555", aud, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		iss := IssuerURL(a.url, tn.id)
		verify := func(v *Verifier, jwksURL string) error {
			_, err := v.Verify(ctx, tok, TrustedIssuer{Issuer: iss, JWKSURL: jwksURL}, aud)
			return err
		}

		// Nothing listening.
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := "http://" + l.Addr().String() + "/keys"
		l.Close()
		e := wantCode(t, verify(NewVerifier(nil, VerifierOptions{}), dead), "IssuerUnreachable", errs.Unavailable)
		if !strings.Contains(e.Message, dead) {
			t.Fatalf("message does not name the URL: %s", e.Message)
		}

		// Plain http is refused for other hosts, and for loopback when the policy says so.
		wantCode(t, verify(NewVerifier(noNetwork, VerifierOptions{}), "http://issuer.example/keys"), "TokenRejected", errs.Unauthorized)
		strict := NewVerifier(nil, VerifierOptions{AllowInsecureHTTP: func(string) bool { return false }})
		wantCode(t, verify(strict, JWKSURL(a.url, tn.id)), "TokenRejected", errs.Unauthorized)

		// Oversized, failing, non-JSON and redirecting-to-insecure JWKS.
		mux := http.NewServeMux()
		mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", MaxJWKSSize) + `"}`))
		})
		mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 500) })
		mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) })
		mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://issuer.example/keys", http.StatusFound)
		})
		mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":[]}`)) })
		other := httptest.NewServer(mux)
		defer other.Close()
		for path, want := range map[string]string{"/big": "larger than", "/fail": "500", "/html": "not a valid JWKS", "/redirect": "refused"} {
			e := wantCode(t, verify(NewVerifier(nil, VerifierOptions{}), other.URL+path), "IssuerUnreachable", errs.Unavailable)
			if !strings.Contains(e.Message, want) {
				t.Errorf("%s: message %q does not say %q", path, e.Message, want)
			}
		}
		e = wantCode(t, verify(NewVerifier(nil, VerifierOptions{}), other.URL+"/empty"), "TokenRejected", errs.Unauthorized)
		if !strings.Contains(e.Message, "not published") {
			t.Fatalf("empty JWKS: %s", e.Message)
		}
	})
}

func TestVerifierRefetchPolicy(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		tn := seedTenant(t, a.d, "contoso")
		aud := "https://target.example"
		trusted := trustedFor(a, tn.id)
		issue := func() string {
			tok, _, err := a.issuer.Issue(ctx, tn.id, "11111111-2222-3333-4444-555555555555", aud, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		now := time.Now()
		v := NewVerifier(nil, VerifierOptions{Now: func() time.Time { return now }})
		if _, err := v.Verify(ctx, issue(), trusted, aud); err != nil {
			t.Fatal(err)
		}
		_, stranger, _ := ed25519.GenerateKey(nil)
		unknown := forge(t, jwt.SigningMethodEdDSA, stranger, jwt.MapClaims{"iss": trusted.Issuer, "exp": now.Add(time.Hour).Unix()},
			map[string]any{"kid": "nosuchkey"})
		for range 3 {
			v.Verify(ctx, unknown, trusted, aud)
		}
		if n := a.jwksHits.Load(); n != 1 {
			t.Fatalf("unknown kids caused %d fetches within 30s, want 1 in all", n)
		}

		// After a rotation the new kid is fetched, at most once per 30 s.
		if _, err := a.keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		rotated := issue()
		now = now.Add(JWKSRefetchInterval + time.Second)
		if _, err := v.Verify(ctx, rotated, trusted, aud); err != nil {
			t.Fatalf("token of the rotated key: %v", err)
		}
		if n := a.jwksHits.Load(); n != 2 {
			t.Fatalf("%d fetches after rotation, want 2", n)
		}
		// The cache expires after CacheTTL.
		now = now.Add(DefaultJWKSCacheTTL)
		if _, err := v.Verify(ctx, rotated, trusted, aud); err != nil {
			t.Fatal(err)
		}
		if n := a.jwksHits.Load(); n != 3 {
			t.Fatalf("%d fetches after the cache TTL, want 3", n)
		}
	})
}

// TestTenantDomainsClaim: with TenantDomains set, the issuer signs the
// tenant's domains into every token (tenant_domains), and a verifier on
// another server reads them back; without it the claim is absent.
func TestTenantDomainsClaim(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		b := newTestServer(t, dbtest.Open(t, d.Dialect))
		tn := seedTenant(t, a.d, "contoso")
		appID, secret := seedApp(t, a.d, tn.id, "Mailbox.Migration")
		v := NewVerifier(nil, VerifierOptions{Local: b.keys, LocalPublicURL: b.url})
		get := func() *Claims {
			t.Helper()
			tok, err := NewTokenSource(nil, TokenURL(a.url, tn.id), appID, secret, b.url).Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(ctx, tok, trustedFor(a, tn.id), b.url)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c := get(); len(c.Domains) != 0 {
			t.Fatalf("domains without TenantDomains: %v", c.Domains)
		}
		var asked string
		a.issuer.TenantDomains = func(_ context.Context, tenantID string) ([]string, error) {
			asked = tenantID
			return []string{tn.domain, "contoso.example"}, nil
		}
		if c := get(); asked != tn.id || len(c.Domains) != 2 || c.Domains[0] != tn.domain || c.Domains[1] != "contoso.example" {
			t.Fatalf("domains %v (asked for %q)", c.Domains, asked)
		}
		a.issuer.TenantDomains = func(context.Context, string) ([]string, error) { return nil, errors.New("directory down") }
		if _, err := NewTokenSource(nil, TokenURL(a.url, tn.id), appID, secret, b.url).Token(ctx); err == nil {
			t.Fatal("a token was issued although the tenant's domains could not be read")
		}
	})
}
