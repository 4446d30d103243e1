package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/httpx"
)

// MaxTokenRequestBody bounds the body of a token request.
const MaxTokenRequestBody = 64 << 10

// GrantClientCredentials is the only grant type the token endpoint supports.
const GrantClientCredentials = "client_credentials"

// ScopeDefaultSuffix ends the scope of a client-credentials request:
// "<resource>/.default" asks for all the app's permissions on resource.
const ScopeDefaultSuffix = "/.default"

// OAuth 2.0 error codes (RFC 6749 §5.2) used by the token endpoint.
const (
	oauthInvalidRequest       = "invalid_request"
	oauthInvalidClient        = "invalid_client"
	oauthUnsupportedGrantType = "unsupported_grant_type"
	oauthInvalidScope         = "invalid_scope"
	oauthServerError          = "server_error"
	oauthUnavailable          = "temporarily_unavailable"
)

// Routes registers the issuer's endpoints on mux, with Entra ID paths where
// {tenant} is a tenant id, a tenant name or an accepted domain:
//
//	POST /{tenant}/oauth2/v2.0/token                      client-credentials grant
//	GET  /{tenant}/v2.0/.well-known/openid-configuration  discovery document
//	GET  /{tenant}/discovery/v2.0/keys                    JWKS
//
// The patterns start with a wildcard segment, so they coexist with routes
// such as "/api/v1/...", "/replication/v1/", "/healthz" or "/ui/{$}", but
// ServeMux panics if the same mux holds a subtree pattern of a single
// literal segment ("/ui/", "GET /ui/{path...}"): "/ui/discovery/v2.0/keys"
// would match both. Register such subtrees one level deeper
// ("/ui/assets/") or as exact paths.
func (i *Issuer) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", i.handleToken)
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", i.handleConfig)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", i.handleJWKS)
}

// tokenReply is the successful token endpoint reply (RFC 6749 §5.1).
type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// oauthReply is an error reply: the RFC 6749 §5.2 fields plus this
// project's coded error fields.
type oauthReply struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	Hint        string `json:"hint,omitempty"`
}

// oauthFailure is a token endpoint error: the coded error and its OAuth form.
type oauthFailure struct {
	oauth string
	err   *errs.Error
}

func fail(oauth string, e *errs.Error) *oauthFailure { return &oauthFailure{oauth: oauth, err: e} }

func badRequest(code, hint, format string, args ...any) *oauthFailure {
	return fail(oauthInvalidRequest, errs.Invalidf(code, format, args...).WithHint("%s", hint))
}

func badClient(code, hint, format string, args ...any) *oauthFailure {
	return fail(oauthInvalidClient, errs.Unauthorizedf(code, format, args...).WithHint("%s", hint))
}

// handleToken serves the client-credentials grant.
func (i *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	reply, basic, f := i.token(r.Context(), w, r)
	if f != nil {
		i.writeFailure(w, f, basic)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	httpx.WriteJSON(w, http.StatusOK, reply)
}

// token validates a token request and issues the token. basic reports
// whether the client used HTTP Basic authentication.
func (i *Issuer) token(ctx context.Context, w http.ResponseWriter, r *http.Request) (reply tokenReply, basic bool, f *oauthFailure) {
	form, f := readTokenForm(w, r)
	if f != nil {
		return reply, false, f
	}
	switch gt := form.Get("grant_type"); gt {
	case GrantClientCredentials:
	case "":
		return reply, false, badRequest("MissingParameter", "send grant_type=client_credentials",
			"the request has no grant_type")
	default:
		return reply, false, fail(oauthUnsupportedGrantType, errs.Invalidf("UnsupportedGrantType",
			"grant type %q is not supported", truncate(gt, 64)).WithHint("only grant_type=client_credentials is supported"))
	}

	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		basic = true
		if secret != "" {
			return reply, basic, badRequest("MultipleClientAuth", "send the client secret either in the Authorization header or in the body",
				"the request uses more than one client authentication method")
		}
		user, pass = formUnescape(user), formUnescape(pass)
		if clientID != "" && clientID != user {
			return reply, basic, badRequest("ClientIDMismatch", "send the same client_id in the body as in the Authorization header",
				"client_id in the body differs from the one in the Authorization header")
		}
		clientID, secret = user, pass
	}
	if clientID == "" {
		return reply, basic, badRequest("MissingParameter", "send client_id, the application (client) id",
			"the request has no client_id")
	}
	clientID = canonicalGUID(clientID)
	if secret == "" {
		return reply, basic, badClient("MissingClientSecret", "send client_secret, or use HTTP Basic authentication",
			"the request has no client secret for application %s", truncate(clientID, 64))
	}
	audience, f := audienceFromScope(form.Get("scope"))
	if f != nil {
		return reply, basic, f
	}

	ref := r.PathValue("tenant")
	tenantID, err := i.resolveTenant(ctx, ref)
	if errors.Is(err, errTenantNotFound) {
		// An unknown tenant answers exactly like a known one without this
		// application: the endpoint must not tell which tenants exist.
		tenantID, err = "", nil
	}
	if err != nil {
		return reply, basic, failFor(err)
	}
	if err := i.Limits.Allow("token", r.RemoteAddr, clientID); err != nil {
		return reply, basic, fail(oauthUnavailable, errs.As(err))
	}
	roles, f := i.authenticate(ctx, tenantID, ref, clientID, secret)
	if f != nil {
		if f.oauth == oauthInvalidClient {
			i.Limits.Failed("token", r.RemoteAddr, clientID)
		}
		return reply, basic, f
	}
	i.Limits.Succeeded("token", r.RemoteAddr, clientID)
	tok, _, err := i.Issue(ctx, tenantID, clientID, audience, roles, DefaultTokenTTL)
	if err != nil {
		return reply, basic, failFor(err)
	}
	return tokenReply{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(DefaultTokenTTL / time.Second)}, basic, nil
}

