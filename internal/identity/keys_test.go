package identity

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/errs"
)

func countKeys(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM signing_keys`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKeysSurviveRestart(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		sk := newServerKey(t)
		k1 := NewKeys(d, sk)
		set1, err := k1.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(set1.Keys) != 1 {
			t.Fatalf("fresh JWKS has %d keys, want 1", len(set1.Keys))
		}
		j := set1.Keys[0]
		if j.Kty != "OKP" || j.Crv != "Ed25519" || j.Use != "sig" || j.Alg != "EdDSA" || j.Kid == "" {
			t.Fatalf("JWK fields: %+v", j)
		}
		x, err := base64.RawURLEncoding.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			t.Fatalf("JWK x %q is not a base64url Ed25519 key", j.X)
		}

		// "Restart": a new Keys on the same database signs with the same key.
		k2 := NewKeys(d, sk)
		kid2, priv2, err := k2.signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if kid2 != j.Kid {
			t.Fatalf("after restart kid %s, want %s", kid2, j.Kid)
		}
		if !bytes.Equal(priv2.Public().(ed25519.PublicKey), x) {
			t.Fatal("after restart the private key does not match the published key")
		}
		if n := countKeys(t, d); n != 1 {
			t.Fatalf("%d keys stored, want 1", n)
		}

		// The private key is stored sealed, not as raw bytes.
		var enc []byte
		if err := d.Read().QueryRowContext(ctx, `SELECT private_enc FROM signing_keys WHERE kid = ?`, j.Kid).Scan(&enc); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(enc, priv2.Seed()) || bytes.Contains(enc, priv2) {
			t.Fatal("private_enc holds the raw private key")
		}

		// Another server key cannot unseal it.
		_, _, err = NewKeys(d, newServerKey(t)).signer(ctx)
		wantCode(t, err, "SigningKeyUnreadable", errs.Internal)
	})
}

func TestKeysConcurrentCreation(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		// A second pool on the same database stands in for a second process.
		dsn := d.DSN
		if d.Dialect == db.SQLite {
			dsn = "sqlite:" + d.DSN
		}
		d2, err := db.Open(ctx, db.Options{DSN: dsn, SkipMigrate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d2.Close()
		sk := newServerKey(t)
		var wg sync.WaitGroup
		kids := make([]string, 8)
		errc := make([]error, 8)
		for i := range kids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dd := d
				if i%2 == 1 {
					dd = d2
				}
				kids[i], _, errc[i] = NewKeys(dd, sk).signer(ctx)
			}()
		}
		wg.Wait()
		for i := range kids {
			if errc[i] != nil {
				t.Fatal(errc[i])
			}
			if kids[i] != kids[0] {
				t.Fatalf("processes disagree on the active key: %v", kids)
			}
		}
		if n := countKeys(t, d); n != 1 {
			t.Fatalf("%d keys created concurrently, want 1", n)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		k := NewKeys(d, newServerKey(t))
		old, _, err := k.signer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		kid, err := k.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if kid == old {
			t.Fatal("Rotate kept the old kid")
		}
		set, err := k.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(set.Keys) != 2 {
			t.Fatalf("after Rotate JWKS has %d keys, want old and new", len(set.Keys))
		}
		// This process and a restarted one both sign with the new key.
		for _, kk := range []*Keys{k, NewKeys(d, k.serverKey)} {
			if got, _, err := kk.signer(ctx); err != nil || got != kid {
				t.Fatalf("signing kid %s (%v), want %s", got, err, kid)
			}
		}
		if pub, err := k.publicKey(ctx, old); err != nil || pub == nil {
			t.Fatalf("old key not verifiable during the overlap: %v", err)
		}
		// Once the overlap has passed the old key is no longer published.
		if _, err := d.W.Exec(d.Rebind(`UPDATE signing_keys SET retired_at = ? WHERE kid = ?`),
			time.Now().Add(-time.Second).UnixMilli(), old); err != nil {
			t.Fatal(err)
		}
		set, _ = k.JWKS(ctx)
		if len(set.Keys) != 1 || set.Keys[0].Kid != kid {
			t.Fatalf("after the overlap JWKS is %+v, want only %s", set.Keys, kid)
		}
		if pub, _ := k.publicKey(ctx, old); pub != nil {
			t.Fatal("retired key still verifies")
		}
	})
}

func newServerKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	return k
}

// wantCode fails unless err is a coded error with the code and kind.
func wantCode(t testing.TB, err error, code string, kind errs.Kind) *errs.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got nil", code)
	}
	e := errs.As(err)
	if e == nil || e.Code != code || e.Kind != kind {
		t.Fatalf("want %s (kind %d), got %#v", code, kind, err)
	}
	if e.Hint == "" {
		t.Errorf("%s error has no hint: %v", code, err)
	}
	return e
}
