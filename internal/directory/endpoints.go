package directory

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// Endpoint types.
const (
	EndpointExchangeRemoteMove = "ExchangeRemoteMove" // a tenantferry source server
	EndpointIMAP               = "IMAP"               // any IMAP server
)

// Endpoint defaults (Exchange's).
const (
	DefaultMaxConcurrentMigrations       = 100
	DefaultMaxConcurrentIncrementalSyncs = 20
	maxConcurrencyLimit                  = 1000
)

// Endpoint is a migration endpoint of a target tenant.
type Endpoint struct {
	ID                            string
	TenantID                      string
	Name                          string
	Type                          string
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	// MaxBytesPerSecond caps the bytes all the endpoint's passes transfer
	// per second together, on every node (0: no cap).
	MaxBytesPerSecond int64
	// Security is the transport security of an IMAP endpoint: "" (imaps://
	// implicit TLS; imap:// STARTTLS when offered, plain text only to a
	// loopback address), Ssl, Tls (STARTTLS required) or None.
	Security string
	// CalDAVURL and CardDAVURL are an IMAP endpoint's optional CalDAV and
	// CardDAV servers (http:// or https://): a batch then imports each
	// user's calendars, task lists and address books too, with the same
	// per-user login as IMAP.
	CalDAVURL  string
	CardDAVURL string
	// OAuth, when set, signs an IMAP endpoint's users in with OAuth2
	// tokens instead of passwords (ApplicationId and the secret are the
	// OAuth client's id and secret).
	OAuth     *EndpointOAuth
	CreatedAt time.Time
	UpdatedAt time.Time

	secretEnc []byte
}

// ErrInvalidBandwidth: a negative bandwidth cap.
var ErrInvalidBandwidth = errs.Sentinel(errs.Invalid, "InvalidBandwidth")

// EndpointOAuth is an IMAP endpoint's OAuth2 sign-in (Gmail, Microsoft
// 365): where tokens come from and how they are presented.
type EndpointOAuth struct {
	TokenURL string
	Scope    string // space-separated scopes ("" for the provider's default)
	// Grant is OAuthRefreshToken (a refresh token per user: the batch
	// CSV's RefreshToken column) or OAuthClientCredentials (a service
	// account's token for every user).
	Grant string
	// Mechanism is the SASL mechanism: OAuthXOAUTH2 or OAuthBearer.
	Mechanism string
}

// OAuth grants and SASL mechanisms of IMAP endpoints.
const (
	OAuthRefreshToken      = "refresh_token"
	OAuthClientCredentials = "client_credentials"
	OAuthXOAUTH2           = "XOAUTH2"
	OAuthBearer            = "OAUTHBEARER"
)

// ErrInvalidOAuth: an OAuth setting that is not valid.
var ErrInvalidOAuth = errs.Sentinel(errs.Invalid, "InvalidOAuth")

// checkOAuth validates an IMAP endpoint's OAuth settings (nil when the
// token URL is empty).
func checkOAuth(s EndpointSpec) (*EndpointOAuth, error) {
	if s.OAuthTokenURL == "" {
		if s.OAuthScope != "" || s.OAuthGrant != "" || s.OAuthMechanism != "" {
			return nil, ErrInvalidOAuth.Newf("OAuth settings need the token URL").WithObject("OAuthTokenURL").
				WithHint("pass --oauth-token-url https://oauth2.googleapis.com/token (the provider's token endpoint)")
		}
		return nil, nil
	}
	u, err := CheckServerURL(s.OAuthTokenURL)
	if err != nil || !(strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")) {
		return nil, ErrInvalidOAuth.Newf("the OAuth token URL %q is not an absolute http(s) URL", s.OAuthTokenURL).WithObject(s.OAuthTokenURL).
			WithHint("pass the provider's token endpoint, e.g. https://login.microsoftonline.com/TENANT/oauth2/v2.0/token")
	}
	o := &EndpointOAuth{TokenURL: u, Scope: strings.Join(strings.Fields(s.OAuthScope), " "), Grant: strings.ToLower(s.OAuthGrant), Mechanism: strings.ToUpper(s.OAuthMechanism)}
	if o.Grant == "" {
		o.Grant = OAuthRefreshToken
	}
	if o.Mechanism == "" {
		o.Mechanism = OAuthXOAUTH2
	}
	if o.Grant != OAuthRefreshToken && o.Grant != OAuthClientCredentials {
		return nil, ErrInvalidOAuth.Newf("OAuth grant %q is not known", s.OAuthGrant).WithObject(s.OAuthGrant).WithHint("use refresh_token or client_credentials")
	}
	if o.Mechanism != OAuthXOAUTH2 && o.Mechanism != OAuthBearer {
		return nil, ErrInvalidOAuth.Newf("SASL mechanism %q is not known", s.OAuthMechanism).WithObject(s.OAuthMechanism).WithHint("use XOAUTH2 or OAUTHBEARER")
	}
	if strings.TrimSpace(s.ApplicationId) == "" {
		return nil, ErrInvalidOAuth.Newf("an OAuth IMAP endpoint needs the OAuth client id").WithObject("ApplicationId").
			WithHint("pass --app-id CLIENT_ID (and --secret-file with the client secret)")
	}
	return o, nil
}

