package source

import (
	"context"
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
// replication.NativeSource.Lock). A converted source's content is
// retired, which locking leaves as it is.
func (c *Core) Lock(ctx context.Context, m *Mailbox) (*replication.LockReply, error) {
	if m.rec.Type != directory.UserMailbox {
		return m.setState(ctx, mailstore.StateRetired)
	}
	failpoint.Hit("source.lock")
	c.Log.Info("replication: source mailbox locked for completion", "tenant", m.grant.Tenant.Name, "mailbox", m.rec.PrimarySmtpAddress,
		"kind", m.kind, "app", m.grant.Claims.AppID)
	return m.setState(ctx, mailstore.StateLocked)
}

// Unlock gives a locked mailbox back and releases the mail held for it.
func (c *Core) Unlock(ctx context.Context, m *Mailbox) (*replication.LockReply, error) {
	if m.rec.Type != directory.UserMailbox {
		return nil, ErrAlreadyFinalized.Newf("source %s was already converted to a MailUser and cannot be unlocked", m.rec.PrimarySmtpAddress)
	}
	rep, err := m.setState(ctx, mailstore.StateActive)
	if err == nil && c.Releaser != nil {
		err = c.Releaser.Release(ctx, m.grant.Tenant.ID, m.mb.GUID)
	}
	return rep, err
}

// Finalize converts the source UserMailbox into a MailUser forwarding to
// the target, retires its content (primary and archive) and releases held
// mail, which now routes to the target. Repeating it is harmless.
func (c *Core) Finalize(ctx context.Context, m *Mailbox, req replication.FinalizeRequest) (*replication.LockReply, error) {
	if m.kind != mailstore.KindPrimary {
		return nil, ErrGuidRequired.Newf("finalize addresses the primary mailbox (ExchangeGuid)")
	}
	t := m.grant.Tenant
	err := c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		_, err := c.Dir.ConvertToMailUser(ctx, tx, t.ID, m.rec.ID, req.ExternalEmailAddress, req.TargetLegacyExchangeDN)
		return err
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
		"forwards_to", req.ExternalEmailAddress)
	return &replication.LockReply{State: string(mailstore.StateRetired), At: time.Now().UTC()}, nil
}
