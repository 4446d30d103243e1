package directory

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Tenant is an organization hosted on the server.
type Tenant struct {
	ID            string
	Name          string
	InitialDomain string
	Domains       []string // accepted domains, initial domain first
	// Quota bounds the bytes of all the tenant's mailboxes together
	// (0: unlimited); see internal/quota.
	Quota     int64
	CreatedAt time.Time
}

// CheckTenantName validates a tenant name: a DNS label (it becomes the first
// label of the initial domain).
func CheckTenantName(name string) error {
	if name == "" {
		return errs.Invalidf("MissingField", "tenant name is required").WithHint("pass a name such as contoso")
	}
	if len(name) > 63 {
		return errs.Invalidf("NameTooLong", "tenant name %q is longer than 63 characters", name).
			WithHint("tenant names become DNS labels; use 63 characters or fewer")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errs.Invalidf("InvalidTenantName", "tenant name %q may only contain a-z, 0-9 and '-'", name).
				WithHint("tenant names become DNS labels such as contoso.tenantferry.test")
		}
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		return errs.Invalidf("InvalidTenantName", "tenant name %q may not start or end with '-'", name)
	}
	if g, err := ParseGUID("tenant name", name); err == nil && g == name {
		// Tenants are found by id or name: a GUID-shaped name would be
		// ambiguous with another tenant's id.
		return errs.Invalidf("InvalidTenantName", "tenant name %q has the form of a tenant ID", name).
			WithHint("choose a name such as contoso")
	}
	return nil
}

// CreateTenant creates a tenant with its initial domain NAME.SERVICEDOMAIN.
func (x *Directory) CreateTenant(ctx context.Context, name string) (*Tenant, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if err := CheckTenantName(name); err != nil {
		return nil, err
	}
	t := &Tenant{ID: newID(), Name: name, InitialDomain: name + "." + x.serviceDomain, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	t.Domains = []string{t.InitialDomain}
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tenants WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflictf("TenantExists", "a tenant named %q already exists", name).WithHint("choose another name")
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domains WHERE domain = ?`, t.InitialDomain).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflictf("DomainExists", "domain %s is already an accepted domain of another tenant", t.InitialDomain).
				WithHint("choose another tenant name")
		}
		now := db.Millis(t.CreatedAt)
		if _, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`, t.ID, name, t.InitialDomain, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (domain, tenant_id, is_initial, created_at, verified_by, verified_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.InitialDomain, t.ID, true, now, VerifiedByInitial, now)
		return err
	})
	if err != nil {
		if db.IsUnique(err) {
			return nil, errs.Conflictf("TenantExists", "a tenant named %q already exists", name)
		}
		return nil, err
	}
	return t, nil
}

// GetTenant finds a tenant by id, name or any accepted domain.
func (x *Directory) GetTenant(ctx context.Context, ref string) (*Tenant, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if ref == "" {
		return nil, errs.Invalidf("MissingField", "tenant is required").WithHint("pass --tenant NAME|ID|DOMAIN")
	}
	var t *Tenant
	err := sql.ErrNoRows
	if storable(ref) {
		// One statement: the reference resolved (by id, name or domain) and
		// the tenant's row joined with its domains.
		t, err = scanTenant(x.d.Read().QueryContext(ctx, `WITH ref(id) AS (
			SELECT id FROM tenants WHERE id = ? OR name = ?
			UNION SELECT tenant_id FROM domains WHERE domain = ? LIMIT 1)
		SELECT `+tenantDomainCols+` FROM ref JOIN tenants t ON t.id = ref.id
		LEFT JOIN domains d ON d.tenant_id = t.id ORDER BY d.is_initial DESC, d.domain`, ref, ref, ref))
	}
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("TenantNotFound", "tenant %q was not found", ref).
			WithHint("list tenants with 'tenantferry tenant list'")
	}
	return t, err
}

func (x *Directory) tenantByID(ctx context.Context, q db.Querier, id string) (*Tenant, error) {
	t, err := scanTenant(q.QueryContext(ctx, `SELECT `+tenantDomainCols+` FROM tenants t
		LEFT JOIN domains d ON d.tenant_id = t.id WHERE t.id = ? ORDER BY d.is_initial DESC, d.domain`, id))
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("TenantNotFound", "tenant %q was not found", id)
	}
	return t, err
}

// tenantDomainCols are the columns scanTenant reads: a tenant (t) joined
// with its domains (d), one row per domain.
const tenantDomainCols = `t.id, t.name, t.initial_domain, t.quota_bytes, t.created_at, d.domain`

