package identity

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// DefaultTokenTTL is the lifetime of an issued access token when the caller
// does not choose one.
const DefaultTokenTTL = time.Hour

// Issuer is this server's OAuth 2.0 authorization server: one issuer per
// tenant, all signing with the server's Keys. It mints access tokens (Issue)
// and serves the Entra-ID-shaped endpoints (Routes).
type Issuer struct {
	d         *db.DB
	keys      *Keys
	publicURL string

	// Log receives internal failures of the HTTP handlers (never secrets or
	// tokens). Nil means slog.Default().
	Log *slog.Logger
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// TenantDomains, when set, returns the accepted domains of a tenant;
	// every token then carries them in its tenant_domains claim, so that a
	// source server can check that a move's forwarding address lies in a
	// domain the target tenant holds (docs/replication-api.md).
	TenantDomains func(ctx context.Context, tenantID string) ([]string, error)
	// Clients finds tenants and app registrations for the token
	// endpoint (the directory). Required to serve tokens.
	Clients Clients
	// Limits, when set, slows down client-secret guessing at the token
	// endpoint (per client address and per client id).
	Limits *ratelimit.Guard
}

// NewIssuer returns the issuer of this server, reachable at publicURL (the
// scheme, host and optional path prefix clients use, e.g.
// "https://mail.contoso.example"; a trailing slash is ignored).
func NewIssuer(d *db.DB, keys *Keys, publicURL string) *Issuer {
	return &Issuer{d: d, keys: keys, publicURL: strings.TrimRight(publicURL, "/")}
}

// PublicURL returns the base URL the issuer's endpoints live under.
func (i *Issuer) PublicURL() string { return i.publicURL }

// Keys returns the signing keys of the issuer.
func (i *Issuer) Keys() *Keys { return i.keys }

// IssuerURL returns the issuer ("iss") of tokens for a tenant:
// publicURL/tenantID/v2.0.
func IssuerURL(publicURL, tenantID string) string {
	return strings.TrimRight(publicURL, "/") + "/" + tenantID + "/v2.0"
}

// JWKSURL returns the JWKS URL of a tenant's issuer:
// publicURL/tenantID/discovery/v2.0/keys.
func JWKSURL(publicURL, tenantID string) string {
	return strings.TrimRight(publicURL, "/") + "/" + tenantID + "/discovery/v2.0/keys"
}

// TokenURL returns the token endpoint of a tenant:
// publicURL/tenantID/oauth2/v2.0/token.
func TokenURL(publicURL, tenantID string) string {
	return strings.TrimRight(publicURL, "/") + "/" + tenantID + "/oauth2/v2.0/token"
}

// JWKSURLForIssuer derives the JWKS URL from an issuer URL of the form
// ".../T/v2.0" (".../T/discovery/v2.0/keys"). It returns "" when issuer does
// not have that form.
func JWKSURLForIssuer(issuer string) string {
	base, ok := strings.CutSuffix(issuer, "/v2.0")
	if !ok || base == "" {
		return ""
	}
	slash := strings.LastIndexByte(base, '/')
	if slash < 0 || slash == len(base)-1 || strings.HasSuffix(base[:slash], "/") || !strings.Contains(base[:slash], "://") {
		return ""
	}
	return base + "/discovery/v2.0/keys"
}

// accessClaims is the payload of an issued access token. aud is a single
// string, as Entra ID writes it.
type accessClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  string           `json:"aud"`
	TenantID  string           `json:"tid"`
	AppID     string           `json:"appid"`
	Roles     []string         `json:"roles"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	ID        string           `json:"jti"`
	// Domains are the accepted domains of the tenant (tid), as its issuer
	// vouches for them.
	Domains []string `json:"tenant_domains,omitempty"`
}

// The jwt.Claims methods, so accessClaims can be signed directly.
func (c accessClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }
func (c accessClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt, nil }
func (c accessClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore, nil }
func (c accessClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c accessClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c accessClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Audience}, nil
}

// Issue mints an access token for appID of tenantID, for the resource
// audience, carrying roles, valid for ttl (0 means DefaultTokenTTL; a
// negative ttl yields an already expired token, which tests use). It does
// not check the app or its secret: the token endpoint does that.
func (i *Issuer) Issue(ctx context.Context, tenantID, appID, audience string, roles []string, ttl time.Duration) (string, time.Time, error) {
	if tenantID == "" || appID == "" || audience == "" {
		return "", time.Time{}, errs.Invalidf("InvalidTokenRequest", "a token needs a tenant id, an application id and an audience")
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if roles == nil {
		roles = []string{}
	}
	now := i.now().Truncate(time.Second)
	exp := now.Add(ttl)
	c := accessClaims{
		Issuer:    IssuerURL(i.publicURL, tenantID),
		Subject:   appID,
		Audience:  audience,
		TenantID:  tenantID,
		AppID:     appID,
		Roles:     roles,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
		ID:        newTokenID(),
	}
	if i.TenantDomains != nil {
		ds, err := i.TenantDomains(ctx, tenantID)
		if err != nil {
			return "", time.Time{}, err
		}
		c.Domains = ds
	}
	s, err := i.keys.sign(ctx, c)
	if err != nil {
		return "", time.Time{}, err
	}
	return s, exp, nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

func (i *Issuer) log() *slog.Logger {
	if i.Log != nil {
		return i.Log
	}
	return slog.Default()
}

// newTokenID returns a random token id ("jti").
func newTokenID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
