package directory

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// PermissionMailboxMigration is the application permission a migration app
// needs and a source tenant grants.
const PermissionMailboxMigration = "Mailbox.Migration"

// knownPermissions are the permissions an app registration may request.
var knownPermissions = map[string]string{strings.ToLower(PermissionMailboxMigration): PermissionMailboxMigration}

// CheckPermissions validates and canonicalises permission names.
func CheckPermissions(ps []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, p := range ps {
		for _, part := range splitList(p) {
			c, ok := knownPermissions[strings.ToLower(part)]
			if !ok {
				return nil, errs.Invalidf("UnknownPermission", "permission %q is not known", part).
					WithHint("the only permission is %s", PermissionMailboxMigration)
			}
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return nil, errs.Invalidf("MissingField", "at least one permission is required").
			WithHint("pass --permission %s", PermissionMailboxMigration)
	}
	return out, nil
}

// App is an app registration in its home tenant.
type App struct {
	AppID       string
	TenantID    string
	Name        string
	Permissions []string
	Secrets     []AppSecret
	CreatedAt   time.Time
}

// AppSecret is the metadata of an app secret (never the secret itself).
type AppSecret struct {
	ID        string
	Hint      string // first characters of the secret
	Expires   time.Time
	CreatedAt time.Time
}

// CreateApp registers an app in the tenant.
func (x *Directory) CreateApp(ctx context.Context, tenantID, name string, permissions []string) (*App, error) {
	if err := CheckName("Name", name); err != nil {
		return nil, err
	}
	perms, err := CheckPermissions(permissions)
	if err != nil {
		return nil, err
	}
	a := &App{AppID: newID(), TenantID: tenantID, Name: name, Permissions: perms, CreatedAt: db.Time(db.Now())}
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (app_id, tenant_id, name, permissions, created_at) VALUES (?, ?, ?, ?, ?)`,
			a.AppID, tenantID, name, strings.Join(perms, ","), db.Millis(a.CreatedAt))
		return err
	})
	return a, err
}

// MaxSecretLifetime is the longest an app secret may be valid.
const MaxSecretLifetime = 2 * 365 * 24 * time.Hour

// DefaultSecretLifetime applies when no expiry is given.
const DefaultSecretLifetime = 180 * 24 * time.Hour

// AddAppSecret creates a new secret for an app of the tenant. The clear-text
// secret is returned once and stored only as a hash.
func (x *Directory) AddAppSecret(ctx context.Context, tenantID, appID string, lifetime time.Duration) (string, *AppSecret, error) {
	if lifetime == 0 {
		lifetime = DefaultSecretLifetime
	}
	if lifetime < time.Minute || lifetime > MaxSecretLifetime {
		return "", nil, errs.Invalidf("InvalidExpiry", "secret lifetime %s is out of range", lifetime).
			WithHint("use a duration between 1m and 17520h (2 years)")
	}
	secret := identity.NewSecret("tfs_", 40)
	s := &AppSecret{ID: newID(), Hint: secret[:7], Expires: time.Now().Add(lifetime).UTC().Truncate(time.Millisecond), CreatedAt: db.Time(db.Now())}
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		a, err := x.getApp(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		// The canonical id: appID may be any case or braced.
		_, err = tx.ExecContext(ctx, `INSERT INTO app_secrets (id, app_id, tenant_id, secret_hash, hint, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			s.ID, a.AppID, tenantID, identity.HashSecret(secret), s.Hint, db.Millis(s.Expires), db.Millis(s.CreatedAt))
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return secret, s, nil
}

// GetApp returns an app registration of the tenant.
func (x *Directory) GetApp(ctx context.Context, tenantID, appID string) (*App, error) {
	return x.getApp(ctx, x.d.Read(), tenantID, appID)
}

func (x *Directory) getApp(ctx context.Context, q db.Querier, tenantID, appID string) (*App, error) {
	id, err := ParseGUID("AppId", appID)
	if err != nil {
		return nil, err
	}
	a := &App{}
	var perms string
	var created int64
	err = q.QueryRowContext(ctx, `SELECT app_id, tenant_id, name, permissions, created_at FROM apps WHERE app_id = ? AND tenant_id = ?`, id, tenantID).
		Scan(&a.AppID, &a.TenantID, &a.Name, &perms, &created)
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("AppNotFound", "no app registration %s in this tenant", appID).
			WithHint("list apps with 'tenantferry app list'").WithObject(appID)
	}
	if err != nil {
		return nil, err
	}
	a.Permissions, a.CreatedAt = splitList(perms), db.Time(created)
	rows, err := q.QueryContext(ctx, `SELECT id, hint, expires_at, created_at FROM app_secrets WHERE app_id = ? AND tenant_id = ? ORDER BY created_at`, id, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s AppSecret
		var exp, cr int64
		if err := rows.Scan(&s.ID, &s.Hint, &exp, &cr); err != nil {
			return nil, err
		}
		s.Expires, s.CreatedAt = db.Time(exp), db.Time(cr)
		a.Secrets = append(a.Secrets, s)
	}
	return a, rows.Err()
}

