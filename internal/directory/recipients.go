package directory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// RecipientType is the Exchange RecipientTypeDetails of a recipient.
type RecipientType string

// Recipient types.
const (
	UserMailbox       RecipientType = "UserMailbox"
	MailUser          RecipientType = "MailUser"
	SecurityGroup     RecipientType = "MailUniversalSecurityGroup"
	DistributionGroup RecipientType = "MailUniversalDistributionGroup"
)

// IsGroup reports whether the type is a group type.
func (t RecipientType) IsGroup() bool { return t == SecurityGroup || t == DistributionGroup }

// Recipient is a mail-enabled object of a tenant.
type Recipient struct {
	ID                   string
	TenantID             string
	Type                 RecipientType
	Name                 string
	Alias                string
	DisplayName          string
	FirstName            string
	LastName             string
	PrimarySmtpAddress   string
	UserPrincipalName    string
	ExchangeGuid         string
	ArchiveGuid          string
	LegacyExchangeDN     string
	ExternalEmailAddress string
	Proxies              []Proxy
	HasPassword          bool
	// Shared marks a UserMailbox as a shared mailbox (RecipientTypeDetails
	// SharedMailbox): it has no password; people reach it through mailbox
	// permissions (FullAccess, SendAs).
	Shared bool
	// Quota is the mailbox's ProhibitSendReceiveQuota in bytes (0:
	// unlimited): its primary mailbox may not grow past it (internal/quota).
	// On a MailUser it bounds the mailbox a move brings it.
	Quota     int64
	CreatedAt time.Time
	UpdatedAt time.Time

	passwordHash string
}

// TypeDetails is the recipient's Exchange RecipientTypeDetails: its type,
// or SharedMailbox for a shared mailbox.
func (r *Recipient) TypeDetails() string {
	if r.Type == UserMailbox && r.Shared {
		return "SharedMailbox"
	}
	return string(r.Type)
}

// EmailAddresses returns the proxies as Exchange prints them.
func (r *Recipient) EmailAddresses() []string {
	out := make([]string, len(r.Proxies))
	for i, p := range r.Proxies {
		out[i] = p.String()
	}
	return out
}

// X500 returns the recipient's X500 proxy addresses (without prefix).
func (r *Recipient) X500() []string {
	var out []string
	for _, p := range r.Proxies {
		if p.Prefix == "x500" {
			out = append(out, p.Address)
		}
	}
	return out
}

// SMTPAddresses returns all SMTP proxy addresses, primary first.
func (r *Recipient) SMTPAddresses() []string {
	var out []string
	for _, p := range r.Proxies {
		if p.Prefix == "smtp" {
			out = append(out, p.Address)
		}
	}
	return out
}

// CheckPassword verifies a login password (false when the recipient has none).
func (r *Recipient) CheckPassword(password string) bool {
	return r.passwordHash != "" && identity.CheckPassword(r.passwordHash, password)
}

// RecipientSpec describes a recipient to create. Empty optional fields get
// defaults: Name = Alias, PrimarySmtp = Alias@initial domain.
type RecipientSpec struct {
	Type          RecipientType
	Name          string
	Alias         string
	DisplayName   string
	FirstName     string
	LastName      string
	PrimarySmtp   string
	Password      string
	Archive       bool   // UserMailbox: create an archive (new ArchiveGuid)
	Shared        bool   // UserMailbox: a shared mailbox (no password of its own)
	ExchangeGuid  string // MailUser (stamped for a move); UserMailbox: generated when empty
	ArchiveGuid   string // MailUser
	ExternalEmail string // MailUser: required
	AddAddresses  []string
}

// legacyDN builds an Exchange-like LegacyExchangeDN.
func legacyDN(tenantName, alias string) string {
	return fmt.Sprintf("/o=%s/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=%s-%s",
		tenantName, strings.ReplaceAll(newID(), "-", ""), strings.ToLower(alias))
}

