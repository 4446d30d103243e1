package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Token client limits.
const (
	// TokenRefreshMargin is how long before its expiry a cached token is
	// replaced (at most half the token's lifetime).
	TokenRefreshMargin = 5 * time.Minute
	// TokenRequestTimeout bounds one token request.
	TokenRequestTimeout = 30 * time.Second
	// maxTokenReply bounds a token endpoint reply.
	maxTokenReply = 1 << 20
)

// TokenSource obtains access tokens with the client-credentials grant, for
// the side of a migration endpoint that calls a remote server. It caches
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

// flexSeconds decodes expires_in sent as a number or as a string.
type flexSeconds int64

func (f *flexSeconds) UnmarshalJSON(b []byte) error {
	str := strings.Trim(string(b), `"`)
	n, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return fmt.Errorf("expires_in %s is not a number", truncate(string(b), 20))
	}
	*f = flexSeconds(n)
	return nil
}

// tokenResponse is a token endpoint reply, successful or not.
type tokenResponse struct {
	AccessToken string      `json:"access_token"`
	TokenType   string      `json:"token_type"`
	ExpiresIn   flexSeconds `json:"expires_in"`
	Error       string      `json:"error"`
	Description string      `json:"error_description"`
	Code        string      `json:"code"`
	Hint        string      `json:"hint"`
}

// fetch requests a new token and returns it with its lifetime.
func (s *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	unreachable := func(cause error, format string, args ...any) *errs.Error {
		return (&errs.Error{Code: "EndpointUnreachable", Kind: errs.Unavailable, Message: fmt.Sprintf(format, args...),
			Hint: "check the remote server address of the migration endpoint and that the server is up; retry later", Object: s.tokenURL}).WithCause(cause)
	}
	scope := s.resource
	if !strings.HasSuffix(scope, ScopeDefaultSuffix) {
		scope += ScopeDefaultSuffix
	}
	form := url.Values{
		"grant_type":    {GrantClientCredentials},
		"client_id":     {s.clientID},
		"client_secret": {s.clientSecret},
		"scope":         {scope},
	}
	ctx, cancel := context.WithTimeout(ctx, TokenRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, bytes.NewBufferString(form.Encode()))
	if err != nil {
		return "", 0, errs.Invalidf("InvalidTokenURL", "token URL %q is not valid: %v", s.tokenURL, err).
			WithHint("set the remote server of the migration endpoint to an http(s) URL")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", 0, unreachable(err, "cannot reach the token endpoint %s: %v", s.tokenURL, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenReply))
	if err != nil {
		return "", 0, unreachable(err, "cannot read the reply of the token endpoint %s: %v", s.tokenURL, err)
	}
	var tr tokenResponse
	jerr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK {
		if jerr == nil && tr.Error != "" {
			desc := tr.Description
			if desc == "" {
				desc = "no description"
			}
			e := errs.Unauthorizedf("TokenRejected", "token endpoint %s refused application %s: %s: %s",
				s.tokenURL, s.clientID, tr.Error, desc).WithObject(s.clientID)
			if tr.Code != "" {
				e.Message += " [" + tr.Code + "]"
			}
			hint := tr.Hint
			if hint == "" {
				hint = "check the application id, secret and remote tenant of the migration endpoint"
			}
			return "", 0, e.WithHint("%s", hint)
		}
		if resp.StatusCode >= 500 {
			return "", 0, unreachable(nil, "token endpoint %s returned HTTP %s", s.tokenURL, resp.Status)
		}
		return "", 0, errs.Unauthorizedf("TokenRejected", "token endpoint %s returned HTTP %s", s.tokenURL, resp.Status).
			WithHint("check the remote server and remote tenant of the migration endpoint").WithObject(s.clientID)
	}
	if jerr != nil || tr.AccessToken == "" {
		return "", 0, unreachable(jerr, "token endpoint %s returned no access token", s.tokenURL)
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return "", 0, unreachable(nil, "token endpoint %s returned token type %q, not Bearer", s.tokenURL, truncate(tr.TokenType, 20))
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = time.Minute // no expiry given: keep it briefly
	}
	return tr.AccessToken, lifetime, nil
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
