package directory

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Mailbox move capabilities of an organization relationship.
const (
	CapInbound        = "Inbound"
	CapOutbound       = "Outbound"
	CapRemoteInbound  = "RemoteInbound"
	CapRemoteOutbound = "RemoteOutbound"
)

var capabilities = []string{CapInbound, CapOutbound, CapRemoteInbound, CapRemoteOutbound}

// ParseCapabilities validates MailboxMoveCapability values (comma-separated
// lists are split) and returns them canonical, deduplicated, in a fixed order.
func ParseCapabilities(vals []string) ([]string, error) {
	set := map[string]bool{}
	for _, v := range vals {
		for _, p := range splitList(v) {
			found := false
			for _, c := range capabilities {
				if strings.EqualFold(p, c) {
					set[c], found = true, true
				}
			}
			if !found {
				return nil, errs.Invalidf("InvalidCapability", "mailbox move capability %q is not known", p).
					WithHint("use Inbound, Outbound, RemoteInbound or RemoteOutbound")
			}
		}
	}
	var out []string
	for _, c := range capabilities {
		if set[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// OrgRel is an organization relationship.
type OrgRel struct {
	ID                         string
	TenantID                   string
	Name                       string
	DomainNames                []string // partner tenant ids (or domains)
	Enabled                    bool
	MailboxMoveEnabled         bool
	MailboxMoveCapability      []string
	OAuthApplicationId         string
	MailboxMovePublishedScopes []string // group recipient ids
	// FreeBusyAccessEnabled shares free/busy times with the partner during
	// a migration: on a RemoteOutbound relationship the partner's app may
	// ask for those of the mailboxes in the published scope; on an Inbound
	// one this tenant's CalDAV free-busy queries for its stamped MailUsers
	// are answered by the partner.
	FreeBusyAccessEnabled bool
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// HasCapability reports whether the relationship grants capability c.
func (o *OrgRel) HasCapability(c string) bool {
	for _, x := range o.MailboxMoveCapability {
		if x == c {
			return true
		}
	}
	return false
}

// Matches reports whether the relationship names the partner tenant (by id
// or by one of the given domains).
func (o *OrgRel) Matches(tenantID string, domains ...string) bool {
	for _, d := range o.DomainNames {
		if strings.EqualFold(d, tenantID) {
			return true
		}
		for _, x := range domains {
			if strings.EqualFold(d, x) {
				return true
			}
		}
	}
	return false
}

// OrgRelSpec holds the settable fields; nil fields keep their value on set
// and take defaults on create.
type OrgRelSpec struct {
	Name                       string
	DomainNames                []string
	Enabled                    *bool
	MailboxMoveEnabled         *bool
	MailboxMoveCapability      []string
	OAuthApplicationId         *string
	MailboxMovePublishedScopes []string // group references; nil = keep
	FreeBusyAccessEnabled      *bool
}

func (x *Directory) applyOrgRel(ctx context.Context, tx *db.Tx, o *OrgRel, s OrgRelSpec) error {
	if s.DomainNames != nil {
		var dn []string
		for _, v := range s.DomainNames {
			for _, p := range splitList(v) {
				if g, err := ParseGUID("DomainNames", p); err == nil {
					dn = append(dn, g)
					continue
				}
				d, err := CheckDomain(p)
				if err != nil {
					return errs.Invalidf("InvalidDomainNames", "DomainNames entry %q is neither a tenant ID nor a domain", p).
						WithHint("pass the partner tenant's ID (tenantferry tenant show) with --domain-names")
				}
				dn = append(dn, d)
			}
		}
		if len(dn) == 0 {
			return errs.Invalidf("MissingField", "DomainNames is required").WithHint("pass --domain-names PARTNER_TENANT_ID")
		}
		o.DomainNames = dn
	}
	if s.Enabled != nil {
		o.Enabled = *s.Enabled
	}
	if s.FreeBusyAccessEnabled != nil {
		o.FreeBusyAccessEnabled = *s.FreeBusyAccessEnabled
	}
	if s.MailboxMoveEnabled != nil {
		o.MailboxMoveEnabled = *s.MailboxMoveEnabled
	}
	if s.MailboxMoveCapability != nil {
		caps, err := ParseCapabilities(s.MailboxMoveCapability)
		if err != nil {
			return err
		}
		o.MailboxMoveCapability = caps
	}
	if s.OAuthApplicationId != nil {
		id, err := ParseGUID("OAuthApplicationId", *s.OAuthApplicationId)
		if err != nil {
			return err
		}
		o.OAuthApplicationId = id
	}
	if s.MailboxMovePublishedScopes != nil {
		var ids []string
		for _, v := range s.MailboxMovePublishedScopes {
			for _, ref := range splitList(v) {
				g, err := x.getRecipient(ctx, tx, o.TenantID, ref)
				if err != nil {
					return errs.NotFoundf("ScopeGroupNotFound", "published scope %q is not a group of this tenant", ref).
						WithHint("create it with 'tenantferry group create --name %s --type security'", ref).WithObject(ref)
				}
				if g.Type != SecurityGroup {
					return errs.Invalidf("ScopeNotSecurityGroup", "published scope %q is a %s, not a mail-enabled security group", ref, g.Type).
						WithHint("use a group created with --type security").WithObject(ref)
				}
				ids = append(ids, g.ID)
			}
		}
		o.MailboxMovePublishedScopes = ids
	}
	if o.HasCapability(CapRemoteOutbound) && o.MailboxMoveEnabled && o.OAuthApplicationId == "" {
		return errs.Invalidf("MissingField", "a RemoteOutbound relationship needs OAuthApplicationId").
			WithHint("pass --oauth-app-id APPID of the target's migration app")
	}
	return nil
}

// CreateOrgRel creates an organization relationship in the tenant.
func (x *Directory) CreateOrgRel(ctx context.Context, tenantID string, s OrgRelSpec) (*OrgRel, error) {
	if err := CheckName("Name", s.Name); err != nil {
		return nil, err
	}
	if s.DomainNames == nil {
		return nil, errs.Invalidf("MissingField", "DomainNames is required").WithHint("pass --domain-names PARTNER_TENANT_ID")
	}
	now := db.Time(db.Now())
	o := &OrgRel{ID: newID(), TenantID: tenantID, Name: s.Name, Enabled: true, CreatedAt: now, UpdatedAt: now}
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		if err := x.applyOrgRel(ctx, tx, o, s); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO orgrels (id, tenant_id, name, name_key, domain_names, enabled, mailbox_move_enabled, capability,
			oauth_app_id, published_scopes, free_busy_access, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, tenantID, o.Name, strings.ToLower(o.Name), strings.Join(o.DomainNames, ","), o.Enabled, o.MailboxMoveEnabled,
			strings.Join(o.MailboxMoveCapability, ","), o.OAuthApplicationId, strings.Join(o.MailboxMovePublishedScopes, ","), o.FreeBusyAccessEnabled,
			db.Millis(now), db.Millis(now))
		if db.IsUnique(err) {
			return ErrOrgRelExists.Newf("an organization relationship named %q already exists", o.Name).
				WithHint("change it with 'tenantferry orgrel set %s' instead", o.Name)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// UpdateOrgRel changes an organization relationship.
func (x *Directory) UpdateOrgRel(ctx context.Context, tenantID, name string, s OrgRelSpec) (*OrgRel, error) {
	var o *OrgRel
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		var err error
		if o, err = x.getOrgRel(ctx, tx, tenantID, name); err != nil {
			return err
		}
		if err := x.applyOrgRel(ctx, tx, o, s); err != nil {
			return err
		}
		o.UpdatedAt = db.Time(db.Now())
		_, err = tx.ExecContext(ctx, `UPDATE orgrels SET domain_names = ?, enabled = ?, mailbox_move_enabled = ?, capability = ?, oauth_app_id = ?,
			published_scopes = ?, free_busy_access = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`,
			strings.Join(o.DomainNames, ","), o.Enabled, o.MailboxMoveEnabled, strings.Join(o.MailboxMoveCapability, ","), o.OAuthApplicationId,
			strings.Join(o.MailboxMovePublishedScopes, ","), o.FreeBusyAccessEnabled, db.Millis(o.UpdatedAt), o.ID, tenantID)
		return err
	})
	return o, err
}

const orgRelCols = `id, tenant_id, name, domain_names, enabled, mailbox_move_enabled, capability, oauth_app_id, published_scopes, free_busy_access,
	created_at, updated_at`

func scanOrgRel(sc interface{ Scan(...any) error }) (*OrgRel, error) {
	o := &OrgRel{}
	var dn, caps, scopes string
	var cr, up int64
	if err := sc.Scan(&o.ID, &o.TenantID, &o.Name, &dn, &o.Enabled, &o.MailboxMoveEnabled, &caps, &o.OAuthApplicationId, &scopes, &o.FreeBusyAccessEnabled, &cr, &up); err != nil {
		return nil, err
	}
	o.DomainNames, o.MailboxMoveCapability, o.MailboxMovePublishedScopes = splitList(dn), splitList(caps), splitList(scopes)
	o.CreatedAt, o.UpdatedAt = db.Time(cr), db.Time(up)
	return o, nil
}

// GetOrgRel returns the tenant's organization relationship by name or id.
func (x *Directory) GetOrgRel(ctx context.Context, tenantID, name string) (*OrgRel, error) {
	return x.getOrgRel(ctx, x.d.Read(), tenantID, name)
}

func (x *Directory) getOrgRel(ctx context.Context, q db.Querier, tenantID, name string) (*OrgRel, error) {
	o, err := (*OrgRel)(nil), sql.ErrNoRows
	if storable(name) {
		o, err = scanOrgRel(q.QueryRowContext(ctx, `SELECT `+orgRelCols+` FROM orgrels WHERE tenant_id = ? AND (name_key = ? OR id = ?)`,
			tenantID, strings.ToLower(name), name))
	}
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("OrgRelNotFound", "no organization relationship %q in this tenant", name).
			WithHint("list them with 'tenantferry orgrel list'").WithObject(name)
	}
	return o, err
}

// ListOrgRels lists the tenant's organization relationships.
func (x *Directory) ListOrgRels(ctx context.Context, tenantID string) ([]*OrgRel, error) {
	rows, err := x.d.Read().QueryContext(ctx, `SELECT `+orgRelCols+` FROM orgrels WHERE tenant_id = ? ORDER BY name_key`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*OrgRel
	for rows.Next() {
		o, err := scanOrgRel(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DeleteOrgRel removes an organization relationship.
func (x *Directory) DeleteOrgRel(ctx context.Context, tenantID, name string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		o, err := x.getOrgRel(ctx, tx, tenantID, name)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM orgrels WHERE id = ? AND tenant_id = ?`, o.ID, tenantID)
		return err
	})
}