// ListApps lists the tenant's app registrations with their secrets' metadata
// (two queries, not one per app).
func (x *Directory) ListApps(ctx context.Context, tenantID string) ([]*App, error) {
	q := x.d.Read()
	rows, err := q.QueryContext(ctx, `SELECT app_id, tenant_id, name, permissions, created_at FROM apps WHERE tenant_id = ? ORDER BY name, app_id`, tenantID)
	if err != nil {
		return nil, err
	}
	var out []*App
	byID := map[string]*App{}
	for rows.Next() {
		a := &App{}
		var perms string
		var created int64
		if err := rows.Scan(&a.AppID, &a.TenantID, &a.Name, &perms, &created); err != nil {
			rows.Close()
			return nil, err
		}
		a.Permissions, a.CreatedAt = splitList(perms), db.Time(created)
		out = append(out, a)
		byID[a.AppID] = a
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(out) == 0 {
		return out, err
	}
	rows, err = q.QueryContext(ctx, `SELECT app_id, id, hint, expires_at, created_at FROM app_secrets WHERE tenant_id = ? ORDER BY created_at`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var appID string
		var s AppSecret
		var exp, cr int64
		if err := rows.Scan(&appID, &s.ID, &s.Hint, &exp, &cr); err != nil {
			return nil, err
		}
		s.Expires, s.CreatedAt = db.Time(exp), db.Time(cr)
		if a := byID[appID]; a != nil {
			a.Secrets = append(a.Secrets, s)
		}
	}
	return out, rows.Err()
}

// DeleteApp removes an app registration and its secrets.
func (x *Directory) DeleteApp(ctx context.Context, tenantID, appID string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		a, err := x.getApp(ctx, tx, tenantID, appID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM apps WHERE app_id = ? AND tenant_id = ?`, a.AppID, tenantID)
		return err
	})
}

// Consent is a service principal: the source tenant's grant of permissions
// to an app registered elsewhere (possibly on another server).
type Consent struct {
	ID          string
	TenantID    string
	AppID       string
	Issuer      string
	JWKSURL     string
	Permissions []string
	GrantedBy   string
	GrantedAt   time.Time
}

// CheckIssuer validates an issuer URL.
func CheckIssuer(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errs.Invalidf("InvalidIssuer", "issuer %q is not an absolute http(s) URL", s).
			WithHint("use the Issuer printed by 'tenantferry app create', e.g. https://server/TENANT-ID/v2.0")
	}
	return u.String(), nil
}

// jwksForIssuer derives the JWKS URL of an Entra-style issuer
// ".../{tenant}/v2.0" → ".../{tenant}/discovery/v2.0/keys".
func jwksForIssuer(issuer string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(issuer, "/"), "/v2.0")
	return base + "/discovery/v2.0/keys"
}

// GrantConsent records (or updates) the tenant's consent to an app.
func (x *Directory) GrantConsent(ctx context.Context, tenantID, appID, issuer string, permissions []string, grantedBy string) (*Consent, error) {
	id, err := ParseGUID("AppId", appID)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errs.Invalidf("MissingField", "AppId is required").WithHint("pass --app-id")
	}
	iss, err := CheckIssuer(issuer)
	if err != nil {
		return nil, err
	}
	if len(permissions) == 0 {
		permissions = []string{PermissionMailboxMigration}
	}
	perms, err := CheckPermissions(permissions)
	if err != nil {
		return nil, err
	}
	c := &Consent{ID: newID(), TenantID: tenantID, AppID: id, Issuer: iss, JWKSURL: jwksForIssuer(iss), Permissions: perms, GrantedBy: grantedBy, GrantedAt: db.Time(db.Now())}
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE tenant_id = ? AND app_id = ?`, tenantID, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO consents (id, tenant_id, app_id, issuer, jwks_url, permissions, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, tenantID, id, iss, c.JWKSURL, strings.Join(perms, ","), grantedBy, db.Millis(c.GrantedAt))
		return err
	})
	return c, err
}