// readTokenForm reads the bounded urlencoded body. Parameters in the URL
// query are ignored, and a secret there is refused.
func readTokenForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthFailure) {
	if r.URL.Query().Has("client_secret") {
		return nil, badRequest("SecretInURL", "send client_secret in the request body, never in the URL",
			"the client secret must not be sent in the URL")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, badRequest("UnsupportedContentType", "send the parameters as application/x-www-form-urlencoded",
			"the token request must have Content-Type application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxTokenRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fail(oauthInvalidRequest, &errs.Error{Code: "RequestTooLarge", Kind: errs.TooLarge,
				Message: fmt.Sprintf("the token request is larger than %d bytes", MaxTokenRequestBody),
				Hint:    "send only grant_type, client_id, client_secret and scope"})
		}
		return nil, badRequest("MalformedRequest", "retry the request", "the token request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("MalformedRequest", "encode the body as application/x-www-form-urlencoded",
			"the token request body is not valid form encoding")
	}
	for k, v := range form {
		if len(v) > 1 {
			return nil, badRequest("RepeatedParameter", "send each parameter once",
				"parameter %q is repeated", truncate(k, 64))
		}
	}
	return form, nil
}

// audienceFromScope returns the resource of a "<resource>/.default" scope.
func audienceFromScope(scope string) (string, *oauthFailure) {
	hint := `ask for "<resource URL>/.default", e.g. "https://mail.contoso.example/.default"`
	if scope == "" {
		return "", fail(oauthInvalidScope, errs.Invalidf("InvalidScope", "the request has no scope").WithHint("%s", hint))
	}
	aud, ok := strings.CutSuffix(scope, ScopeDefaultSuffix)
	if !ok || strings.ContainsAny(aud, " \t\r\n") {
		return "", fail(oauthInvalidScope, errs.Invalidf("InvalidScope",
			"scope %q is not a single \"<resource>/.default\" scope", truncate(scope, 200)).WithHint("%s", hint))
	}
	u, err := url.Parse(aud)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return "", fail(oauthInvalidScope, errs.Invalidf("InvalidScope",
			"resource %q of the scope is not an absolute http(s) URL", truncate(aud, 200)).WithHint("%s", hint))
	}
	return aud, nil
}

// authenticate checks that clientID is an app of tenantID (named ref by the
// caller; "" for a tenant that does not exist) and that secret is one of
// its unexpired secrets; it returns the app's permissions as roles. A
// secret is valid while now < expires_at.
func (i *Issuer) authenticate(ctx context.Context, tenantID, ref, clientID, secret string) ([]string, *oauthFailure) {
	appTenant, perms, found, err := i.Clients.ClientApp(ctx, clientID)
	if err != nil {
		return nil, failFor(errs.Internalf(err, "cannot read application %s", clientID))
	}
	if !found || tenantID == "" || appTenant != tenantID {
		CheckSecret(HashSecret(""), secret) // same work as a real check
		return nil, badClient("AppNotFound", "check the client_id and that the application is registered in this tenant",
			"application %s was not found in tenant %q", truncate(clientID, 64), truncate(ref, 100))
	}
	secrets, err := i.Clients.ClientSecrets(ctx, tenantID, clientID)
	if err != nil {
		return nil, failFor(errs.Internalf(err, "cannot read the secrets of application %s", clientID))
	}
	now := i.now()
	valid, expired, expiredHint, expiredAt := false, false, "", time.Time{}
	for _, cs := range secrets {
		if CheckSecret(cs.Hash, secret) {
			if now.Before(cs.Expires) {
				valid = true
			} else {
				expired, expiredHint, expiredAt = true, cs.Hint, cs.Expires
			}
		}
	}
	if !valid && expired {
		return nil, badClient("SecretExpired", "create a new client secret for the application and update the migration endpoint",
			"the client secret %s... of application %s expired at %s", expiredHint, clientID, expiredAt.UTC().Format(time.RFC3339))
	}
	if !valid {
		return nil, badClient("InvalidClientSecret", "check the client secret; create a new one if it was lost",
			"invalid client secret for application %s", clientID)
	}
	roles := []string{}
	for _, p := range strings.Split(perms, ",") {
		if p = strings.TrimSpace(p); p != "" {
			roles = append(roles, p)
		}
	}
	return roles, nil
}

