package identity

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Verification limits.
const (
	// DefaultJWKSCacheTTL is how long a fetched JWKS is used before it is
	// fetched again.
	DefaultJWKSCacheTTL = 5 * time.Minute
	// JWKSRefetchInterval is the least time between two fetch attempts of
	// one JWKS URL: tokens with an unknown key id, and any request after a
	// failed fetch (which answers with the cached failure meanwhile), wait
	// for it. Tokens arrive unauthenticated, so they must never make the
	// server hammer a URL.
	JWKSRefetchInterval = 30 * time.Second
	// MaxConcurrentJWKSFetches bounds the JWKS fetches in flight, server
	// wide.
	MaxConcurrentJWKSFetches = 4
	// JWKSFetchRate and JWKSFetchBurst bound how many JWKS fetches start
	// per second, server wide, whatever the number of URLs (consents name
	// them): above it a verification fails with IssuerUnreachable at once.
	JWKSFetchRate  = 5
	JWKSFetchBurst = 20
	// MaxJWKSSize bounds a JWKS response body.
	MaxJWKSSize = 1 << 20
	// JWKSFetchTimeout bounds one JWKS fetch.
	JWKSFetchTimeout = 10 * time.Second
	// ClockLeeway is the clock skew tolerated on exp and nbf.
	ClockLeeway = 60 * time.Second
	// MaxTokenSize bounds the length of a token accepted for parsing.
	MaxTokenSize = 16 << 10
)