// IMAP endpoint security modes (Exchange's New-MigrationEndpoint -Security).
var endpointSecurity = []string{"", "Ssl", "Tls", "None"}

// EndpointSpec describes an endpoint to create.
type EndpointSpec struct {
	Name                          string
	Type                          string
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	Secret                        string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	MaxBytesPerSecond             int64  // 0: no cap
	Security                      string // IMAP only
	CalDAVURL, CardDAVURL         string // IMAP only, optional
	// OAuthTokenURL, OAuthScope, OAuthGrant and OAuthMechanism set up an
	// IMAP endpoint's OAuth2 sign-in (EndpointOAuth; "" token URL: none).
	OAuthTokenURL, OAuthScope, OAuthGrant, OAuthMechanism string
}

// CheckServerURL validates a remote server URL.
func CheckServerURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "imap" && u.Scheme != "imaps") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errs.Invalidf("InvalidRemoteServer", "remote server %q is not an absolute URL", s).
			WithHint("use the source server's public URL, e.g. https://mail.contoso.example")
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// fill validates a complete endpoint spec into e (everything but the name
// and ids) and seals the secret.
func (x *Directory) fill(e *Endpoint, s EndpointSpec) (*Endpoint, error) {
	e.Type, e.MaxConcurrentMigrations, e.MaxConcurrentIncrementalSyncs = s.Type, s.MaxConcurrentMigrations, s.MaxConcurrentIncrementalSyncs
	if s.MaxBytesPerSecond < 0 {
		return nil, ErrInvalidBandwidth.Newf("MaxBytesPerSecond must be 0 (no cap) or more, not %d", s.MaxBytesPerSecond).WithObject("MaxBytesPerSecond").
			WithHint("pass e.g. --max-bytes-per-second 52428800 (50 MiB/s), or 0 for no cap")
	}
	e.MaxBytesPerSecond = s.MaxBytesPerSecond
	if e.Type == "" {
		e.Type = EndpointExchangeRemoteMove
	}
	if e.Type != EndpointExchangeRemoteMove && e.Type != EndpointIMAP {
		return nil, errs.Invalidf("InvalidEndpointType", "endpoint type %q is not known", e.Type).WithHint("use ExchangeRemoteMove or IMAP")
	}
	var err error
	if e.RemoteServer, err = CheckServerURL(s.RemoteServer); err != nil {
		return nil, err
	}
	imapURL := strings.HasPrefix(e.RemoteServer, "imap://") || strings.HasPrefix(e.RemoteServer, "imaps://")
	if e.Type == EndpointIMAP {
		return x.fillIMAP(e, s, imapURL)
	}
	if imapURL {
		return nil, errs.Invalidf("InvalidRemoteServer", "remote server %q is an IMAP URL, but the endpoint type is %s", s.RemoteServer, e.Type).
			WithHint("use the source tenantferry server's https:// URL, or --type IMAP for an IMAP server")
	}
	if s.Security != "" {
		return nil, errs.Invalidf("InvalidSecurity", "Security applies to IMAP endpoints only").WithHint("leave --security out")
	}
	if s.OAuthTokenURL != "" {
		return nil, ErrInvalidOAuth.Newf("OAuth sign-in applies to IMAP endpoints only").WithHint("leave --oauth-token-url out")
	}
	if s.CalDAVURL != "" || s.CardDAVURL != "" {
		return nil, errs.Invalidf("InvalidDAVURL", "CalDAV and CardDAV URLs apply to IMAP endpoints only").
			WithHint("leave --caldav-url and --carddav-url out: a native move carries calendars and contacts by itself")
	}
	rt := strings.ToLower(strings.TrimSpace(s.RemoteTenant))
	if g, gerr := ParseGUID("RemoteTenant", rt); gerr == nil && g != "" {
		e.RemoteTenant = g
	} else if e.RemoteTenant, err = CheckDomain(rt); err != nil {
		return nil, errs.Invalidf("InvalidRemoteTenant", "remote tenant %q is neither a domain nor a tenant ID", s.RemoteTenant).
			WithHint("pass the source tenant's initial domain, e.g. contoso.tenantferry.test")
	}
	if e.ApplicationId, err = ParseGUID("AppId", s.ApplicationId); err != nil {
		return nil, err
	}
	if e.ApplicationId == "" {
		return nil, errs.Invalidf("MissingField", "AppId is required").WithHint("pass --app-id of the migration app")
	}
	if s.Secret == "" || len(s.Secret) > 4096 {
		return nil, errs.Invalidf("MissingField", "a secret of 1 to 4096 characters is required").WithHint("pass --secret or --secret-file")
	}
	return x.fillLimits(e, s)
}

