package identity

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// Verified-token cache limits.
const (
	// VerifiedTokenCacheSize bounds the verified-token cache of a Verifier;
	// when it is full the oldest entry is evicted.
	VerifiedTokenCacheSize = 4096
	// VerifiedTokenCacheTTL is how long a successful verification is reused
	// at most (never past the token's exp). It bounds how long a token
	// signed by a key the issuer has since withdrawn keeps being accepted.
	VerifiedTokenCacheTTL = 60 * time.Second
)

// verifiedKey identifies one successful verification: the token bytes (by
// their SHA-256) checked against one trusted issuer for one audience.
type verifiedKey struct {
	sum      [sha256.Size]byte
	issuer   string
	jwksURL  string
	audience string
}

// verifiedEntry is a cached successful verification.
type verifiedEntry struct {
	claims *Claims
	nbf    time.Time // zero when the token has no nbf
	until  time.Time // min(exp, verified + VerifiedTokenCacheTTL)
}

// verifiedCache remembers successful token verifications, so a caller
// presenting the same token on every request pays for the signature check
// once a minute. Only successes are stored. Safe for concurrent use.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[verifiedKey]*verifiedEntry
	order   []verifiedKey // insertion ring, len ≤ max
	next    int           // the ring slot to overwrite when full
	max     int
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{entries: make(map[verifiedKey]*verifiedEntry), max: max}
}

func newVerifiedKey(token string, trusted TrustedIssuer, audience string) verifiedKey {
	return verifiedKey{sum: sha256.Sum256([]byte(token)), issuer: trusted.Issuer, jwksURL: trusted.JWKSURL, audience: audience}
}

// get returns the cached verification of k if it is still usable at now:
// cached less than VerifiedTokenCacheTTL ago, and now within the token's
// nbf and exp (ClockLeeway either way). Otherwise the caller verifies the
// token again (which also gives the precise rejection).
func (c *verifiedCache) get(k verifiedKey, now time.Time) (*Claims, bool) {
	c.mu.Lock()
	e := c.entries[k]
	c.mu.Unlock()
	if e == nil || !now.Before(e.until) {
		return nil, false
	}
	if !now.Before(e.claims.ExpiresAt.Add(ClockLeeway)) || (!e.nbf.IsZero() && now.Before(e.nbf.Add(-ClockLeeway))) {
		return nil, false
	}
	return e.claims.clone(), true
}

// put stores a successful verification made at now.
func (c *verifiedCache) put(k verifiedKey, claims *Claims, nbf, now time.Time) {
	until := now.Add(VerifiedTokenCacheTTL)
	if claims.ExpiresAt.Before(until) {
		until = claims.ExpiresAt
	}
	if !now.Before(until) {
		return
	}
	e := &verifiedEntry{claims: claims.clone(), nbf: nbf, until: until}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		c.entries[k] = e
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, k)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = k
		c.next = (c.next + 1) % c.max
	}
	c.entries[k] = e
}

// len returns the number of cached verifications.
func (c *verifiedCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// clone returns a deep copy of the claims, so callers cannot change a
// cached verification.
func (c *Claims) clone() *Claims {
	out := *c
	out.Audience = slices.Clone(c.Audience)
	out.Roles = slices.Clone(c.Roles)
	out.Domains = slices.Clone(c.Domains)
	return &out
}