// VerifierOptions configure a Verifier. The zero value is usable.
type VerifierOptions struct {
	// AllowInsecureHTTP reports whether a plain http JWKS URL on host may be
	// fetched. Nil allows loopback hosts only (127.0.0.0/8, ::1, localhost).
	// https is always allowed.
	AllowInsecureHTTP func(host string) bool
	// CacheTTL is how long a fetched JWKS is used; 0 means
	// DefaultJWKSCacheTTL.
	CacheTTL time.Duration
	// Local, with LocalPublicURL, lets tokens whose issuer lies under this
	// server's own public URL be verified against the local keys, without an
	// HTTP round trip.
	Local *Keys
	// LocalPublicURL is this server's public URL (as given to NewIssuer).
	LocalPublicURL string
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// TrustedIssuer names the issuer a resource server trusts for a token (as
// recorded in a tenant's consent) and where its keys are published.
type TrustedIssuer struct {
	Issuer  string // exact "iss" value, e.g. https://b.example/<tenant id>/v2.0
	JWKSURL string // e.g. https://b.example/<tenant id>/discovery/v2.0/keys
}

// Claims are the verified (or, from ParseUnverified, unverified) claims of
// an access token.
type Claims struct {
	Issuer    string    // iss
	Audience  []string  // aud
	TenantID  string    // tid: the home tenant of the app
	AppID     string    // appid: the client id
	Roles     []string  // roles: the app's permissions, e.g. Mailbox.Migration
	ID        string    // jti
	ExpiresAt time.Time // exp
	// Domains (tenant_domains) are the accepted domains of tid as the
	// issuer vouches for them; empty when the issuer sends none.
	Domains []string
}

// HasRole reports whether the claims carry role.
func (c *Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// tokenClaims is the JSON payload of a token as parsed.
type tokenClaims struct {
	jwt.RegisteredClaims
	TenantID string   `json:"tid"`
	AppID    string   `json:"appid"`
	Roles    []string `json:"roles"`
	Domains  []string `json:"tenant_domains"`
}

func (t *tokenClaims) claims() *Claims {
	c := &Claims{Issuer: t.Issuer, Audience: []string(t.Audience), TenantID: t.TenantID, AppID: t.AppID, Roles: t.Roles, ID: t.ID, Domains: t.Domains}
	if t.ExpiresAt != nil {
		c.ExpiresAt = t.ExpiresAt.UTC()
	}
	return c
}

// Verifier checks access tokens against the keys of the issuer the caller
// trusts. It caches each JWKS URL's keys; it is safe for concurrent use.
type Verifier struct {
	client *http.Client
	opts   VerifierOptions

	mu    sync.Mutex
	cache map[string]*jwksEntry

	fetching chan struct{} // semaphore: MaxConcurrentJWKSFetches
	rateMu   sync.Mutex
	tokens   float64   // fetch starts available (token bucket)
	refilled time.Time // last refill of tokens

	verified *verifiedCache
	// sigChecks counts full (signature-checking) verifications; tests read
	// it to see the verified-token cache work.
	sigChecks atomic.Int64
}

// jwksEntry is the cached key set of one JWKS URL. mu is held while the set
// is fetched, so concurrent verifications wait for one fetch.
type jwksEntry struct {
	mu      sync.Mutex
	keys    map[string]ed25519.PublicKey
	fetched time.Time // last successful fetch
	tried   time.Time // last fetch attempt
	err     error     // the last attempt's failure (nil after a success)
}

// NewVerifier returns a Verifier fetching JWKS with client (nil means a
// client with a JWKSFetchTimeout timeout). Redirects to URLs the insecure
// HTTP policy refuses are not followed.
func NewVerifier(client *http.Client, opts VerifierOptions) *Verifier {
	if client == nil {
		client = &http.Client{Timeout: JWKSFetchTimeout}
	}
	if opts.AllowInsecureHTTP == nil {
		opts.AllowInsecureHTTP = IsLoopbackHost
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultJWKSCacheTTL
	}
	opts.LocalPublicURL = strings.TrimRight(opts.LocalPublicURL, "/")
	v := &Verifier{opts: opts, cache: map[string]*jwksEntry{}, fetching: make(chan struct{}, MaxConcurrentJWKSFetches), tokens: JWKSFetchBurst,
		verified: newVerifiedCache(VerifiedTokenCacheSize)}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		if !v.allowedURL(req.URL) {
			return fmt.Errorf("redirect to %s refused: plain http to a non-loopback host", req.URL.Redacted())
		}
		if client.CheckRedirect != nil {
			return client.CheckRedirect(req, via)
		}
		return nil
	}
	v.client = &c
	return v
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func (v *Verifier) allowedURL(u *url.URL) bool {
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return v.opts.AllowInsecureHTTP(u.Hostname())
	}
	return false
}

func (v *Verifier) now() time.Time {
	if v.opts.Now != nil {
		return v.opts.Now()
	}
	return time.Now()
}

// ErrTokenRejected is the code of every refused access token: missing,
// malformed, expired, wrongly signed, wrong issuer or audience.
var ErrTokenRejected = errs.Sentinel(errs.Unauthorized, "TokenRejected")

// rejected returns the TokenRejected error.
func rejected(hint, format string, args ...any) *errs.Error {
	return ErrTokenRejected.Newf(format, args...).WithHint("%s", hint)
}

const hintNewToken = "request a new token from the issuer's token endpoint"

// ParseUnverified decodes a token's claims WITHOUT checking its signature,
// so a resource server can find which issuer to trust (by appid and tid)
// before calling Verify. Never authorize anything on its result.
//
// The result is a pure function of the token bytes: it is remembered (like
// verifications, for at most VerifiedTokenCacheTTL and never past exp), so a
// caller presenting the same token on every request is parsed once.
func ParseUnverified(token string) (*Claims, error) {
	if token == "" || len(token) > MaxTokenSize {
		_, _, err := parseUnverified(token)
		return nil, err
	}
	k := newVerifiedKey(token, TrustedIssuer{}, "")
	now := time.Now()
	if c, ok := unverifiedParses.get(k, now); ok {
		return c, nil
	}
	_, tc, err := parseUnverified(token)
	if err != nil {
		return nil, err
	}
	c := tc.claims()
	unverifiedParses.put(k, c, time.Time{}, now)
	return c, nil
}

// unverifiedParses remembers ParseUnverified results.
var unverifiedParses = newVerifiedCache(VerifiedTokenCacheSize)

func parseUnverified(token string) (*jwt.Token, *tokenClaims, error) {
	if token == "" {
		return nil, nil, rejected("send the access token in the Authorization header as \"Bearer <token>\"", "no token was presented")
	}
	if len(token) > MaxTokenSize {
		return nil, nil, rejected(hintNewToken, "token is malformed: longer than %d bytes", MaxTokenSize)
	}
	tc := &tokenClaims{}
	t, _, err := jwt.NewParser().ParseUnverified(token, tc)
	if err != nil {
		return nil, nil, malformed(err)
	}
	return t, tc, nil
}

// Verify checks token and returns its claims when all hold: it is an EdDSA
// JWT signed by a key published at trusted.JWKSURL, its iss equals
// trusted.Issuer exactly, its aud contains audience, it has not expired and
// is already valid (ClockLeeway either way), and it names a tid and an
// appid. Every rejection is a TokenRejected error (Unauthorized) saying why;
// a JWKS that cannot be fetched gives IssuerUnreachable (Unavailable).
//
// A successful verification is remembered for VerifiedTokenCacheTTL (never
// past the token's exp), keyed by the token bytes, the trusted issuer and
// the audience: the same token presented again skips the parsing and the
// signature check, though its exp and nbf are checked on every use.
func (v *Verifier) Verify(ctx context.Context, token string, trusted TrustedIssuer, audience string) (*Claims, error) {
	if audience == "" {
		return nil, errs.Internalf(nil, "token verification needs the expected audience")
	}
	if trusted.Issuer == "" || trusted.JWKSURL == "" {
		return nil, rejected("record the issuer and JWKS URL of the application in the consent",
			"no trusted issuer is recorded for this token")
	}
	if token == "" || len(token) > MaxTokenSize {
		_, _, err := parseUnverified(token)
		return nil, err
	}
	k := newVerifiedKey(token, trusted, audience)
	if c, ok := v.verified.get(k, v.now()); ok {
		return c, nil
	}
	c, tc, err := v.verifyClaims(ctx, token, trusted, audience)
	if err != nil {
		return nil, err
	}
	var nbf time.Time // zero when the token has none
	if tc.NotBefore != nil {
		nbf = tc.NotBefore.Time
	}
	v.verified.put(k, c, nbf, v.now())
	return c, nil
}

// verifyClaims is Verify without the cache: it parses token and checks
// its signature and claims.
func (v *Verifier) verifyClaims(ctx context.Context, token string, trusted TrustedIssuer, audience string) (*Claims, *tokenClaims, error) {
	t, tc, err := parseUnverified(token)
	if err != nil {
		return nil, nil, err
	}
	if alg, _ := t.Header["alg"].(string); alg != AlgEdDSA {
		return nil, nil, rejected("the issuer must sign tokens with EdDSA (Ed25519)",
			"token signing algorithm %q is not accepted; only %s is", truncate(alg, 20), AlgEdDSA)
	}
	if _, ok := t.Header["crit"]; ok {
		return nil, nil, rejected(hintNewToken, "token is malformed: critical header extensions are not supported")
	}
	if tc.Issuer != trusted.Issuer {
		return nil, nil, rejected("get the token from the issuer recorded in the consent, or grant consent for this issuer",
			"token issuer %q is not the issuer %q recorded in the consent", truncate(tc.Issuer, 200), trusted.Issuer)
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, nil, rejected(hintNewToken, "token is malformed: its header has no key id (kid)")
	}
	pub, err := v.key(ctx, trusted, kid)
	if err != nil {
		return nil, nil, err
	}
	if pub == nil {
		return nil, nil, rejected("the issuer's signing key may have been rotated out; "+hintNewToken,
			"token key %q is not published by issuer %s (JWKS %s)", truncate(kid, 64), trusted.Issuer, trusted.JWKSURL)
	}

	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{AlgEdDSA}),
		jwt.WithLeeway(ClockLeeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(trusted.Issuer),
		jwt.WithAudience(audience),
		jwt.WithTimeFunc(v.now),
	)
	tc = &tokenClaims{}
	v.sigChecks.Add(1)
	if _, err := parser.ParseWithClaims(token, tc, func(*jwt.Token) (any, error) { return pub, nil }); err != nil {
		return nil, nil, explain(err, tc, audience)
	}
	if tc.TenantID == "" {
		return nil, nil, rejected(hintNewToken, "token has no tenant id (tid) claim")
	}
	if tc.AppID == "" {
		return nil, nil, rejected(hintNewToken, "token has no application id (appid) claim")
	}
	return tc.claims(), tc, nil
}