// GetConsent returns the tenant's consent for an app.
func (x *Directory) GetConsent(ctx context.Context, tenantID, appID string) (*Consent, error) {
	id, err := ParseGUID("AppId", appID)
	if err != nil {
		return nil, err
	}
	cs, err := x.listConsents(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errs.NotFoundf("AppNotConsented", "this tenant has not consented to app %s", appID).
			WithHint("the source admin grants consent with 'tenantferry consent grant --app-id %s --issuer URL'", appID).WithObject(appID)
	}
	return cs[0], nil
}

// ListConsents lists the tenant's consents.
func (x *Directory) ListConsents(ctx context.Context, tenantID string) ([]*Consent, error) {
	return x.listConsents(ctx, tenantID, "")
}

func (x *Directory) listConsents(ctx context.Context, tenantID, appID string) ([]*Consent, error) {
	q := `SELECT id, tenant_id, app_id, issuer, jwks_url, permissions, granted_by, granted_at FROM consents WHERE tenant_id = ?`
	args := []any{tenantID}
	if appID != "" {
		q += ` AND app_id = ?`
		args = append(args, appID)
	}
	rows, err := x.d.Read().QueryContext(ctx, q+` ORDER BY granted_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Consent
	for rows.Next() {
		c := &Consent{}
		var perms string
		var at int64
		if err := rows.Scan(&c.ID, &c.TenantID, &c.AppID, &c.Issuer, &c.JWKSURL, &perms, &c.GrantedBy, &at); err != nil {
			return nil, err
		}
		c.Permissions, c.GrantedAt = splitList(perms), db.Time(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// RevokeConsent removes the tenant's consent for an app.
func (x *Directory) RevokeConsent(ctx context.Context, tenantID, appID string) error {
	id, err := ParseGUID("AppId", appID)
	if err != nil {
		return err
	}
	return x.d.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE tenant_id = ? AND app_id = ?`, tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("AppNotConsented", "this tenant has not consented to app %s", appID).WithObject(appID)
		}
		return nil
	})
}

// ClientTenant implements identity.Clients: the tenant ref names, by id,
// name (any case), accepted domain or initial domain; "" when none.
func (x *Directory) ClientTenant(ctx context.Context, ref string) (string, error) {
	q := x.d.Read()
	for _, query := range []string{
		`SELECT id FROM tenants WHERE id = ?`,
		`SELECT id FROM tenants WHERE name = ?`,
		`SELECT id FROM tenants WHERE lower(name) = lower(?)`,
		`SELECT tenant_id FROM domains WHERE domain = lower(?)`,
		`SELECT id FROM tenants WHERE initial_domain = lower(?)`,
	} {
		var id string
		err := q.QueryRowContext(ctx, query, ref).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !db.IsNoRows(err) {
			return "", err
		}
	}
	return "", nil
}

// ClientApp implements identity.Clients.
func (x *Directory) ClientApp(ctx context.Context, appID string) (tenantID, perms string, found bool, err error) {
	err = x.d.Read().QueryRowContext(ctx, `SELECT tenant_id, permissions FROM apps WHERE app_id = ?`, appID).Scan(&tenantID, &perms)
	if db.IsNoRows(err) {
		return "", "", false, nil
	}
	return tenantID, perms, err == nil, err
}

// ClientSecrets implements identity.Clients.
func (x *Directory) ClientSecrets(ctx context.Context, tenantID, appID string) ([]identity.ClientSecret, error) {
	rows, err := x.d.Read().QueryContext(ctx, `SELECT secret_hash, hint, expires_at FROM app_secrets WHERE app_id = ? AND tenant_id = ?`, appID, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []identity.ClientSecret
	for rows.Next() {
		var cs identity.ClientSecret
		var exp int64
		if err := rows.Scan(&cs.Hash, &cs.Hint, &exp); err != nil {
			return nil, err
		}
		cs.Expires = db.Time(exp)
		out = append(out, cs)
	}
	return out, rows.Err()
}

var _ identity.Clients = (*Directory)(nil)