// CreateRecipient creates a UserMailbox, MailUser or group.
func (x *Directory) CreateRecipient(ctx context.Context, tenantID string, s RecipientSpec) (*Recipient, error) {
	if err := CheckAlias(s.Alias); err != nil {
		return nil, err
	}
	if s.Name == "" {
		s.Name = s.Alias
	}
	if err := CheckName("Name", s.Name); err != nil {
		return nil, err
	}
	for f, v := range map[string]string{"DisplayName": s.DisplayName, "FirstName": s.FirstName, "LastName": s.LastName} {
		if err := CheckDisplayName(f, v); err != nil {
			return nil, err
		}
	}
	if s.DisplayName == "" {
		s.DisplayName = s.Name
	}
	var err error
	r := &Recipient{ID: newID(), TenantID: tenantID, Type: s.Type, Name: s.Name, Alias: s.Alias,
		DisplayName: s.DisplayName, FirstName: s.FirstName, LastName: s.LastName}
	switch s.Type {
	case UserMailbox:
		switch {
		case s.Shared && s.Password != "":
			return nil, ErrSharedMailboxPassword.Newf("shared mailbox %s cannot have a password", s.Alias).WithObject(s.Alias).
				WithHint("leave out the password; grant people access with `mailbox permission add %s --user ADDRESS --access-rights FullAccess`", s.Alias)
		case !s.Shared && s.Password == "":
			return nil, errs.Invalidf("MissingField", "a password is required for mailbox %s", s.Alias).
				WithHint("pass --password or --password-file (or --type shared for a shared mailbox)")
		}
		r.Shared = s.Shared
		if r.ExchangeGuid, err = ParseGUID("ExchangeGuid", s.ExchangeGuid); err != nil {
			return nil, err
		}
		if r.ExchangeGuid == "" {
			r.ExchangeGuid = newID()
		}
		if s.Archive {
			r.ArchiveGuid = newID()
		}
	case MailUser:
		if r.ExchangeGuid, err = ParseGUID("ExchangeGuid", s.ExchangeGuid); err != nil {
			return nil, err
		}
		if r.ArchiveGuid, err = ParseGUID("ArchiveGuid", s.ArchiveGuid); err != nil {
			return nil, err
		}
		if r.ExternalEmailAddress, err = ParseSMTP("ExternalEmailAddress", strings.TrimPrefix(strings.TrimPrefix(s.ExternalEmail, "SMTP:"), "smtp:")); err != nil {
			return nil, err
		}
	case SecurityGroup, DistributionGroup:
		if s.Password != "" {
			// Nobody logs in as a group.
			return nil, errs.Invalidf("InvalidForRecipientType", "a group cannot have a password")
		}
	default:
		return nil, errs.Invalidf("InvalidRecipientType", "unknown recipient type %q", s.Type)
	}
	if s.Password != "" {
		if len(s.Password) > 256 {
			return nil, errs.Invalidf("InvalidPassword", "the password is longer than 256 characters")
		}
		if r.passwordHash, err = identity.HashPassword(s.Password); err != nil {
			return nil, err
		}
		r.HasPassword = true
	}
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		t, err := x.tenantByID(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		if s.PrimarySmtp == "" {
			s.PrimarySmtp = s.Alias + "@" + t.InitialDomain
		}
		primary, err := ParseSMTP("PrimarySmtpAddress", strings.TrimPrefix(strings.TrimPrefix(s.PrimarySmtp, "SMTP:"), "smtp:"))
		if err != nil {
			return err
		}
		proxies, err := mergeProxies(nil, append([]string{"SMTP:" + primary}, s.AddAddresses...), nil)
		if err != nil {
			return err
		}
		// The explicitly given primary stays primary even if an added
		// address was marked "SMTP:".
		for i := range proxies {
			proxies[i].Primary = proxies[i].Prefix == "smtp" && strings.EqualFold(proxies[i].Address, primary)
		}
		r.Proxies = proxies
		r.PrimarySmtpAddress = primary
		r.UserPrincipalName = primary
		r.LegacyExchangeDN = legacyDN(t.Name, s.Alias)
		if err := x.checkUnique(ctx, tx, r); err != nil {
			return err
		}
		if err := x.checkProxiesAvailable(ctx, tx, tenantID, r.ID, proxies); err != nil {
			return err
		}
		now := db.Now()
		r.CreatedAt, r.UpdatedAt = db.Time(now), db.Time(now)
		_, err = tx.ExecContext(ctx, `INSERT INTO recipients (id, tenant_id, type, name, name_key, alias, alias_key, display_name, first_name, last_name,
			primary_smtp, upn, exchange_guid, archive_guid, legacy_dn, external_email, password_hash, created_at, updated_at, shared)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, tenantID, string(r.Type), r.Name, strings.ToLower(r.Name), r.Alias, strings.ToLower(r.Alias), r.DisplayName, r.FirstName, r.LastName,
			r.PrimarySmtpAddress, r.UserPrincipalName, nullStr(r.ExchangeGuid), nullStr(r.ArchiveGuid), r.LegacyExchangeDN, nullStr(r.ExternalEmailAddress),
			nullStr(r.passwordHash), now, now, r.Shared)
		if err != nil {
			if db.IsUnique(err) {
				return errs.Conflictf("RecipientExists", "a recipient with name %q or alias %q already exists", r.Name, r.Alias)
			}
			return err
		}
		return replaceProxies(ctx, tx, tenantID, r.ID, proxies)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checkUnique refuses duplicate names, aliases and GUIDs within the tenant.
func (x *Directory) checkUnique(ctx context.Context, tx *db.Tx, r *Recipient) error {
	var other string
	err := tx.QueryRowContext(ctx, `SELECT name FROM recipients WHERE tenant_id = ? AND id <> ? AND (name_key = ? OR alias_key = ?)`,
		r.TenantID, r.ID, strings.ToLower(r.Name), strings.ToLower(r.Alias)).Scan(&other)
	if err == nil {
		return errs.Conflictf("RecipientExists", "a recipient with name %q or alias %q already exists (%s)", r.Name, r.Alias, other).
			WithHint("choose another name or alias")
	}
	if !db.IsNoRows(err) {
		return err
	}
	for _, g := range []struct{ field, v string }{{"ExchangeGuid", r.ExchangeGuid}, {"ArchiveGuid", r.ArchiveGuid}} {
		if g.v == "" {
			continue
		}
		err := tx.QueryRowContext(ctx, `SELECT name FROM recipients WHERE tenant_id = ? AND id <> ? AND (exchange_guid = ? OR archive_guid = ?)`,
			r.TenantID, r.ID, g.v, g.v).Scan(&other)
		if err == nil {
			return errs.Conflictf("GuidInUse", "%s %s is already used by recipient %q", g.field, g.v, other).WithObject(g.v)
		}
		if !db.IsNoRows(err) {
			return err
		}
	}
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const recipientCols = `id, tenant_id, type, name, alias, display_name, first_name, last_name, primary_smtp, upn,
	exchange_guid, archive_guid, legacy_dn, external_email, password_hash, created_at, updated_at, shared, quota_bytes`

func scanRecipient(sc interface{ Scan(...any) error }) (*Recipient, error) {
	r := &Recipient{}
	var typ string
	var eg, ag, ldn, ext, pw sql.NullString
	var created, updated int64
	if err := sc.Scan(&r.ID, &r.TenantID, &typ, &r.Name, &r.Alias, &r.DisplayName, &r.FirstName, &r.LastName,
		&r.PrimarySmtpAddress, &r.UserPrincipalName, &eg, &ag, &ldn, &ext, &pw, &created, &updated, &r.Shared, &r.Quota); err != nil {
		return nil, err
	}
	r.Type = RecipientType(typ)
	r.ExchangeGuid, r.ArchiveGuid, r.LegacyExchangeDN, r.ExternalEmailAddress = eg.String, ag.String, ldn.String, ext.String
	r.passwordHash = pw.String
	r.HasPassword = pw.String != ""
	r.CreatedAt, r.UpdatedAt = db.Time(created), db.Time(updated)
	return r, nil
}

// recipientNotFound is the error for an unknown recipient reference.
func recipientNotFound(ref string) error {
	return errs.NotFoundf("RecipientNotFound", "no recipient %q was found in this tenant", ref).
		WithHint("check the alias, address or GUID; list recipients with 'tenantferry mailbox list'").WithObject(ref)
}

// GetRecipient finds a recipient of the tenant by id, ExchangeGuid, SMTP
// address, alias or name. When types are given, a recipient of another type
// is reported as not found.
func (x *Directory) GetRecipient(ctx context.Context, tenantID, ref string, types ...RecipientType) (*Recipient, error) {
	return x.getRecipient(ctx, x.d.Read(), tenantID, ref, types...)
}

func (x *Directory) getRecipient(ctx context.Context, q db.Querier, tenantID, ref string, types ...RecipientType) (*Recipient, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errs.Invalidf("MissingField", "a recipient identity is required")
	}
	if !storable(ref) {
		return nil, recipientNotFound(ref)
	}
	key := strings.ToLower(ref)
	key = strings.TrimPrefix(strings.TrimPrefix(key, "smtp:"), "x500:")
	// Each lookup yields at most one recipient; recipientWithProxies joins
	// its proxies in the same statement.
	var query string
	var args []any
	switch {
	case strings.Contains(key, "@"):
		query = `SELECT ` + recipientCols + ` FROM recipients WHERE tenant_id = ? AND id IN
			(SELECT recipient_id FROM proxies WHERE prefix = 'smtp' AND addr_key = ? AND tenant_id = ?) LIMIT 1`
		args = []any{tenantID, key, tenantID}
	case strings.HasPrefix(key, "/o="):
		query = `SELECT ` + recipientCols + ` FROM recipients WHERE tenant_id = ? AND (lower(legacy_dn) = ? OR id IN
			(SELECT recipient_id FROM proxies WHERE prefix = 'x500' AND addr_key = ? AND tenant_id = ?)) LIMIT 1`
		args = []any{tenantID, key, key, tenantID}
	default:
		// One indexed lookup per kind of reference, in order of
		// preference (an OR of them scans the tenant's recipients).
		query = `SELECT ` + recipientCols + ` FROM (
			SELECT ` + recipientCols + `, 0 AS pref FROM recipients WHERE tenant_id = ? AND id = ?
			UNION ALL SELECT ` + recipientCols + `, 1 FROM recipients WHERE tenant_id = ? AND alias_key = ?
			UNION ALL SELECT ` + recipientCols + `, 2 FROM recipients WHERE tenant_id = ? AND exchange_guid = ?
			UNION ALL SELECT ` + recipientCols + `, 3 FROM recipients WHERE tenant_id = ? AND name_key = ?) refs ORDER BY pref LIMIT 1`
		args = []any{tenantID, key, tenantID, key, tenantID, key, tenantID, key}
	}
	r, err := recipientWithProxies(ctx, q, query, args...)
	if db.IsNoRows(err) {
		return nil, recipientNotFound(ref)
	}
	if err != nil {
		return nil, err
	}
	if len(types) > 0 {
		ok := false
		for _, t := range types {
			ok = ok || r.Type == t
		}
		if !ok {
			return nil, errs.NotFoundf("RecipientNotFound", "%q is a %s, not a %s", ref, r.Type, types[0]).WithObject(ref)
		}
	}
	return r, nil
}

// RecipientUpdate holds the changes of a set command; nil fields stay.
type RecipientUpdate struct {
	DisplayName     *string
	FirstName       *string
	LastName        *string
	Password        *string
	ExchangeGuid    *string
	ArchiveGuid     *string
	ExternalEmail   *string
	Quota           *int64 // mailboxes only; 0: unlimited
	AddAddresses    []string
	RemoveAddresses []string
}

// UpdateRecipient applies a RecipientUpdate to a recipient of the tenant.
func (x *Directory) UpdateRecipient(ctx context.Context, tenantID, ref string, u RecipientUpdate, types ...RecipientType) (*Recipient, error) {
	var pwHash string
	if u.Password != nil {
		if *u.Password == "" || len(*u.Password) > 256 {
			return nil, errs.Invalidf("InvalidPassword", "the password must be 1 to 256 characters")
		}
		h, err := identity.HashPassword(*u.Password)
		if err != nil {
			return nil, err
		}
		pwHash = h
	}
	var out *Recipient
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		r, err := x.getRecipient(ctx, tx, tenantID, ref, types...)
		if err != nil {
			return err
		}
		if r.Shared && u.Password != nil {
			return ErrSharedMailboxPassword.Newf("shared mailbox %s cannot have a password", r.PrimarySmtpAddress).WithObject(r.PrimarySmtpAddress).
				WithHint("grant people access with `mailbox permission add %s --user ADDRESS --access-rights FullAccess`", r.Alias)
		}
		if err := x.applyUpdate(ctx, tx, r, u, pwHash); err != nil {
			return err
		}
		out, err = x.getRecipient(ctx, tx, tenantID, r.ID)
		return err
	})
	return out, err
}

func (x *Directory) applyUpdate(ctx context.Context, tx *db.Tx, r *Recipient, u RecipientUpdate, pwHash string) error {
	set := func(field string, dst *string, v *string) error {
		if v == nil {
			return nil
		}
		if err := CheckDisplayName(field, *v); err != nil {
			return err
		}
		*dst = *v
		return nil
	}
	if err := set("DisplayName", &r.DisplayName, u.DisplayName); err != nil {
		return err
	}
	if err := set("FirstName", &r.FirstName, u.FirstName); err != nil {
		return err
	}
	if err := set("LastName", &r.LastName, u.LastName); err != nil {
		return err
	}
	if u.ExchangeGuid != nil || u.ArchiveGuid != nil || u.ExternalEmail != nil {
		if r.Type != MailUser {
			return errs.Invalidf("InvalidForRecipientType", "ExchangeGuid, ArchiveGuid and ExternalEmailAddress can only be set on a MailUser; %s is a %s", r.Alias, r.Type)
		}
	}
	if u.Quota != nil {
		if r.Type != UserMailbox && r.Type != MailUser {
			return errs.Invalidf("InvalidForRecipientType", "a quota can only be set on a mailbox or a mail user (for the mailbox a move gives it); %s is a %s", r.Alias, r.Type)
		}
		if err := checkQuota(*u.Quota); err != nil {
			return err
		}
		r.Quota = *u.Quota
	}
	var err error
	if u.ExchangeGuid != nil {
		if r.ExchangeGuid, err = ParseGUID("ExchangeGuid", *u.ExchangeGuid); err != nil {
			return err
		}
	}
	if u.ArchiveGuid != nil {
		if r.ArchiveGuid, err = ParseGUID("ArchiveGuid", *u.ArchiveGuid); err != nil {
			return err
		}
	}
	if u.ExternalEmail != nil {
		if r.ExternalEmailAddress, err = ParseSMTP("ExternalEmailAddress", strings.TrimPrefix(strings.TrimPrefix(*u.ExternalEmail, "SMTP:"), "smtp:")); err != nil {
			return err
		}
	}
	if err := x.checkUnique(ctx, tx, r); err != nil {
		return err
	}
	if len(u.AddAddresses)+len(u.RemoveAddresses) > 0 {
		ps, err := mergeProxies(r.Proxies, u.AddAddresses, u.RemoveAddresses)
		if err != nil {
			return err
		}
		if err := x.checkProxiesAvailable(ctx, tx, r.TenantID, r.ID, ps); err != nil {
			return err
		}
		if err := replaceProxies(ctx, tx, r.TenantID, r.ID, ps); err != nil {
			return err
		}
		for _, p := range ps {
			if p.Prefix == "smtp" && p.Primary {
				r.PrimarySmtpAddress = p.Address
			}
		}
	}
	if pwHash != "" {
		if r.Type.IsGroup() {
			return errs.Invalidf("InvalidForRecipientType", "a group cannot have a password; %s is a %s", r.Alias, r.Type)
		}
		r.passwordHash = pwHash
	}
	_, err = tx.ExecContext(ctx, `UPDATE recipients SET display_name = ?, first_name = ?, last_name = ?, exchange_guid = ?, archive_guid = ?,
		external_email = ?, primary_smtp = ?, password_hash = ?, quota_bytes = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`,
		r.DisplayName, r.FirstName, r.LastName, nullStr(r.ExchangeGuid), nullStr(r.ArchiveGuid), nullStr(r.ExternalEmailAddress),
		r.PrimarySmtpAddress, nullStr(r.passwordHash), r.Quota, db.Now(), r.ID, r.TenantID)
	if db.IsUnique(err) {
		return errs.Conflictf("GuidInUse", "the GUID is already used by another recipient of this tenant")
	}
	return err
}

// DeleteRecipient removes a recipient (and its proxies and memberships).
func (x *Directory) DeleteRecipient(ctx context.Context, tenantID, ref string, types ...RecipientType) (*Recipient, error) {
	var r *Recipient
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		var err error
		if r, err = x.getRecipient(ctx, tx, tenantID, ref, types...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recipients WHERE id = ? AND tenant_id = ?`, r.ID, tenantID)
		return err
	})
	return r, err
}