// explain maps a jwt validation error to a TokenRejected error.
func explain(err error, tc *tokenClaims, audience string) *errs.Error {
	var e *errs.Error
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		e = rejected("the token was altered or not signed by this issuer; "+hintNewToken, "token signature is invalid")
	case errors.Is(err, jwt.ErrTokenExpired):
		e = rejected(hintNewToken+"; check the clocks of both servers", "token expired at %s", tc.ExpiresAt.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		e = rejected(hintNewToken, "token has no expiry (exp) claim")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		e = rejected("check the clocks of both servers", "token is not valid before %s", tc.NotBefore.UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		e = rejected("request the token with scope \""+audience+ScopeDefaultSuffix+"\"",
			"token audience %q does not contain %q", []string(tc.Audience), audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		e = rejected("get the token from the issuer recorded in the consent", "token issuer %q is not the trusted issuer", tc.Issuer)
	case errors.Is(err, jwt.ErrTokenMalformed):
		e = malformed(err)
	default:
		e = rejected(hintNewToken, "token is invalid: %v", err)
	}
	return e.WithCause(err)
}

// malformed returns the rejection of a token that cannot be parsed.
func malformed(err error) *errs.Error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "token is malformed") {
		msg = "token is malformed: " + msg
	}
	return rejected(hintNewToken, "%s", msg).WithCause(err)
}

