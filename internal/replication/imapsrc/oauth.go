package imapsrc

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// OAuth signs users in with OAuth2 access tokens instead of passwords:
// SASL XOAUTH2 (Google's, also Microsoft 365's) or OAUTHBEARER (RFC 7628).
type OAuth struct {
	// Mechanism is "XOAUTH2" or "OAUTHBEARER".
	Mechanism string
	// Token returns the current access token of a user, whose secret is
	// the batch CSV's (a refresh token, or nothing for a service account).
	// fresh asks for a new token: the server refused the last one (expired
	// or revoked), which the source then tries once more.
	Token func(ctx context.Context, user, secret string, fresh bool) (string, error)
}

// xoauth2 is the client side of SASL XOAUTH2: one initial response
// "user=U^Aauth=Bearer T^A^A"; a failure comes as a JSON challenge,
// answered with an empty response so the server sends its NO.
type xoauth2 struct{ user, token string }

var _ sasl.Client = (*xoauth2)(nil)

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// loginOAuth authenticates with the endpoint's OAuth mechanism; a refused
// token is replaced by a fresh one once.
func (c *conn) loginOAuth(ctx context.Context, user, secret string) error {
	o := c.srv.OAuth
	mech := strings.ToUpper(o.Mechanism)
	if !c.c.Caps().Has(imap.AuthCap(mech)) {
		return errs.Forbiddenf("SourceLoginFailed", "the IMAP server %s does not offer AUTHENTICATE %s for %s", c.srv.URL, mech, user).
			WithObject(user).WithHint("choose the mechanism the server offers (--oauth-mechanism XOAUTH2 or OAUTHBEARER)")
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var tok string
		if tok, err = o.Token(ctx, user, secret, attempt > 0); err != nil {
			return err
		}
		var client sasl.Client = &xoauth2{user: user, token: tok}
		if mech == "OAUTHBEARER" {
			host, port := c.hostPort()
			client = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: tok, Host: host, Port: port})
		}
		if err = c.c.Authenticate(client); err == nil {
			return nil
		}
		var ie *imap.Error
		if !errors.As(err, &ie) || ctx.Err() != nil {
			break // not a refusal: the connection failed
		}
	}
	return c.loginError(ctx, user, err, "check the user's refresh token (the RefreshToken column of the batch CSV) and the endpoint's OAuth client")
}
