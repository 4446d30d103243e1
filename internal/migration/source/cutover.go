package source

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/failpoint"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// setState moves the mailbox to state unless it is retired, and returns
// the lock reply with the HighestModSeq after the change.
func (m *Mailbox) setState(ctx context.Context, state mailstore.MailboxState) (*replication.LockReply, error) {
	mb, err := m.c.Store.MailboxByID(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	if mb.State != state && mb.State != mailstore.StateRetired {
		if err := m.c.Store.SetMailboxState(ctx, m.mb.ID, state); err != nil {
			return nil, err
		}
		mb.State = state
	}
	high, err := m.c.Store.HighestModSeq(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	return &replication.LockReply{State: string(mb.State), HighestModSeq: high, At: time.Now().UTC()}, nil
}

// Lock makes the mailbox read-only and holds new deliveries (see
// replication.NativeSource.Lock), for the registered move moveID, which
// then holds the lock. A converted source's content is retired, which
// locking leaves as it is.
func (c *Core) Lock(ctx context.Context, m *Mailbox, moveID string) (*replication.LockReply, error) {
	reg, err := c.movingRegistration(ctx, c.Dir.DB().Read(), m, moveID)
	if err != nil {
		return nil, err
	}
	if m.rec.Type != directory.UserMailbox || reg.state == RegCompleted {
		return m.setState(ctx, mailstore.StateRetired)
	}
	if err := c.claimLock(ctx, m, reg); err != nil {
		return nil, err
	}
	failpoint.Hit("source.lock")
	c.Log.Info("replication: source mailbox locked for completion", "tenant", m.grant.Tenant.Name, "mailbox", m.rec.PrimarySmtpAddress,
		"kind", m.kind, "app", m.grant.Claims.AppID, "move", moveID)
	rep, err := m.setState(ctx, mailstore.StateLocked)
	if err != nil {
		return nil, err
	}
	// A source admin who cancelled the move meanwhile gave back what was
	// locked before; give back what this call locked after.
	if _, err := c.movingRegistration(ctx, c.Dir.DB().Read(), m, moveID); errors.Is(err, ErrMoveNotRegistered) {
		if uerr := c.unlockRecipient(ctx, m.grant.Tenant.ID, m.rec.ID); uerr != nil {
			return nil, uerr
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	return rep, nil
}

// Unlock gives a locked mailbox back and releases the mail held for it,
// for the registered move moveID. An unlocked mailbox is left as it is for
// any caller that passed checks 1–4 (so a target whose move was cancelled
// can end its completion); a mailbox another move locked is refused.
func (c *Core) Unlock(ctx context.Context, m *Mailbox, moveID string) (*replication.LockReply, error) {
	if m.rec.Type != directory.UserMailbox {
		return nil, ErrAlreadyFinalized.Newf("source %s was already converted to a MailUser and cannot be unlocked", m.rec.PrimarySmtpAddress)
	}
	locked, err := m.locked(ctx)
	if err != nil {
		return nil, err
	}
	q := c.Dir.DB().Read()
	reg, err := c.movingRegistration(ctx, q, m, moveID)
	if !locked && (err == nil || errors.Is(err, ErrMoveNotRegistered)) {
		return m.setState(ctx, mailstore.StateActive)
	}
	if err != nil {
		return nil, err
	}
	h, err := lockHolder(ctx, q, m.grant.Tenant.ID, m.rec.ID)
	if err != nil {
		return nil, err
	}
	if h != nil && h.id != reg.id {
		return nil, ErrSourceLockedByAnotherMove.Newf("source %s is locked by another move (of tenant %s)", m.rec.PrimarySmtpAddress, h.targetTenantID).
			WithObject(m.rec.PrimarySmtpAddress)
	}
	rep, err := m.setState(ctx, mailstore.StateActive)
	if err == nil && c.Releaser != nil {
		err = c.Releaser.Release(ctx, m.grant.Tenant.ID, m.mb.GUID)
	}
	if err != nil {
		return nil, err
	}
	if reg.lockedAt != 0 {
		// The move gives up its hold; the other mailbox of the recipient
		// (archive) may still be locked, which its own unlock (by this
		// move, the only registered one that may) gives back.
		err = c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE move_registrations SET locked_at = 0, updated_at = ? WHERE id = ?`, db.Now(), reg.id)
			return err
		})
	}
	return rep, err
}

// Finalize converts the source UserMailbox into a MailUser forwarding to
// the target, retires its content (primary and archive) and releases held
// mail, which now routes to the target. Only the registered move that
// holds the lock may finalize, and only into its delivery domain, which
// the caller's token must still prove. The conversion and the
// registration's Completed state commit together; repeating Finalize is
// harmless.
func (c *Core) Finalize(ctx context.Context, m *Mailbox, req replication.FinalizeRequest) (*replication.LockReply, error) {
	if m.kind != mailstore.KindPrimary {
		return nil, ErrGuidRequired.Newf("finalize addresses the primary mailbox (ExchangeGuid)")
	}
	reg, err := c.movingRegistration(ctx, c.Dir.DB().Read(), m, req.MoveId)
	if err != nil {
		return nil, err
	}
	fwd, err := directory.ParseSMTP("ExternalEmailAddress", req.ExternalEmailAddress)
	if err != nil {
		return nil, err
	}
	if d := fwd[strings.LastIndexByte(fwd, '@')+1:]; d != reg.domain {
		return nil, ErrForwardingOutsideDeliveryDomain.Newf("forwarding address %s is outside the move's target delivery domain %s", fwd, reg.domain).
			WithHint("the converted source forwards only to the target's address in the delivery domain registered for the move").WithObject(fwd)
	}
	if err := c.proveDomain(ctx, m.grant, reg.domain); err != nil {
		return nil, err
	}
	if reg.state == RegRegistered && reg.lockedAt == 0 {
		return nil, ErrSourceNotLocked.Newf("the move %s has not locked source %s", req.MoveId, m.rec.PrimarySmtpAddress).
			WithHint("lock the source first: its final sync must run under the lock").WithObject(m.rec.PrimarySmtpAddress)
	}
	t := m.grant.Tenant
	err = c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		if _, err := c.Dir.ConvertToMailUser(ctx, tx, t.ID, m.rec.ID, fwd, req.TargetLegacyExchangeDN); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE move_registrations SET state = ?, locked_at = 0, updated_at = ? WHERE id = ? AND state IN (?, ?)`,
			RegCompleted, db.Now(), reg.id, RegRegistered, RegCompleted)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrMoveNotRegistered.Newf("the move %s of %s is no longer registered", req.MoveId, m.rec.PrimarySmtpAddress).WithObject(m.rec.PrimarySmtpAddress)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	failpoint.Hit("source.finalize.converted")
	for _, guid := range []string{m.rec.ExchangeGuid, m.rec.ArchiveGuid} {
		if guid == "" {
			continue
		}
		if mb, err := c.Store.Mailbox(ctx, t.ID, guid); err == nil && mb.State != mailstore.StateRetired {
			if err := c.Store.SetMailboxState(ctx, mb.ID, mailstore.StateRetired); err != nil {
				return nil, err
			}
		}
	}
	if c.Releaser != nil {
		if err := c.Releaser.Release(ctx, t.ID, m.rec.ExchangeGuid); err != nil {
			c.Log.Warn("releasing held mail failed; the queue retries it", "mailbox", m.rec.PrimarySmtpAddress, "err", err)
		}
	}
	c.Log.Info("replication: source mailbox converted to MailUser", "tenant", t.Name, "mailbox", m.rec.PrimarySmtpAddress,
		"forwards_to", fwd, "move", req.MoveId)
	return &replication.LockReply{State: string(mailstore.StateRetired), At: time.Now().UTC()}, nil
}
