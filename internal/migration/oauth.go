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

// Errors of OAuth sign-in.
var (
	// ErrSourceTokenRefused: the token endpoint refused the OAuth client
	// or the user's refresh token.
	ErrSourceTokenRefused = errs.Sentinel(errs.Forbidden, "SourceTokenRefused")
)

// oauthTokens caches the token sources of OAuth IMAP logins, by endpoint,
// user and secret.
type oauthTokens struct {
	mu sync.Mutex
	m  map[string]oauth2.TokenSource
}

// imapOAuth returns the OAuth sign-in of an IMAP endpoint (nil for
// password logins).
func (s *Service) imapOAuth(ep *directory.Endpoint) *imapsrc.OAuth {
	if ep.OAuth == nil {
		return nil
	}
	o := *ep.OAuth
	return &imapsrc.OAuth{Mechanism: o.Mechanism, Token: func(ctx context.Context, user, secret string, fresh bool) (string, error) {
		h := sha256.Sum256([]byte(ep.ID + "\x00" + ep.ApplicationId + "\x00" + o.TokenURL + "\x00" + user + "\x00" + secret))
		key := hex.EncodeToString(h[:])
		s.oauth.mu.Lock()
		ts := s.oauth.m[key]
		if ts == nil || fresh {
			clientSecret, err := s.Dir.EndpointSecret(ep)
			if err != nil {
				s.oauth.mu.Unlock()
				return "", err
			}
			ts = s.newTokenSource(ep, o, clientSecret, secret)
			if s.oauth.m == nil {
				s.oauth.m = map[string]oauth2.TokenSource{}
			}
			s.oauth.m[key] = ts
		}
		s.oauth.mu.Unlock()
		tok, err := ts.Token()
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) {
				return "", ErrSourceTokenRefused.Newf("the token endpoint %s refused the OAuth client of endpoint %s or the refresh token of %s (%s)",
					o.TokenURL, ep.Name, user, re.ErrorCode).WithObject(user).
					WithHint("check the endpoint's --app-id and client secret, and the user's RefreshToken in the batch CSV").WithCause(err)
			}
			return "", errs.New(errs.Unavailable, "EndpointUnreachable", "the token endpoint %s cannot be reached", o.TokenURL).WithCause(err)
		}
		return tok.AccessToken, nil
	}}
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