// ResolveAddress finds the recipient that owns an SMTP address anywhere on
// the server (mail routing). It returns nil, nil when nobody does.
func (x *Directory) ResolveAddress(ctx context.Context, addr string) (*Recipient, error) {
	key := strings.ToLower(strings.TrimSpace(addr))
	if !storable(key) {
		return nil, nil
	}
	r, err := recipientWithProxies(ctx, x.d.Read(), `SELECT `+recipientCols+` FROM recipients WHERE id =
		(SELECT recipient_id FROM proxies WHERE prefix = 'smtp' AND addr_key = ?)`, key)
	if db.IsNoRows(err) {
		return nil, nil
	}
	return r, err
}

// ByExchangeGuid finds the tenant's recipient with the given ExchangeGuid or
// ArchiveGuid.
func (x *Directory) ByExchangeGuid(ctx context.Context, q db.Querier, tenantID, guid string) (*Recipient, error) {
	if q == nil {
		q = x.d.Read()
	}
	if !storable(guid) {
		return nil, recipientNotFound(guid)
	}
	r, err := recipientWithProxies(ctx, q, `SELECT `+recipientCols+` FROM recipients WHERE tenant_id = ? AND (exchange_guid = ? OR archive_guid = ?) LIMIT 1`,
		tenantID, strings.ToLower(guid), strings.ToLower(guid))
	if db.IsNoRows(err) {
		return nil, recipientNotFound(guid)
	}
	return r, err
}
