package source

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Registration states.
const (
	RegRegistered = "Registered"
	RegCompleted  = "Completed"
	RegCancelled  = "Cancelled"
)

// registration is one row of move_registrations (owned by this package).
type registration struct {
	id, tenantID, recipientID, appID, targetTenantID, moveID, domain, state string
	lockedAt, createdAt, updatedAt                                          int64
}

const regCols = `id, tenant_id, recipient_id, app_id, target_tenant_id, move_id, target_delivery_domain, state, locked_at, created_at, updated_at`

func scanRegistration(sc interface{ Scan(...any) error }) (*registration, error) {
	var r registration
	err := sc.Scan(&r.id, &r.tenantID, &r.recipientID, &r.appID, &r.targetTenantID, &r.moveID, &r.domain, &r.state, &r.lockedAt, &r.createdAt, &r.updatedAt)
	return &r, err
}

// checkMoveID validates a target's move id: 1–128 characters of letters,
// digits, '-', '_' and '.'.
func checkMoveID(id string) error {
	ok := id != "" && len(id) <= 128
	for _, c := range id {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.')
	}
	if !ok {
		return ErrInvalidParameter.Newf("move id %q is not 1 to 128 letters, digits, '-', '_' or '.'", truncate(id, 64)).
			WithHint("send the target's move request id")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Register records the grant's app moving a source mailbox for the grant's
// tenant under the target's moveID (checks 1–4 ran for the mailbox). The
// delivery domain must be proven (see proveDomain). It is idempotent per
// moveID: a repeat updates the delivery domain of a Registered move and
// returns a Completed one as it is; a Cancelled one stays cancelled.
func (c *Core) Register(ctx context.Context, g *Grant, moveID string, req replication.RegisterRequest) (*replication.Registration, error) {
	if err := checkMoveID(moveID); err != nil {
		return nil, err
	}
	rec, err := c.recipient(ctx, g, strings.ToLower(strings.TrimSpace(req.Mailbox)), false)
	if err != nil {
		return nil, err
	}
	domain, err := directory.CheckDomain(req.TargetDeliveryDomain)
	if err != nil {
		return nil, err
	}
	if err := c.proveDomain(ctx, g, domain); err != nil {
		return nil, err
	}
	var reg *registration
	err = c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		cur, err := scanRegistration(tx.QueryRowContext(ctx, `SELECT `+regCols+` FROM move_registrations
			WHERE tenant_id = ? AND app_id = ? AND target_tenant_id = ? AND move_id = ?`, g.Tenant.ID, g.Claims.AppID, g.Claims.TenantID, moveID))
		now := db.Now()
		switch {
		case db.IsNoRows(err):
			reg = &registration{id: uuid.NewString(), tenantID: g.Tenant.ID, recipientID: rec.ID, appID: g.Claims.AppID, targetTenantID: g.Claims.TenantID,
				moveID: moveID, domain: domain, state: RegRegistered, createdAt: now, updatedAt: now}
			_, err = tx.ExecContext(ctx, `INSERT INTO move_registrations (`+regCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				reg.id, reg.tenantID, reg.recipientID, reg.appID, reg.targetTenantID, reg.moveID, reg.domain, reg.state, reg.lockedAt, reg.createdAt, reg.updatedAt)
			return err
		case err != nil:
			return err
		case cur.recipientID != rec.ID:
			return ErrMoveRegistrationConflict.Newf("move %s is registered for another mailbox of tenant %s", moveID, g.Tenant.Name).
				WithHint("a move id names one mailbox; use a new move (a new batch) for %s", rec.PrimarySmtpAddress)
		case cur.state == RegCancelled:
			return ErrMoveRegistrationCancelled.Newf("the move of %s (move %s) was cancelled by an admin of source tenant %s", rec.PrimarySmtpAddress, moveID, g.Tenant.Name).
				WithHint("ask the source admin why; a new batch on the target registers a new move")
		case cur.state == RegRegistered && cur.domain != domain:
			cur.domain, cur.updatedAt = domain, now
			_, err = tx.ExecContext(ctx, `UPDATE move_registrations SET target_delivery_domain = ?, updated_at = ? WHERE id = ?`, domain, now, cur.id)
		}
		reg = cur
		return err
	})
	if err != nil {
		return nil, err
	}
	c.Log.Info("replication: move registered", "tenant", g.Tenant.Name, "mailbox", rec.PrimarySmtpAddress, "app", g.Claims.AppID,
		"target_tenant", g.Claims.TenantID, "move", moveID, "delivery_domain", domain)
	return c.view(ctx, reg), nil
}