// fillIMAP validates the fields of an IMAP endpoint: an imap:// or imaps://
// server and a security mode. The users' credentials come with the batch
// CSV, so no tenant, app or secret is needed (any given are kept).
func (x *Directory) fillIMAP(e *Endpoint, s EndpointSpec, imapURL bool) (*Endpoint, error) {
	if !imapURL {
		return nil, errs.Invalidf("InvalidRemoteServer", "remote server %q of an IMAP endpoint is not an imap:// or imaps:// URL", s.RemoteServer).
			WithHint("use imap://host:143 (STARTTLS when offered) or imaps://host:993")
	}
	e.Security = "?"
	for _, v := range endpointSecurity {
		if strings.EqualFold(s.Security, v) {
			e.Security = v
		}
	}
	if e.Security == "?" {
		return nil, errs.Invalidf("InvalidSecurity", "security %q is not known", s.Security).
			WithHint("use Ssl (implicit TLS), Tls (STARTTLS), None (plain text), or leave it out for the URL's default")
	}
	for _, f := range []struct{ name, v string }{{"RemoteTenant", s.RemoteTenant}, {"ApplicationId", s.ApplicationId}} {
		if !storable(f.v) || len(f.v) > 320 {
			return nil, errs.Invalidf("Invalid"+f.name, "the %s of an IMAP endpoint must be valid text of at most 320 bytes", f.name)
		}
	}
	if len(s.Secret) > 4096 {
		return nil, errs.Invalidf("InvalidSecret", "the secret is longer than 4096 characters")
	}
	e.RemoteTenant, e.ApplicationId = strings.TrimSpace(s.RemoteTenant), s.ApplicationId
	o, err := checkOAuth(s)
	if err != nil {
		return nil, err
	}
	e.OAuth = o
	for _, f := range []struct {
		name string
		dst  *string
		v    string
	}{{"CalDAV", &e.CalDAVURL, s.CalDAVURL}, {"CardDAV", &e.CardDAVURL, s.CardDAVURL}} {
		if f.v == "" {
			continue
		}
		u, err := CheckServerURL(f.v)
		if err != nil || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			return nil, errs.Invalidf("InvalidDAVURL", "the %s URL %q is not an absolute http:// or https:// URL", f.name, f.v).WithObject(f.v).
				WithHint("pass the server's URL, e.g. --caldav-url https://dav.legacy.example/ (the principal is discovered from it)")
		}
		*f.dst = u
	}
	return x.fillLimits(e, s)
}

