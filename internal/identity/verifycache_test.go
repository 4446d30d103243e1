package identity

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// TestVerifiedTokenCache: a token verified once is accepted again without
// a signature check; the cache never outlives the token's exp nor
// VerifiedTokenCacheTTL, never answers for another issuer or audience, and
// never remembers a failure.
func TestVerifiedTokenCache(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		a := newTestServer(t, d)
		tn := seedTenant(t, a.d, "contoso")
		other := seedTenant(t, a.d, "northwind")
		appID := "11111111-2222-3333-4444-555555555555"
		aud := "https://target.example"
		trusted := trustedFor(a, tn.id)

		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		a.issuer.Now = clock
		v := NewVerifier(noNetwork, VerifierOptions{Local: a.keys, LocalPublicURL: a.url, Now: clock})
		checks := func(want int64) {
			t.Helper()
			if n := v.sigChecks.Load(); n != want {
				t.Fatalf("%d signature checks, want %d", n, want)
			}
		}
		issue := func(tenantID string, ttl time.Duration) string {
			tok, _, err := a.issuer.Issue(ctx, tenantID, appID, aud, []string{"Mailbox.Migration"}, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		verify := func(tok string, tr TrustedIssuer, audience string) error {
			t.Helper()
			c, err := v.Verify(ctx, tok, tr, audience)
			if err == nil && (c.AppID != appID || c.Issuer != tr.Issuer || !c.HasRole("Mailbox.Migration")) {
				t.Fatalf("claims: %+v", c)
			}
			return err
		}

		good := issue(tn.id, 10*time.Minute)
		for i := 0; i < 5; i++ {
			if err := verify(good, trusted, aud); err != nil {
				t.Fatalf("verification %d: %v", i, err)
			}
		}
		checks(1)
		// Callers cannot change the cached claims.
		c, _ := v.Verify(ctx, good, trusted, aud)
		c.Roles[0] = "Global.Admin"
		if err := verify(good, trusted, aud); err != nil {
			t.Fatal(err)
		}

		// The same bytes for another audience or issuer are checked afresh
		// (and refused).
		wantCode(t, verify(good, trusted, "https://other.example"), "TokenRejected", errs.Unauthorized)
		wantCode(t, verify(good, trustedFor(a, other.id), aud), "TokenRejected", errs.Unauthorized)
		otherJWKS := trusted
		otherJWKS.JWKSURL = JWKSURL(a.url, other.id)
		if err := verify(good, otherJWKS, aud); err != nil {
			t.Fatal(err) // the server's keys serve every tenant: valid, but checked again
		}
		checks(3)

		// A tampered token is refused every time: failures are not cached.
		parts := strings.Split(good, ".")
		sig := []byte(parts[2])
		if sig[10] == 'A' {
			sig[10] = 'B'
		} else {
			sig[10] = 'A'
		}
		tampered := parts[0] + "." + parts[1] + "." + string(sig)
		for i := 0; i < 2; i++ {
			wantCode(t, verify(tampered, trusted, aud), "TokenRejected", errs.Unauthorized)
		}
		checks(5)

		// After VerifiedTokenCacheTTL the signature is checked again.
		advance(VerifiedTokenCacheTTL + time.Second)
		if err := verify(good, trusted, aud); err != nil {
			t.Fatal(err)
		}
		checks(6)

		// A short-lived token is cached only until its exp, and refused
		// once past exp (and the leeway).
		short := issue(tn.id, 20*time.Second)
		if err := verify(short, trusted, aud); err != nil {
			t.Fatal(err)
		}
		advance(10 * time.Second)
		if err := verify(short, trusted, aud); err != nil {
			t.Fatal(err)
		}
		checks(7)
		advance(10*time.Second + ClockLeeway + time.Second)
		wantCode(t, verify(short, trusted, aud), "TokenRejected", errs.Unauthorized)
		checks(8)
	})
}

// TestVerifiedCacheBounds: the cache holds at most its size, evicting the
// oldest entry, and its entries obey exp and nbf on every use.
func TestVerifiedCacheBounds(t *testing.T) {
	c := newVerifiedCache(3)
	now := time.Now()
	claims := &Claims{AppID: "app", ExpiresAt: now.Add(time.Hour)}
	keys := make([]verifiedKey, 5)
	for i := range keys {
		keys[i] = newVerifiedKey(string(rune('a'+i)), TrustedIssuer{Issuer: "i", JWKSURL: "j"}, "aud")
		c.put(keys[i], claims, time.Time{}, now)
		c.put(keys[i], claims, time.Time{}, now) // a second put does not take another slot
	}
	if n := c.len(); n != 3 {
		t.Fatalf("cache holds %d entries, want 3", n)
	}
	for i, k := range keys {
		if _, ok := c.get(k, now); ok != (i >= 2) {
			t.Fatalf("entry %d cached = %v", i, ok)
		}
	}
	// An entry whose nbf is ahead (beyond the leeway) is not used; neither is
	// one whose exp has passed.
	k := newVerifiedKey("nbf", TrustedIssuer{Issuer: "i", JWKSURL: "j"}, "aud")
	c.put(k, claims, now.Add(ClockLeeway+time.Minute), now)
	if _, ok := c.get(k, now); ok {
		t.Fatal("token used before its nbf")
	}
	k = newVerifiedKey("exp", TrustedIssuer{Issuer: "i", JWKSURL: "j"}, "aud")
	c.put(k, &Claims{ExpiresAt: now.Add(-time.Second)}, time.Time{}, now)
	if _, ok := c.get(k, now.Add(ClockLeeway)); ok {
		t.Fatal("expired token cached")
	}
}

// TestParseUnverifiedCache: ParseUnverified remembers a parse (a pure
// function of the bytes) and hands out copies.
func TestParseUnverifiedCache(t *testing.T) {
	d := dbtest.Open(t, "sqlite")
	a := newTestServer(t, d)
	tn := seedTenant(t, a.d, "contoso")
	tok, _, err := a.issuer.Issue(context.Background(), tn.id, "app-1", "https://target.example", []string{"Mailbox.Migration"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := newVerifiedKey(tok, TrustedIssuer{}, "")
	if _, ok := unverifiedParses.get(k, time.Now()); ok {
		t.Fatal("cached before the first parse")
	}
	c1, err := ParseUnverified(tok)
	if err != nil || c1.AppID != "app-1" || c1.TenantID != tn.id {
		t.Fatalf("ParseUnverified: %+v %v", c1, err)
	}
	if _, ok := unverifiedParses.get(k, time.Now()); !ok {
		t.Fatal("parse not cached")
	}
	c1.Roles[0] = "Global.Admin"
	c2, err := ParseUnverified(tok)
	if err != nil || !c2.HasRole("Mailbox.Migration") || c2.HasRole("Global.Admin") {
		t.Fatalf("second parse: %+v %v", c2, err)
	}
	parts := strings.Split(tok, ".")
	if _, err := ParseUnverified(parts[0] + ".!!." + parts[2]); err == nil {
		t.Fatal("malformed token parsed")
	}
}