// Unregister deletes the registration of the grant's move moveID (the
// target removed its batch). A lock it held is given back, after the
// registration is gone (so the move cannot take it again). Unknown move
// ids are not an error.
func (c *Core) Unregister(ctx context.Context, g *Grant, moveID string) error {
	if err := checkMoveID(moveID); err != nil {
		return err
	}
	var gone *registration
	err := c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		reg, err := scanRegistration(tx.QueryRowContext(ctx, `SELECT `+regCols+` FROM move_registrations
			WHERE tenant_id = ? AND app_id = ? AND target_tenant_id = ? AND move_id = ?`, g.Tenant.ID, g.Claims.AppID, g.Claims.TenantID, moveID))
		if db.IsNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		gone = reg
		_, err = tx.ExecContext(ctx, `DELETE FROM move_registrations WHERE id = ?`, reg.id)
		return err
	})
	if err != nil || gone == nil {
		return err
	}
	c.Log.Info("replication: move unregistered by the target", "tenant", g.Tenant.Name, "move", moveID, "app", g.Claims.AppID)
	if gone.state == RegRegistered && gone.lockedAt != 0 {
		return c.unlockRecipient(ctx, gone.tenantID, gone.recipientID)
	}
	return nil
}

// proveDomain checks that domain belongs to the target tenant (the token's
// tid), as far as this server can know:
//   - a domain hosted on this server routes locally, so it must be an
//     accepted domain of the target tenant itself, and the token must come
//     from this server's own issuer for that tenant (only this server
//     speaks for its tenants);
//   - any other domain must be among the tenant_domains the target's
//     issuer — the one the source tenant consented to — signed into the
//     token.
func (c *Core) proveDomain(ctx context.Context, g *Grant, domain string) error {
	owner, err := c.Dir.TenantOfDomain(ctx, nil, domain)
	if err != nil {
		return err
	}
	if owner != "" {
		local := strings.EqualFold(strings.TrimRight(g.Claims.Issuer, "/"), identity.IssuerURL(c.PublicURL, owner))
		if owner == g.Claims.TenantID && local {
			return nil
		}
		return ErrDeliveryDomainNotProven.Newf("domain %s is hosted on this server for another tenant than the target tenant %s", domain, g.Claims.TenantID).
			WithHint("use the target tenant's own delivery domain as the batch's --target-delivery-domain").WithObject(domain)
	}
	for _, d := range g.Claims.Domains {
		if strings.EqualFold(d, domain) {
			return nil
		}
	}
	return ErrDeliveryDomainNotProven.Newf("the token of target tenant %s does not vouch for domain %s", g.Claims.TenantID, domain).
		WithHint("use an accepted domain of the target tenant as the batch's --target-delivery-domain; its server lists them in the token's tenant_domains claim").
		WithObject(domain)
}

// movingRegistration returns the registration of move moveID of the
// grant's app and tenant for the mailbox's recipient, when it is
// Registered or Completed; else ErrMoveNotRegistered.
func (c *Core) movingRegistration(ctx context.Context, q db.Querier, m *Mailbox, moveID string) (*registration, error) {
	notRegistered := func() error {
		return ErrMoveNotRegistered.Newf("migration app %s of tenant %s has no registered move of %s", m.grant.Claims.AppID, m.grant.Claims.TenantID, m.rec.PrimarySmtpAddress).
			WithHint("the target registers its move when the batch starts; the source admin lists and cancels registered moves with 'tenantferry move-registration list --tenant %s'", m.grant.Tenant.Name).
			WithObject(m.rec.PrimarySmtpAddress)
	}
	if checkMoveID(moveID) != nil {
		return nil, notRegistered()
	}
	reg, err := scanRegistration(q.QueryRowContext(ctx, `SELECT `+regCols+` FROM move_registrations
		WHERE tenant_id = ? AND app_id = ? AND target_tenant_id = ? AND move_id = ? AND recipient_id = ?`,
		m.grant.Tenant.ID, m.grant.Claims.AppID, m.grant.Claims.TenantID, moveID, m.rec.ID))
	if db.IsNoRows(err) || err == nil && reg.state == RegCancelled {
		return nil, notRegistered()
	}
	return reg, err
}

// lockHolder returns the registered move that holds the lock of a
// recipient's mailboxes, or nil.
func lockHolder(ctx context.Context, q db.Querier, tenantID, recipientID string) (*registration, error) {
	reg, err := scanRegistration(q.QueryRowContext(ctx, `SELECT `+regCols+` FROM move_registrations
		WHERE tenant_id = ? AND recipient_id = ? AND state = ? AND locked_at <> 0 ORDER BY locked_at LIMIT 1`, tenantID, recipientID, RegRegistered))
	if db.IsNoRows(err) {
		return nil, nil
	}
	return reg, err
}