// fillLimits validates the concurrency limits and seals the secret.
func (x *Directory) fillLimits(e *Endpoint, s EndpointSpec) (*Endpoint, error) {
	var err error
	if e.MaxConcurrentMigrations == 0 {
		e.MaxConcurrentMigrations = DefaultMaxConcurrentMigrations
	}
	if e.MaxConcurrentIncrementalSyncs == 0 {
		// The default never exceeds an explicitly lowered
		// MaxConcurrentMigrations.
		e.MaxConcurrentIncrementalSyncs = min(DefaultMaxConcurrentIncrementalSyncs, e.MaxConcurrentMigrations)
	}
	if e.MaxConcurrentMigrations < 1 || e.MaxConcurrentMigrations > maxConcurrencyLimit ||
		e.MaxConcurrentIncrementalSyncs < 1 || e.MaxConcurrentIncrementalSyncs > e.MaxConcurrentMigrations {
		return nil, errs.Invalidf("InvalidConcurrency", "concurrency limits %d/%d are out of range", e.MaxConcurrentMigrations, e.MaxConcurrentIncrementalSyncs).
			WithHint("MaxConcurrentMigrations 1..1000 and MaxConcurrentIncrementalSyncs 1..MaxConcurrentMigrations")
	}
	if e.secretEnc, err = identity.Seal(x.serverKey, []byte(s.Secret)); err != nil {
		return nil, err
	}
	return e, nil
}