// scanTenant reads a tenant from the rows of a tenantDomainCols query
// ordered by domain display order; no row gives sql.ErrNoRows.
func scanTenant(rows *sql.Rows, err error) (*Tenant, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var t *Tenant
	for rows.Next() {
		var created int64
		var domain sql.NullString
		row := &Tenant{}
		if err := rows.Scan(&row.ID, &row.Name, &row.InitialDomain, &row.Quota, &created, &domain); err != nil {
			return nil, err
		}
		if t == nil {
			t = row
			t.CreatedAt = db.Time(created)
		}
		if domain.Valid {
			t.Domains = append(t.Domains, domain.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if t == nil {
		return nil, sql.ErrNoRows
	}
	return t, nil
}

// SetTenantQuota sets the tenant's quota in bytes (0: unlimited).
func (x *Directory) SetTenantQuota(ctx context.Context, tenantID string, bytes int64) (*Tenant, error) {
	if err := checkQuota(bytes); err != nil {
		return nil, err
	}
	var t *Tenant
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET quota_bytes = ? WHERE id = ?`, bytes, tenantID); err != nil {
			return err
		}
		var err error
		t, err = x.tenantByID(ctx, tx, tenantID)
		return err
	})
	return t, err
}

// QuotaLimits returns the quota of the mailbox with the ExchangeGuid guid
// (its recipient's, a mailbox or the MailUser a move is filling; 0 when
// unlimited, when guid is an archive or when no recipient has it) and the
// tenant's quota (0: unlimited).
func (x *Directory) QuotaLimits(ctx context.Context, tenantID, guid string) (mailbox, tenant int64, err error) {
	err = x.d.Read().QueryRowContext(ctx, `SELECT quota_bytes,
		COALESCE((SELECT quota_bytes FROM recipients WHERE tenant_id = tenants.id AND exchange_guid = ?), 0)
		FROM tenants WHERE id = ?`, strings.ToLower(guid), tenantID).Scan(&tenant, &mailbox)
	if db.IsNoRows(err) {
		return 0, 0, ErrTenantNotFound.Newf("tenant %q was not found", tenantID)
	}
	return mailbox, tenant, err
}

// checkQuota validates a quota in bytes.
func checkQuota(bytes int64) error {
	if bytes < 0 {
		return ErrInvalidQuota.Newf("a quota of %d bytes is negative", bytes).
			WithHint("pass a size such as 2GB, or unlimited (0)")
	}
	return nil
}

// DeleteTenant removes a tenant and every directory object of it.
func (x *Directory) DeleteTenant(ctx context.Context, tenantID string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("TenantNotFound", "tenant %q was not found", tenantID)
		}
		// Rows without a foreign key to tenants.
		for _, t := range []string{"proxies", "group_members", "app_secrets"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE tenant_id = ?`, tenantID); err != nil {
				return err
			}
		}
		return nil
	})
}

func (x *Directory) listDomains(ctx context.Context, q db.Querier, tenantID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT domain FROM domains WHERE tenant_id = ? ORDER BY is_initial DESC, domain`, tenantID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// ListDomains lists a tenant's accepted domains, initial domain first.
func (x *Directory) ListDomains(ctx context.Context, tenantID string) ([]string, error) {
	return x.listDomains(ctx, x.d.Read(), tenantID)
}

// RemoveDomain removes an accepted domain, or a pending claim. The initial
// domain and domains still used by addresses cannot be removed.
func (x *Directory) RemoveDomain(ctx context.Context, tenantID, domain string) error {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if !storable(d) {
		return errs.NotFoundf("DomainNotFound", "domain %q is not an accepted domain of this tenant", d)
	}
	return x.d.Write(ctx, func(tx *db.Tx) error {
		if claimed, err := removeClaim(ctx, tx, tenantID, d); claimed || err != nil {
			return err
		}
		var initial bool
		err := tx.QueryRowContext(ctx, `SELECT is_initial FROM domains WHERE domain = ? AND tenant_id = ?`, d, tenantID).Scan(&initial)
		if db.IsNoRows(err) {
			return errs.NotFoundf("DomainNotFound", "domain %q is not an accepted domain of this tenant", d)
		}
		if err != nil {
			return err
		}
		if initial {
			return errs.Conflictf("DomainInUse", "domain %s is the tenant's initial domain and cannot be removed", d)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM proxies WHERE tenant_id = ? AND prefix = 'smtp' AND addr_key LIKE ?`, tenantID, "%@"+d).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflictf("DomainInUse", "domain %s is used by %d address(es)", d, n).
				WithHint("remove those addresses first")
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM domains WHERE domain = ? AND tenant_id = ?`, d, tenantID)
		return err
	})
}

// TenantOfDomain returns the tenant id that accepted a domain, or "".
func (x *Directory) TenantOfDomain(ctx context.Context, q db.Querier, domain string) (string, error) {
	if q == nil {
		q = x.d.Read()
	}
	if !storable(domain) {
		return "", nil
	}
	var id string
	err := q.QueryRowContext(ctx, `SELECT tenant_id FROM domains WHERE domain = ?`, strings.ToLower(domain)).Scan(&id)
	if db.IsNoRows(err) {
		return "", nil
	}
	return id, err
}

// Principal is who an admin token belongs to.
type Principal struct {
	TokenID  string
	Operator bool   // server-wide operator
	TenantID string // for tenant admins
	Name     string
}

// CreateAdminToken creates an API token that never expires: an operator
// token when tenantID is empty, else a tenant-admin token. The clear-text
// token is returned once; only its hash is stored.
func (x *Directory) CreateAdminToken(ctx context.Context, tenantID, name string) (string, error) {
	tok, _, err := x.IssueAdminToken(ctx, tenantID, name, time.Time{})
	return tok, err
}

// HasOperatorToken reports whether an operator token exists.
func (x *Directory) HasOperatorToken(ctx context.Context) (bool, error) {
	var n int
	err := x.d.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM admin_tokens WHERE tenant_id IS NULL`).Scan(&n)
	return n > 0, err
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
