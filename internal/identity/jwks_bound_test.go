package identity

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// TestJWKSFetchesBounded (issue 7, hole 6): tokens arrive unauthenticated,
// and each names the issuer whose keys a consent recorded. However many
// forged tokens arrive at once, a JWKS URL is fetched at most once per
// JWKSRefetchInterval (a failure is remembered, not retried per request),
// at most MaxConcurrentJWKSFetches fetches run at once server-wide, and no
// more than JWKSFetchBurst start at once however many URLs are named.
func TestJWKSFetchesBounded(t *testing.T) {
	var hits, inflight, peak atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if r.URL.Path != "/fail" {
			<-release // slow: holds the fetch open
		}
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer srv.Close()
	ctx := context.Background()
	_, key, _ := ed25519.GenerateKey(nil)
	tok := forge(t, jwt.SigningMethodEdDSA, key, jwt.MapClaims{"iss": "https://issuer.example/t/v2.0", "exp": time.Now().Add(time.Hour).Unix(),
		"tid": "t", "appid": "a"}, map[string]any{"kid": "k1"})
	now := time.Now()
	v := NewVerifier(nil, VerifierOptions{Now: func() time.Time { return now }})

	// One failing URL, 200 concurrent forged tokens.
	trusted := TrustedIssuer{Issuer: "https://issuer.example/t/v2.0", JWKSURL: srv.URL + "/fail"}
	var wg sync.WaitGroup
	var unreachable atomic.Int64
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, tok, trusted, "https://aud.example"); err != nil && err.(interface{ Temporary() bool }).Temporary() {
				unreachable.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := hits.Load(); n != 1 || unreachable.Load() != 200 {
		t.Fatalf("200 tokens for a failing JWKS URL: %d fetches (want 1), %d IssuerUnreachable answers (want 200)", n, unreachable.Load())
	}
	now = now.Add(JWKSRefetchInterval + time.Second)
	v.Verify(ctx, tok, trusted, "https://aud.example")
	if n := hits.Load(); n != 2 {
		t.Fatalf("after the refetch interval: %d fetches, want 2", n)
	}

	// 100 distinct slow URLs at once: at most MaxConcurrentJWKSFetches in
	// flight, at most JWKSFetchBurst started, the rest refused at once.
	hits.Store(0)
	var refused atomic.Int64
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := TrustedIssuer{Issuer: trusted.Issuer, JWKSURL: fmt.Sprintf("%s/slow/%d", srv.URL, i)}
			if _, err := v.Verify(ctx, tok, tr, "https://aud.example"); err != nil {
				if e, ok := err.(interface{ Temporary() bool }); ok && e.Temporary() {
					refused.Add(1)
				}
			}
		}()
	}
	wait.For(t, 30*time.Second, "the refused fetches", func() error {
		if n := refused.Load(); n < 100-JWKSFetchBurst {
			return fmt.Errorf("%d refused", n)
		}
		return nil
	})
	wait.For(t, 30*time.Second, "the fetches in flight", func() error {
		if n := inflight.Load(); n < MaxConcurrentJWKSFetches {
			return fmt.Errorf("%d in flight", n)
		}
		return nil
	})
	close(release)
	wg.Wait()
	if p := peak.Load(); p > MaxConcurrentJWKSFetches {
		t.Fatalf("%d JWKS fetches ran at once, want at most %d", p, MaxConcurrentJWKSFetches)
	}
	if n := hits.Load(); n > JWKSFetchBurst {
		t.Fatalf("%d JWKS fetches started, want at most %d", n, JWKSFetchBurst)
	}
	if refused.Load() != 100 {
		t.Fatalf("%d of 100 verifications failed as unavailable", refused.Load())
	}
}
