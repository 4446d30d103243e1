package migration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication/imapsrc"
)

// OAuth2 sign-in of IMAP endpoints (Gmail, Microsoft 365): the endpoint
// names the provider's token endpoint, its OAuth client and the grant;
// each user's access token comes from a cached golang.org/x/oauth2 token
// source (its refresh token from the batch CSV, or the client-credentials
// grant of a service account) that renews it before it expires. A token
// the server refuses anyway (revoked, expired early) is replaced once by a
// new one from the token endpoint, on any login of the sync: a long sync
// whose connection is re-opened gets a fresh token.
//
// Refresh-token rotation: a provider may answer a refresh with a new
// refresh token and end the old one (Microsoft identity platform, OAuth
// 2.1's rotation for public clients). The new one replaces the move's
// stored secret (imap_credentials) before the access token is used, so a
// restarted node, or another node taking the move over, signs in with the
// token the provider still accepts. The cache holds at most
// maxOAuthSources token sources; one evicted is rebuilt from the stored
// secret at its next use (one refresh).

// Errors of OAuth sign-in.
var (
	// ErrSourceTokenRefused: the token endpoint refused the OAuth client
	// or the user's refresh token.
	ErrSourceTokenRefused = errs.Sentinel(errs.Forbidden, "SourceTokenRefused")
)

// maxOAuthSources bounds the token sources cached per process.
const maxOAuthSources = 4096

// oauthTokens caches the token sources of OAuth IMAP logins, by endpoint,
// move and user.
type oauthTokens struct {
	mu sync.Mutex
	m  map[string]*rotatingSource
}

// rotatingSource is a cached token source that stores a rotated refresh
// token through persist before handing out the access token it came with.
type rotatingSource struct {
	src      oauth2.TokenSource
	original string // the refresh token it was built from ("" for client credentials)
	persist  func(refresh string) error

	mu      sync.Mutex
	refresh string // the refresh token last stored
}

// Token implements oauth2.TokenSource. A rotated refresh token that cannot
// be stored fails the call (the next one tries again); the source keeps the
// new token meanwhile, so nothing is lost in this process.
func (r *rotatingSource) Token() (*oauth2.Token, error) {
	tok, err := r.src.Token()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if tok.RefreshToken != "" && tok.RefreshToken != r.refresh && r.persist != nil {
		if err := r.persist(tok.RefreshToken); err != nil {
			return nil, errs.Internalf(err, "store the rotated refresh token")
		}
		r.refresh = tok.RefreshToken
	}
	return tok, nil
}

// serves reports whether the source is the one of a stored secret: the
// refresh token it was built from or the one it rotated to.
func (r *rotatingSource) serves(secret string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return secret == r.original || secret == r.refresh
}

// imapOAuth returns the OAuth sign-in of an IMAP endpoint for one move
// (nil for password logins); moveID "" signs in outside a move and stores
// no rotated refresh token.
func (s *Service) imapOAuth(ep *directory.Endpoint, moveID string) *imapsrc.OAuth {
	if ep.OAuth == nil {
		return nil
	}
	o := *ep.OAuth
	return &imapsrc.OAuth{Mechanism: o.Mechanism, Token: func(ctx context.Context, user, secret string, fresh bool) (string, error) {
		ts, err := s.oauthSource(ep, o, moveID, user, secret, fresh)
		if err != nil {
			return "", err
		}
		tok, err := ts.Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				return "", ErrSourceTokenRefused.Newf("the token endpoint %s refused the OAuth client of endpoint %s or the refresh token of %s (%s)",
					o.TokenURL, ep.Name, user, re.ErrorCode).WithObject(user).
					WithHint("check the endpoint's --app-id and client secret, and the user's RefreshToken in the batch CSV").WithCause(err)
			}
			if errs.As(err) != nil {
				return "", err // the rotated token was not stored
			}
			return "", errs.New(errs.Unavailable, "EndpointUnreachable", "the token endpoint %s cannot be reached", o.TokenURL).WithCause(err)
		}
		return tok.AccessToken, nil
	}}
}

// oauthSource returns the cached token source of a move's user, building
// it when missing, when the stored secret is another (the admin changed
// it), or when fresh asks for a new one.
func (s *Service) oauthSource(ep *directory.Endpoint, o directory.EndpointOAuth, moveID, user, secret string, fresh bool) (*rotatingSource, error) {
	h := sha256.Sum256([]byte(ep.ID + "\x00" + ep.ApplicationId + "\x00" + o.TokenURL + "\x00" + moveID + "\x00" + user))
	key := hex.EncodeToString(h[:])
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	if ts := s.oauth.m[key]; ts != nil && !fresh && ts.serves(secret) {
		return ts, nil
	}
	clientSecret, err := s.Dir.EndpointSecret(ep)
	if err != nil {
		return nil, err
	}
	ts := &rotatingSource{src: s.newTokenSource(ep, o, clientSecret, secret), original: secret, refresh: secret}
	if moveID != "" && o.Grant != directory.OAuthClientCredentials {
		ts.persist = func(refresh string) error { return s.storeRotatedSecret(moveID, refresh) }
	}
	if s.oauth.m == nil {
		s.oauth.m = map[string]*rotatingSource{}
	}
	for k := range s.oauth.m {
		if len(s.oauth.m) < maxOAuthSources {
			break
		}
		delete(s.oauth.m, k)
	}
	s.oauth.m[key] = ts
	return ts, nil
}

// newTokenSource is a renewing token source of the endpoint's grant; its
// requests go through the endpoint policy's HTTP client.
func (s *Service) newTokenSource(ep *directory.Endpoint, o directory.EndpointOAuth, clientSecret, userSecret string) oauth2.TokenSource {
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, s.HTTP)
	scopes := strings.Fields(o.Scope)
	if o.Grant == directory.OAuthClientCredentials {
		cc := clientcredentials.Config{ClientID: ep.ApplicationId, ClientSecret: clientSecret, TokenURL: o.TokenURL, Scopes: scopes}
		return cc.TokenSource(ctx)
	}
	cfg := oauth2.Config{ClientID: ep.ApplicationId, ClientSecret: clientSecret, Endpoint: oauth2.Endpoint{TokenURL: o.TokenURL}, Scopes: scopes}
	return cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: userSecret})
}