// CreateEndpoint creates a migration endpoint; the secret is sealed with the
// server key.
func (x *Directory) CreateEndpoint(ctx context.Context, tenantID string, s EndpointSpec) (*Endpoint, error) {
	if err := CheckName("Name", s.Name); err != nil {
		return nil, err
	}
	e, err := x.fill(&Endpoint{ID: newID(), TenantID: tenantID, Name: s.Name}, s)
	if err != nil {
		return nil, err
	}
	now := db.Time(db.Now())
	e.CreatedAt, e.UpdatedAt = now, now
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO endpoints (id, tenant_id, name, name_key, type, remote_server, remote_tenant, app_id, secret_enc,
			max_migrations, max_incremental, security, caldav_url, carddav_url, created_at, updated_at, max_bytes_per_second,
			oauth_token_url, oauth_scope, oauth_grant, oauth_mechanism)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			append([]any{e.ID, tenantID, e.Name, strings.ToLower(e.Name), e.Type, e.RemoteServer, e.RemoteTenant, e.ApplicationId, e.secretEnc,
				e.MaxConcurrentMigrations, e.MaxConcurrentIncrementalSyncs, e.Security, e.CalDAVURL, e.CardDAVURL, db.Millis(now), db.Millis(now),
				e.MaxBytesPerSecond}, e.oauthArgs()...)...)
		if db.IsUnique(err) {
			return errs.Conflictf("EndpointExists", "a migration endpoint named %q already exists", e.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// EndpointUpdate holds the changes of `endpoint set`; zero values keep.
type EndpointUpdate struct {
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	Secret                        string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	// MaxBytesPerSecond changes the bandwidth cap (0 removes it); nil keeps.
	MaxBytesPerSecond *int64
	// Security changes an IMAP endpoint's security; "Auto" resets it to the
	// URL's default.
	Security string
	// CalDAVURL and CardDAVURL change an IMAP endpoint's DAV servers;
	// "none" removes one.
	CalDAVURL, CardDAVURL string
	// OAuthTokenURL ("none" removes the OAuth sign-in), OAuthScope,
	// OAuthGrant and OAuthMechanism change an IMAP endpoint's OAuth2.
	OAuthTokenURL, OAuthScope, OAuthGrant, OAuthMechanism string
}

// UpdateEndpoint changes an endpoint (Set-MigrationEndpoint): a new secret
// (rotation), server, tenant, app or limits. The result is validated like a
// new endpoint.
func (x *Directory) UpdateEndpoint(ctx context.Context, tenantID, name string, u EndpointUpdate) (*Endpoint, error) {
	cur, err := x.GetEndpoint(ctx, tenantID, name)
	if err != nil {
		return nil, err
	}
	secret, err := x.EndpointSecret(cur)
	if err != nil {
		return nil, err
	}
	spec := EndpointSpec{Name: cur.Name, Type: cur.Type, RemoteServer: cur.RemoteServer, RemoteTenant: cur.RemoteTenant,
		ApplicationId: cur.ApplicationId, Secret: secret, MaxConcurrentMigrations: cur.MaxConcurrentMigrations,
		MaxConcurrentIncrementalSyncs: cur.MaxConcurrentIncrementalSyncs, Security: cur.Security, CalDAVURL: cur.CalDAVURL, CardDAVURL: cur.CardDAVURL,
		MaxBytesPerSecond: cur.MaxBytesPerSecond}
	if cur.OAuth != nil {
		spec.OAuthTokenURL, spec.OAuthScope, spec.OAuthGrant, spec.OAuthMechanism = cur.OAuth.TokenURL, cur.OAuth.Scope, cur.OAuth.Grant, cur.OAuth.Mechanism
	}
	if strings.EqualFold(u.OAuthTokenURL, "none") {
		spec.OAuthTokenURL, spec.OAuthScope, spec.OAuthGrant, spec.OAuthMechanism = "", "", "", ""
	} else {
		setNonEmpty(&spec.OAuthTokenURL, u.OAuthTokenURL)
		setNonEmpty(&spec.OAuthScope, u.OAuthScope)
		setNonEmpty(&spec.OAuthGrant, u.OAuthGrant)
		setNonEmpty(&spec.OAuthMechanism, u.OAuthMechanism)
	}
	if u.MaxBytesPerSecond != nil {
		spec.MaxBytesPerSecond = *u.MaxBytesPerSecond
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&spec.CalDAVURL, u.CalDAVURL}, {&spec.CardDAVURL, u.CardDAVURL}} {
		switch {
		case strings.EqualFold(f.v, "none"):
			*f.dst = ""
		case f.v != "":
			*f.dst = f.v
		}
	}
	switch {
	case strings.EqualFold(u.Security, "Auto"):
		spec.Security = ""
	case u.Security != "":
		spec.Security = u.Security
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&spec.RemoteServer, u.RemoteServer}, {&spec.RemoteTenant, u.RemoteTenant},
		{&spec.ApplicationId, u.ApplicationId}, {&spec.Secret, u.Secret}} {
		if f.v != "" {
			*f.dst = f.v
		}
	}
	if u.MaxConcurrentMigrations != 0 {
		spec.MaxConcurrentMigrations = u.MaxConcurrentMigrations
		if u.MaxConcurrentIncrementalSyncs == 0 {
			spec.MaxConcurrentIncrementalSyncs = min(spec.MaxConcurrentIncrementalSyncs, u.MaxConcurrentMigrations)
		}
	}
	if u.MaxConcurrentIncrementalSyncs != 0 {
		spec.MaxConcurrentIncrementalSyncs = u.MaxConcurrentIncrementalSyncs
	}
	e, err := x.fill(&Endpoint{ID: cur.ID, TenantID: tenantID, Name: cur.Name, CreatedAt: cur.CreatedAt}, spec)
	if err != nil {
		return nil, err
	}
	e.UpdatedAt = db.Time(db.Now())
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE endpoints SET remote_server = ?, remote_tenant = ?, app_id = ?, secret_enc = ?, max_migrations = ?,
			max_incremental = ?, security = ?, caldav_url = ?, carddav_url = ?, updated_at = ?, max_bytes_per_second = ?,
			oauth_token_url = ?, oauth_scope = ?, oauth_grant = ?, oauth_mechanism = ? WHERE id = ? AND tenant_id = ?`,
			append([]any{e.RemoteServer, e.RemoteTenant, e.ApplicationId, e.secretEnc, e.MaxConcurrentMigrations, e.MaxConcurrentIncrementalSyncs, e.Security,
				e.CalDAVURL, e.CardDAVURL, db.Millis(e.UpdatedAt), e.MaxBytesPerSecond}, append(e.oauthArgs(), e.ID, tenantID)...)...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

const endpointCols = `id, tenant_id, name, type, remote_server, remote_tenant, app_id, secret_enc, max_migrations, max_incremental, security,
	caldav_url, carddav_url, created_at, updated_at, max_bytes_per_second, oauth_token_url, oauth_scope, oauth_grant, oauth_mechanism`

func scanEndpoint(sc interface{ Scan(...any) error }) (*Endpoint, error) {
	e := &Endpoint{}
	var cr, up int64
	var o EndpointOAuth
	if err := sc.Scan(&e.ID, &e.TenantID, &e.Name, &e.Type, &e.RemoteServer, &e.RemoteTenant, &e.ApplicationId, &e.secretEnc,
		&e.MaxConcurrentMigrations, &e.MaxConcurrentIncrementalSyncs, &e.Security, &e.CalDAVURL, &e.CardDAVURL, &cr, &up, &e.MaxBytesPerSecond,
		&o.TokenURL, &o.Scope, &o.Grant, &o.Mechanism); err != nil {
		return nil, err
	}
	if o.TokenURL != "" {
		e.OAuth = &o
	}
	e.CreatedAt, e.UpdatedAt = db.Time(cr), db.Time(up)
	return e, nil
}

// GetEndpoint returns the tenant's endpoint by name or id.
func (x *Directory) GetEndpoint(ctx context.Context, tenantID, name string) (*Endpoint, error) {
	e, err := (*Endpoint)(nil), sql.ErrNoRows
	if storable(name) {
		e, err = scanEndpoint(x.d.Read().QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE tenant_id = ? AND (name_key = ? OR id = ?)`,
			tenantID, strings.ToLower(name), name))
	}
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("EndpointNotFound", "no migration endpoint %q in this tenant", name).
			WithHint("create it with 'tenantferry endpoint create' or list them with 'tenantferry endpoint list'").WithObject(name)
	}
	return e, err
}

