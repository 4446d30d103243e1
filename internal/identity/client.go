package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Token client limits.
const (
	// TokenRefreshMargin is how long before its expiry a cached token is
	// replaced (at most half the token's lifetime).
	TokenRefreshMargin = 5 * time.Minute
	// TokenRequestTimeout bounds one token request.
	TokenRequestTimeout = 30 * time.Second
)

// TokenSource obtains access tokens with the client-credentials grant
// (golang.org/x/oauth2/clientcredentials), for the side of a migration
// endpoint that calls a remote server, and maps the endpoint's refusals
// and failures to TokenRejected and EndpointUnreachable. It caches
// the token until TokenRefreshMargin before it expires; concurrent callers
// share one request. It is safe for concurrent use.
type TokenSource struct {
	client       *http.Client
	tokenURL     string
	clientID     string
	clientSecret string
	resource     string

	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time

	sem     chan struct{} // a one-slot lock that waits with a context
	token   string
	refresh time.Time // when the cached token must be replaced
}

// NewTokenSource returns a TokenSource asking tokenURL for a token for
// resource (the scope sent is resource + "/.default", so the token's
// audience is resource exactly). A nil client means http.DefaultClient.
func NewTokenSource(client *http.Client, tokenURL, clientID, clientSecret, resource string) *TokenSource {
	if client == nil {
		client = http.DefaultClient
	}
	return &TokenSource{client: client, tokenURL: tokenURL, clientID: clientID, clientSecret: clientSecret,
		resource: resource, sem: make(chan struct{}, 1)}
}

// Token returns a valid access token, from the cache or from the token
// endpoint. A refusal by the endpoint is a TokenRejected error
// (Unauthorized) carrying the server's error_description; an endpoint that
// cannot be reached is EndpointUnreachable (Unavailable).
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.sem }()
	now := s.now()
	if s.token != "" && now.Before(s.refresh) {
		return s.token, nil
	}
	tok, lifetime, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	margin := TokenRefreshMargin
	if margin > lifetime/2 {
		margin = lifetime / 2
	}
	s.token, s.refresh = tok, now.Add(lifetime-margin)
	return tok, nil
}

// Invalidate drops the cached token, so the next Token call requests a new
// one (for when a resource server refused the cached token).
func (s *TokenSource) Invalidate() {
	s.sem <- struct{}{}
	s.token, s.refresh = "", time.Time{}
	<-s.sem
}

func (s *TokenSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// errorReply holds the fields of a token endpoint's error reply beyond
// the OAuth ones golang.org/x/oauth2 reads (this server's own endpoint
// adds a stable code and a hint).
type errorReply struct {
	Code string `json:"code"`
	Hint string `json:"hint"`
}

// fetch requests a new token with golang.org/x/oauth2's client-credentials
// grant (client id and secret in the form, as Microsoft's endpoint takes
// them) and returns it with its lifetime.
func (s *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	unreachable := func(cause error, format string, args ...any) *errs.Error {
		return (&errs.Error{Code: "EndpointUnreachable", Kind: errs.Unavailable, Message: fmt.Sprintf(format, args...),
			Hint: "check the remote server address of the migration endpoint and that the server is up; retry later", Object: s.tokenURL}).WithCause(cause)
	}
	if u, err := url.Parse(s.tokenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", 0, errs.Invalidf("InvalidTokenURL", "token URL %q is not valid", s.tokenURL).
			WithHint("set the remote server of the migration endpoint to an http(s) URL")
	}
	scope := s.resource
	if !strings.HasSuffix(scope, ScopeDefaultSuffix) {
		scope += ScopeDefaultSuffix
	}
	cc := clientcredentials.Config{ClientID: s.clientID, ClientSecret: s.clientSecret, TokenURL: s.tokenURL, Scopes: []string{scope},
		AuthStyle: oauth2.AuthStyleInParams}
	ctx, cancel := context.WithTimeout(ctx, TokenRequestTimeout)
	defer cancel()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, s.client))
	if err != nil {
		var re *oauth2.RetrieveError
		switch {
		case errors.As(err, &re) && re.ErrorCode != "":
			desc := re.ErrorDescription
			if desc == "" {
				desc = "no description"
			}
			e := errs.Unauthorizedf("TokenRejected", "token endpoint %s refused application %s: %s: %s",
				s.tokenURL, s.clientID, re.ErrorCode, desc).WithObject(s.clientID)
			var extra errorReply
			json.Unmarshal(re.Body, &extra)
			if extra.Code != "" {
				e.Message += " [" + extra.Code + "]"
			}
			hint := extra.Hint
			if hint == "" {
				hint = "check the application id, secret and remote tenant of the migration endpoint"
			}
			return "", 0, e.WithHint("%s", hint)
		case re != nil && re.Response != nil && re.Response.StatusCode >= 500:
			return "", 0, unreachable(nil, "token endpoint %s returned HTTP %s", s.tokenURL, re.Response.Status)
		case re != nil && re.Response != nil:
			return "", 0, errs.Unauthorizedf("TokenRejected", "token endpoint %s returned HTTP %s", s.tokenURL, re.Response.Status).
				WithHint("check the remote server and remote tenant of the migration endpoint").WithObject(s.clientID)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return "", 0, unreachable(err, "cannot reach the token endpoint %s: %v", s.tokenURL, unwrapURLError(err))
		}
		return "", 0, unreachable(err, "token endpoint %s returned no usable access token: %v", s.tokenURL, err)
	}
	if !strings.EqualFold(tok.TokenType, "Bearer") {
		return "", 0, unreachable(nil, "token endpoint %s returned token type %q, not Bearer", s.tokenURL, truncate(tok.TokenType, 20))
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = time.Minute // no expiry given: keep it briefly
	}
	return tok.AccessToken, lifetime, nil
}

// unwrapURLError drops the "Get URL:" prefix of a client error (the URL is
// already in the message).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