// resolveTenant maps a tenant reference (id, name or accepted domain) to the
// tenant id.
func (i *Issuer) resolveTenant(ctx context.Context, ref string) (string, error) {
	notFound := errTenantNotFound.Newf("tenant %q was not found on this server", truncate(ref, 100)).
		WithHint("use the tenant id, the tenant name or one of its accepted domains").WithObject(truncate(ref, 100))
	if ref == "" || len(ref) > 255 {
		return "", notFound
	}
	id, err := i.Clients.ClientTenant(ctx, canonicalGUID(ref))
	if err != nil {
		return "", errs.Internalf(err, "cannot look up tenant %q", ref)
	}
	if id == "" {
		return "", notFound
	}
	return id, nil
}

// handleConfig serves the OpenID Provider configuration of a tenant, named
// by its id. Like the JWKS, it is the same for every well-formed tenant id
// whether or not such a tenant exists here: discovery is public, and must
// not tell which tenants this server hosts (nor map names and domains to
// ids).
func (i *Issuer) handleConfig(w http.ResponseWriter, r *http.Request) {
	tid := canonicalGUID(r.PathValue("tenant"))
	if _, err := uuid.Parse(tid); err != nil || len(tid) != 36 {
		i.writeFailure(w, fail(oauthInvalidRequest, errs.Invalidf("TenantIdRequired",
			"the discovery document is served by tenant id, not by %q", truncate(r.PathValue("tenant"), 100)).
			WithHint("use the issuer URL the app registration shows: PUBLIC-URL/TENANT-ID/v2.0")), false)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"issuer":                                IssuerURL(i.publicURL, tid),
		"token_endpoint":                        TokenURL(i.publicURL, tid),
		"jwks_uri":                              JWKSURL(i.publicURL, tid),
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"id_token_signing_alg_values_supported": []string{AlgEdDSA},
		"grant_types_supported":                 []string{GrantClientCredentials},
		"response_types_supported":              []string{"token"},
		"scopes_supported":                      []string{},
		"tenant_region_scope":                   nil,
	})
}

// handleJWKS serves the public signing keys. They are the server's, shared
// by its tenants, so the answer is the same under any tenant segment: it
// reveals nothing about which tenants exist.
func (i *Issuer) handleJWKS(w http.ResponseWriter, r *http.Request) {
	set, err := i.keys.JWKS(r.Context())
	if err != nil {
		i.writeFailure(w, failFor(err), false)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpx.WriteJSON(w, http.StatusOK, set)
}

// failFor turns any error into its OAuth form.
func failFor(err error) *oauthFailure {
	e := errs.As(err)
	if e == nil {
		e = errs.Internalf(err, "internal error")
	}
	switch e.Kind {
	case errs.Internal:
		return fail(oauthServerError, e)
	case errs.Unavailable:
		return fail(oauthUnavailable, e)
	case errs.Unauthorized:
		return fail(oauthInvalidClient, e)
	}
	return fail(oauthInvalidRequest, e)
}

// writeFailure writes an OAuth error reply; internal causes go to the log.
func (i *Issuer) writeFailure(w http.ResponseWriter, f *oauthFailure, basic bool) {
	status := errs.HTTPStatus(f.err)
	msg := f.err.Message
	if f.err.Kind == errs.Internal || f.err.Kind == errs.Unavailable {
		i.log().Error("identity: endpoint failure", "code", f.err.Code, "error", f.err.Message, "cause", f.err.Cause)
	}
	if status == http.StatusUnauthorized && basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="tenantferry"`)
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, status, oauthReply{Error: f.oauth, Description: msg, Code: f.err.Code, Message: msg, Hint: f.err.Hint})
}

// formUnescape decodes a form-encoded Basic credential (RFC 6749 §2.3.1),
// keeping it as is when it is not valid form encoding.
func formUnescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// canonicalGUID returns s as a lower-case hyphenated GUID when it is one
// (app and tenant ids are stored so), and s unchanged otherwise.
func canonicalGUID(s string) string {
	if len(s) != 36 && len(s) != 38 {
		return s
	}
	if u, err := uuid.Parse(s); err == nil {
		return u.String()
	}
	return s
}

// truncate shortens caller-supplied text quoted in messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// errTenantNotFound: the token request names no tenant of this server (the
// directory's TenantNotFound code; identity sits below the directory).
var errTenantNotFound = errs.Sentinel(errs.NotFound, "TenantNotFound")