// ListEndpoints lists the tenant's endpoints.
func (x *Directory) ListEndpoints(ctx context.Context, tenantID string) ([]*Endpoint, error) {
	rows, err := x.d.Read().QueryContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE tenant_id = ? ORDER BY name_key`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteEndpoint removes an endpoint.
func (x *Directory) DeleteEndpoint(ctx context.Context, tenantID, name string) error {
	e, err := x.GetEndpoint(ctx, tenantID, name)
	if err != nil {
		return err
	}
	return x.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE id = ? AND tenant_id = ?`, e.ID, tenantID)
		return err
	})
}

// EndpointSecret decrypts an endpoint's secret (for obtaining tokens).
func (x *Directory) EndpointSecret(e *Endpoint) (string, error) {
	b, err := identity.Open(x.serverKey, e.secretEnc)
	if err != nil {
		return "", errs.Internalf(err, "the secret of endpoint %s cannot be decrypted (was the server key replaced?)", e.Name)
	}
	return string(b), nil
}

// SealSecret seals a secret with the server key (an IMAP move's password).
func (x *Directory) SealSecret(secret string) ([]byte, error) {
	return identity.Seal(x.serverKey, []byte(secret))
}

// OpenSecret opens a secret sealed by SealSecret.
func (x *Directory) OpenSecret(sealed []byte) (string, error) {
	b, err := identity.Open(x.serverKey, sealed)
	if err != nil {
		return "", errs.Internalf(err, "a sealed secret cannot be opened (was the server key replaced?)")
	}
	return string(b), nil
}

// oauthArgs are the values of the endpoint's oauth_* columns.
func (e *Endpoint) oauthArgs() []any {
	if e.OAuth == nil {
		return []any{"", "", "", ""}
	}
	return []any{e.OAuth.TokenURL, e.OAuth.Scope, e.OAuth.Grant, e.OAuth.Mechanism}
}

// setNonEmpty sets *dst to v unless v is empty.
func setNonEmpty(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}