// locked reports whether the mailbox's content is locked now.
func (m *Mailbox) locked(ctx context.Context) (bool, error) {
	mb, err := m.c.Store.MailboxByID(ctx, m.mb.ID)
	if err != nil {
		return false, err
	}
	return mb.State == mailstore.StateLocked, nil
}

// claimLock records that reg holds the lock of its mailbox. Another
// registered move holding it while the mailbox is locked is a conflict; a
// holder whose mailbox is not locked any more (an unlock interrupted
// between its two steps) is stale and loses it.
func (c *Core) claimLock(ctx context.Context, m *Mailbox, reg *registration) error {
	locked, err := m.locked(ctx)
	if err != nil {
		return err
	}
	return c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		h, err := lockHolder(ctx, tx, reg.tenantID, reg.recipientID)
		if err != nil {
			return err
		}
		if h != nil && h.id != reg.id {
			if locked {
				return ErrSourceLockedByAnotherMove.Newf("source %s is locked by another move (of tenant %s)", m.rec.PrimarySmtpAddress, h.targetTenantID).
					WithHint("wait until that move completes or is abandoned; the source admin sees it with 'tenantferry move-registration list --tenant %s'", m.grant.Tenant.Name).
					WithObject(m.rec.PrimarySmtpAddress)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE move_registrations SET locked_at = 0 WHERE id = ?`, h.id); err != nil {
				return err
			}
		}
		if reg.lockedAt != 0 {
			return nil
		}
		now := db.Now()
		res, err := tx.ExecContext(ctx, `UPDATE move_registrations SET locked_at = ?, updated_at = ? WHERE id = ? AND state = ?`, now, now, reg.id, RegRegistered)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrMoveNotRegistered.Newf("the move %s of %s is no longer registered", reg.moveID, m.rec.PrimarySmtpAddress).WithObject(m.rec.PrimarySmtpAddress)
		}
		reg.lockedAt = now
		return nil
	})
}

// unlockRecipient gives the locked mailboxes of a recipient back and
// releases the mail held for them — after the registration that held the
// lock was cancelled, removed or gave it up — unless another registered
// move holds the lock now.
func (c *Core) unlockRecipient(ctx context.Context, tenantID, recipientID string) error {
	if h, err := lockHolder(ctx, c.Dir.DB().Read(), tenantID, recipientID); err != nil || h != nil {
		return err
	}
	rec, err := c.Dir.GetRecipient(ctx, tenantID, recipientID)
	if errors.Is(err, directory.ErrRecipientNotFound) {
		return nil
	}
	if err != nil || rec.Type != directory.UserMailbox {
		return err
	}
	for _, guid := range []string{rec.ExchangeGuid, rec.ArchiveGuid} {
		if guid == "" {
			continue
		}
		mb, err := c.Store.Mailbox(ctx, tenantID, guid)
		if err != nil || mb.State != mailstore.StateLocked {
			continue
		}
		if err := c.Store.SetMailboxState(ctx, mb.ID, mailstore.StateActive); err != nil {
			return err
		}
		if c.Releaser != nil {
			if err := c.Releaser.Release(ctx, tenantID, guid); err != nil {
				c.Log.Warn("releasing held mail failed; the queue retries it", "mailbox", rec.PrimarySmtpAddress, "err", err)
			}
		}
	}
	return nil
}

// view renders a registration for the target (Register) and the source
// admin.
func (c *Core) view(ctx context.Context, r *registration) *replication.Registration {
	v := &replication.Registration{Id: r.id, MoveId: r.moveID, AppId: r.appID, TargetTenantId: r.targetTenantID, TargetDeliveryDomain: r.domain,
		State: r.state, SourceLocked: r.state == RegRegistered && r.lockedAt != 0,
		WhenCreated: db.Time(r.createdAt).UTC(), WhenChanged: db.Time(r.updatedAt).UTC()}
	if rec, err := c.Dir.GetRecipient(ctx, r.tenantID, r.recipientID); err == nil {
		v.Mailbox, v.ExchangeGuid = rec.PrimarySmtpAddress, rec.ExchangeGuid
	}
	return v
}

// Registrations lists the registered moves of a source tenant (every
// state), newest first. The caller authorized the tenant.
func (c *Core) Registrations(ctx context.Context, tenantID string) ([]*replication.Registration, error) {
	regs, err := c.registrations(ctx, `tenant_id = ? ORDER BY created_at DESC, id`, tenantID)
	return c.views(ctx, regs, err)
}

// views renders registrations (passing an error through).
func (c *Core) views(ctx context.Context, regs []*registration, err error) ([]*replication.Registration, error) {
	if err != nil {
		return nil, err
	}
	out := make([]*replication.Registration, 0, len(regs))
	for _, r := range regs {
		out = append(out, c.view(ctx, r))
	}
	return out, nil
}

func (c *Core) registrations(ctx context.Context, where string, args ...any) ([]*registration, error) {
	rows, err := c.Dir.DB().Read().QueryContext(ctx, `SELECT `+regCols+` FROM move_registrations WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*registration
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// findRegistrations resolves a source admin's reference in a tenant: a
// registration id, or a mailbox (address, alias or GUID), whose
// registrations it names.
func (c *Core) findRegistrations(ctx context.Context, tenantID, ref string) ([]*registration, error) {
	ref = strings.TrimSpace(ref)
	if _, err := uuid.Parse(ref); err == nil {
		regs, err := c.registrations(ctx, `tenant_id = ? AND id = ?`, tenantID, strings.ToLower(ref))
		if err != nil || len(regs) > 0 {
			return regs, err
		}
	}
	rec, err := c.Dir.GetRecipient(ctx, tenantID, ref)
	if errors.Is(err, directory.ErrRecipientNotFound) {
		rec, err = c.Dir.ByExchangeGuid(ctx, nil, tenantID, ref)
	}
	if err == nil {
		regs, err := c.registrations(ctx, `tenant_id = ? AND recipient_id = ? ORDER BY created_at DESC, id`, tenantID, rec.ID)
		if err != nil || len(regs) > 0 {
			return regs, err
		}
	} else if !errors.Is(err, directory.ErrRecipientNotFound) {
		return nil, err
	}
	return nil, ErrMoveRegistrationNotFound.Newf("no registered move %q in this tenant", truncate(ref, 128)).
		WithHint("list them with 'tenantferry move-registration list'").WithObject(ref)
}

// Registration returns the registered moves a source admin's reference
// names (a registration id, or a mailbox). The caller authorized the
// tenant.
func (c *Core) Registration(ctx context.Context, tenantID, ref string) ([]*replication.Registration, error) {
	regs, err := c.findRegistrations(ctx, tenantID, ref)
	return c.views(ctx, regs, err)
}

// CancelRegistration cancels the registered moves a source admin's
// reference names (a registration id, or every Registered move of a
// mailbox): from then on their app can no longer lock, unlock or finalize
// the mailbox, and the target cannot register that move again. A lock a
// cancelled move held is given back and the held mail released. Cancelling
// a cancelled move changes nothing; a completed one cannot be cancelled.
// The caller authorized the tenant.
func (c *Core) CancelRegistration(ctx context.Context, tenantID, ref string) ([]*replication.Registration, error) {
	regs, err := c.findRegistrations(ctx, tenantID, ref)
	if err != nil {
		return nil, err
	}
	var out []*replication.Registration
	for _, r := range regs {
		switch r.state {
		case RegCompleted:
			if len(regs) == 1 {
				return nil, ErrMoveRegistrationCompleted.Newf("the move %s of %s completed on %s and cannot be cancelled", r.id, c.view(ctx, r).Mailbox,
					db.Time(r.updatedAt).UTC().Format(time.RFC3339)).WithObject(r.id)
			}
			continue
		case RegRegistered:
			held := false
			err := c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
				cur, err := scanRegistration(tx.QueryRowContext(ctx, `SELECT `+regCols+` FROM move_registrations WHERE id = ?`, r.id))
				if err != nil {
					return err
				}
				if cur.state != RegRegistered {
					r.state = cur.state // completed or cancelled meanwhile
					return nil
				}
				held = cur.lockedAt != 0
				r.state, r.lockedAt, r.updatedAt = RegCancelled, 0, db.Now()
				_, err = tx.ExecContext(ctx, `UPDATE move_registrations SET state = ?, locked_at = 0, updated_at = ? WHERE id = ? AND state = ?`,
					RegCancelled, r.updatedAt, r.id, RegRegistered)
				return err
			})
			if err != nil {
				return nil, err
			}
			c.Log.Info("replication: registered move cancelled by the source admin", "tenant", tenantID, "registration", r.id, "move", r.moveID)
			if held {
				if err := c.unlockRecipient(ctx, r.tenantID, r.recipientID); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, c.view(ctx, r))
	}
	return out, nil
}