// key returns the public key kid of the trusted issuer, or nil if the
// issuer does not publish it.
func (v *Verifier) key(ctx context.Context, trusted TrustedIssuer, kid string) (ed25519.PublicKey, error) {
	if v.opts.Local != nil && v.opts.LocalPublicURL != "" && strings.HasPrefix(trusted.Issuer, v.opts.LocalPublicURL+"/") {
		return v.opts.Local.publicKey(ctx, kid)
	}
	v.mu.Lock()
	e := v.cache[trusted.JWKSURL]
	if e == nil {
		e = &jwksEntry{}
		v.cache[trusted.JWKSURL] = e
	}
	v.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := v.now()
	stale := e.keys == nil || now.Sub(e.fetched) >= v.opts.CacheTTL
	unknown := e.keys != nil && e.keys[kid] == nil
	recent := !e.tried.IsZero() && now.Sub(e.tried) < JWKSRefetchInterval
	if (stale || unknown) && !recent {
		e.tried = now
		keys, err := v.boundedFetch(ctx, trusted.JWKSURL)
		if err != nil {
			e.err = err
			return nil, err
		}
		e.keys, e.fetched, e.err = keys, now, nil
	}
	if e.keys == nil {
		return nil, e.err // the failure of an attempt less than JWKSRefetchInterval ago
	}
	return e.keys[kid], nil
}

// boundedFetch fetches a JWKS within the server-wide limits: at most
// MaxConcurrentJWKSFetches at once, and JWKSFetchRate starts per second
// (burst JWKSFetchBurst).
func (v *Verifier) boundedFetch(ctx context.Context, jwksURL string) (map[string]ed25519.PublicKey, error) {
	if !v.takeFetchToken() {
		return nil, &errs.Error{Code: "IssuerUnreachable", Kind: errs.Unavailable, Object: jwksURL,
			Message: fmt.Sprintf("the issuer keys at %s were not fetched: too many key fetches right now", jwksURL),
			Hint:    "retry in a few seconds"}
	}
	select {
	case v.fetching <- struct{}{}:
		defer func() { <-v.fetching }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return v.fetch(ctx, jwksURL)
}

// takeFetchToken takes one fetch start from the token bucket.
func (v *Verifier) takeFetchToken() bool {
	v.rateMu.Lock()
	defer v.rateMu.Unlock()
	now := time.Now()
	if !v.refilled.IsZero() {
		v.tokens = min(JWKSFetchBurst, v.tokens+now.Sub(v.refilled).Seconds()*JWKSFetchRate)
	}
	v.refilled = now
	if v.tokens < 1 {
		return false
	}
	v.tokens--
	return true
}

// fetch downloads and parses a JWKS, keeping its Ed25519 signing keys.
func (v *Verifier) fetch(ctx context.Context, jwksURL string) (map[string]ed25519.PublicKey, error) {
	unreachable := func(cause error, format string, args ...any) *errs.Error {
		return (&errs.Error{Code: "IssuerUnreachable", Kind: errs.Unavailable, Message: fmt.Sprintf(format, args...),
			Hint: "check that the issuer's server is up and its JWKS URL is right; retry later", Object: jwksURL}).WithCause(cause)
	}
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, rejected("record an absolute https JWKS URL in the consent", "JWKS URL %q is not an absolute http(s) URL", jwksURL)
	}
	if !v.allowedURL(u) {
		return nil, rejected("use https for the issuer, or allow plain http for this host explicitly",
			"JWKS URL %s uses plain http to a non-loopback host", jwksURL)
	}
	ctx, cancel := context.WithTimeout(ctx, JWKSFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, jwksURL, nil)
	if err != nil {
		return nil, unreachable(err, "cannot fetch the issuer keys from %s", jwksURL)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, unreachable(err, "cannot fetch the issuer keys from %s: %v", jwksURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, unreachable(nil, "fetching the issuer keys from %s returned HTTP %s", jwksURL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSSize+1))
	if err != nil {
		return nil, unreachable(err, "cannot read the issuer keys from %s: %v", jwksURL, err)
	}
	if len(body) > MaxJWKSSize {
		return nil, unreachable(nil, "the key set at %s is larger than %d bytes", jwksURL, MaxJWKSSize)
	}
	var set JWKSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, unreachable(err, "the key set at %s is not a valid JWKS: %v", jwksURL, err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != AlgEdDSA) {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}
