package delivery

import (
	"github.com/emersion/go-smtp"

	"context"
	"errors"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// OriginPrefix starts the mailstore origin key of a local delivery:
// OriginPrefix + the queue id.
const OriginPrefix = "dlv:"

// errMailboxUnavailable is the temporary failure for a mailbox that cannot
// take mail right now.
var errMailboxUnavailable = newErr(450, smtp.EnhancedCode{4, 2, 1}, "mailbox temporarily unavailable")

// deliverLocal appends the message to the Inbox of the target's primary
// mailbox, marking the row delivered in the same transaction; a locked
// mailbox holds the row instead.
func (s *Service) deliverLocal(ctx context.Context, r *rcptRow, m *msgRow, t *target) error {
	mb, err := s.store.Mailbox(ctx, t.rec.TenantID, t.rec.ExchangeGuid)
	if errors.Is(err, mailstore.ErrMailboxNotFound) {
		return errMailboxUnavailable.withCause(err)
	}
	if err != nil {
		return internal(err, "open mailbox")
	}
	if mb.State == mailstore.StateLocked || mb.State == mailstore.StateRetired {
		return s.hold(ctx, r, m, mb)
	}
	if err := s.quotaRefusal(ctx, t.rec, m.size); err != nil {
		return err // full: retried until it fits or expires; too large: bounced
	}
	var inbox *mailstore.Folder
	if m.junk { // DMARC quarantine
		inbox, err = s.store.FolderBySpecialUse(ctx, mb.ID, mailstore.UseJunk)
	}
	if !m.junk || errors.Is(err, mailstore.ErrFolderNotFound) {
		inbox, err = s.store.FolderBySpecialUse(ctx, mb.ID, mailstore.UseInbox)
	}
	if errors.Is(err, mailstore.ErrFolderNotFound) {
		inbox, err = s.store.FolderByPath(ctx, mb.ID, "Inbox")
	}
	if err != nil {
		return errMailboxUnavailable.withCause(err)
	}
	// The queue holds the bytes it received and hashed for this message:
	// the reference is ours, not a hash someone claims.
	item := mailstore.AppendItem{FolderID: inbox.ID, SHA256: m.sha256, Received: true, Origin: OriginPrefix + m.uid, InternalDate: time.UnixMilli(m.createdAt)}
	out, err := s.store.AppendMany(ctx, mb.ID, []mailstore.AppendItem{item}, func(tx *db.Tx) error {
		_, err := finish(ctx, tx, r.id, StateDelivered, mb.GUID)
		return err
	})
	switch {
	case errors.Is(err, mailstore.ErrMailboxLocked), errors.Is(err, mailstore.ErrMailboxRetired):
		return s.hold(ctx, r, m, mb)
	case errors.Is(err, mailstore.ErrItemTooLarge):
		return newErr(552, smtp.EnhancedCode{5, 2, 3}, "message exceeds the mailbox's maximum item size").withCause(err)
	case err != nil:
		return errMailboxUnavailable.withCause(err)
	}
	s.m.result(StateDelivered)
	s.log.Info("delivered", "id", m.uid, "rcpt", r.rcpt, "mailbox", mb.GUID, "uid", out[0].UID, "duplicate", out[0].Existing)
	return nil
}

// hold parks the row for a locked mailbox: in one transaction that locks
// the mailbox row, it checks that the mailbox is still locked and the
// recipient still routes to it, schedules a fresh job HoldRecheck from now,
// and marks the row held with that job's id. The current job then ends.
// A message past its expiry is not held but fails (and bounces).
func (s *Service) hold(ctx context.Context, r *rcptRow, m *msgRow, mb *mailstore.Mailbox) error {
	if time.Now().UnixMilli() >= m.expiresAt {
		return errMailboxUnavailable.withCause(errors.New("mailbox locked until the message expired"))
	}
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		// Locked on PostgreSQL: a state change waits for this hold, so
		// its Release sees it.
		st, found, err := mailstore.LockedState(ctx, tx, mb.TenantID, mb.GUID)
		if err != nil {
			return err
		}
		if !found || st != mailstore.StateLocked && st != mailstore.StateRetired {
			return errRetryNow
		}
		if t, err := s.route(ctx, r.rcpt, m.relay, r.depth); err != nil || t.kind != targetLocal || !strings.EqualFold(t.rec.ExchangeGuid, mb.GUID) {
			return errRetryNow // the recipient changed (a completed move): route again
		}
		res, err := s.jobs.InsertTx(ctx, tx, DeliverArgs{Recipient: r.id, Expires: m.expiresAt},
			&river.InsertOpts{Queue: jobs.QueueDelivery, ScheduledAt: time.Now().Add(s.HoldRecheck)})
		if err != nil {
			return err
		}
		u, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET state = 'held', held_tenant = ?, held_guid = ?, job_id = ?, updated_at = ?
			WHERE id = ? AND state IN `+openStates, mb.TenantID, mb.GUID, res.Job.ID, db.Now(), r.id)
		if err != nil {
			return err
		}
		if n, _ := u.RowsAffected(); n == 0 {
			return errAbort // finished meanwhile: drop the new job with the rollback
		}
		return nil
	})
	switch {
	case errors.Is(err, errRetryNow):
		return errRetryNow
	case errors.Is(err, errAbort):
		return nil
	case err != nil:
		return internal(err, "hold delivery")
	}
	s.m.result(StateHeld)
	s.log.Info("delivery held: mailbox locked", "id", m.uid, "rcpt", r.rcpt, "mailbox", mb.GUID)
	return errHeld
}

// Release makes the deliveries held for a mailbox run again now. The
// migration engine calls it after the commit that takes the mailbox out of
// the locked state (unlock, or convert the recipient and retire the
// mailbox); a held message then routes to wherever the recipient now
// points. Releasing a mailbox with nothing held does nothing. It runs its
// own transaction: never call it while holding one (use ReleaseTx).
func (s *Service) Release(ctx context.Context, tenantID, guid string) error {
	n := 0
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		var err error
		n, err = s.ReleaseTx(ctx, tx, tenantID, guid)
		return err
	})
	if err != nil {
		return internal(err, "release held mail")
	}
	if n > 0 {
		s.log.Info("held deliveries released", "tenant", tenantID, "mailbox", guid, "count", n)
	}
	return nil
}

// ReleaseTx is Release inside the caller's transaction, for a caller that
// changes the mailbox's state (or the recipient) in the same transaction:
// it must make that change before calling ReleaseTx. It returns how many
// deliveries it released; they run once tx commits.
func (s *Service) ReleaseTx(ctx context.Context, tx *db.Tx, tenantID, guid string) (int, error) {
	if s.jobs == nil {
		return 0, internal(errNotAttached, "release")
	}
	g := strings.ToLower(strings.Trim(strings.TrimSpace(guid), "{}"))
	rows, err := tx.QueryContext(ctx, `SELECT r.id, r.job_id, m.expires_at FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id
		WHERE r.state = 'held' AND r.held_tenant = ? AND r.held_guid = ?`, tenantID, g)
	if err != nil {
		return 0, err
	}
	type held struct{ id, job, expires int64 }
	var hs []held
	for rows.Next() {
		var h held
		if err := rows.Scan(&h.id, &h.job, &h.expires); err != nil {
			rows.Close()
			return 0, err
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for i, h := range hs {
		if _, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET state = 'queued', held_tenant = '', held_guid = '', job_id = 0, updated_at = ?
			WHERE id = ? AND state = 'held'`, db.Now(), h.id); err != nil {
			return i, err
		}
		if h.job > 0 {
			_, err := s.jobs.Client.JobRetryTx(ctx, tx.Tx, h.job)
			if err == nil {
				continue
			}
			if !errors.Is(err, rivertype.ErrNotFound) {
				return i, err
			}
		}
		// The job is gone (purged): carry the row with a new one.
		if _, err := s.jobs.InsertTx(ctx, tx, DeliverArgs{Recipient: h.id, Expires: h.expires}, nil); err != nil {
			return i, err
		}
	}
	return len(hs), nil
}
