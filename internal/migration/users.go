package migration

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Per-user control (Get/Stop/Start/Remove-MigrationUser): one user of an
// active batch, found by its target address, acted on alone; the batch
// and its other users are left as they are.

// Errors of per-user control.
var (
	// ErrMigrationUserNotFound: no active batch of the tenant has the user.
	ErrMigrationUserNotFound = errs.Sentinel(errs.NotFound, "MigrationUserNotFound")
	// ErrUserBusy: the user is syncing or completing, which the command
	// cannot interrupt.
	ErrUserBusy = errs.Sentinel(errs.Conflict, "MigrationUserBusy")
)

// MigrationUsers lists the users of the tenant's active batches, by
// address.
func (s *Service) MigrationUsers(ctx context.Context, tenantID string) ([]*Move, error) {
	return queryMoves(ctx, s.D.Read(), `SELECT `+moveCols+` FROM moves WHERE tenant_id = ? AND active = ? ORDER BY email_key`, tenantID, true)
}

// MigrationUser finds the user addr in the tenant's active batches.
func (s *Service) MigrationUser(ctx context.Context, tenantID, addr string) (*Move, error) {
	return s.activeMove(ctx, s.D.Read(), tenantID, addr)
}

func (s *Service) activeMove(ctx context.Context, q db.Querier, tenantID, addr string) (*Move, error) {
	m, err := scanMove(q.QueryRowContext(ctx, `SELECT `+moveCols+` FROM moves WHERE tenant_id = ? AND email_key = ? AND active = ?`,
		tenantID, strings.ToLower(strings.TrimSpace(addr)), true))
	if db.IsNoRows(err) {
		return nil, ErrMigrationUserNotFound.Newf("%s is in no active migration batch of this tenant", addr).WithObject(addr).
			WithHint("list the users with 'tenantferry migrationuser list'")
	}
	return m, err
}

// userTx runs f on the user's move and its batch in one write transaction
// and returns the move as it is afterwards.
func (s *Service) userTx(ctx context.Context, tenantID, addr string, f func(tx *db.Tx, b *Batch, m *Move) error) (*Move, error) {
	var id string
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		m, err := s.activeMove(ctx, tx, tenantID, addr)
		if err != nil {
			return err
		}
		b, err := s.getBatchByID(ctx, tx, m.BatchID)
		if err != nil {
			return err
		}
		id = m.ID
		return f(tx, b, m)
	})
	if err != nil {
		return nil, err
	}
	return s.getMove(ctx, s.D.Read(), id)
}

// StopUser stops one user (Stop-MigrationUser): an idle one at once, a
// syncing one after its current chunk; a completing one finishes.
func (s *Service) StopUser(ctx context.Context, tenantID, addr string) (*Move, error) {
	stopping := ""
	m, err := s.userTx(ctx, tenantID, addr, func(tx *db.Tx, _ *Batch, m *Move) error {
		stopping = "" // a retried transaction starts over
		switch m.State {
		case StateQueued, StateSynced, StateFailed:
			return s.setState(ctx, tx, m, StateStopped, "StoppedByAdmin")
		case StateValidating, StateSyncing, StateIncrementalSyncing:
			stopping = m.ID
			return s.setState(ctx, tx, m, StateStopping, "StopRequested")
		case StateCompleting:
			return ErrUserBusy.Newf("%s is completing", m.Email).WithObject(m.Email).WithHint("wait for the completion to finish")
		}
		return nil
	})
	if err == nil && stopping != "" {
		s.running.stop([]string{stopping}) // this node's pass ends now, another node's within stopPoll
	}
	return m, err
}

// StartUser resumes one user of a started batch (Start-MigrationUser): a
// stopped, failed or queued user is validated and synced again, a synced
// one gets an incremental sync.
func (s *Service) StartUser(ctx context.Context, tenantID, addr string) (*Move, error) {
	return s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		if err := requireStarted(b, m); err != nil {
			return err
		}
		switch m.State {
		case StateQueued, StateFailed, StateStopped:
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET queued_at = ?, error_code = '', error_message = '' WHERE id = ?`, db.Now(), m.ID); err != nil {
				return err
			}
			if err := s.setState(ctx, tx, m, StateQueued, "WaitingForJob"); err != nil {
				return err
			}
			return s.enqueueInitial(ctx, tx, m.ID, s.Jobs.FairGroup(tx))
		case StateSynced:
			return s.enqueueSync(ctx, tx, m.ID)
		}
		return ErrUserBusy.Newf("%s is %s", m.Email, m.State).WithObject(m.Email).WithHint("it is already running; stop it first to restart it")
	})
}

// RemoveUser takes one user out of its batch (Remove-MigrationUser): not
// while it syncs or completes; staged content of an unfinished move is
// deleted and its registration at the source withdrawn; history stays,
// and the user may join another batch.
func (s *Service) RemoveUser(ctx context.Context, tenantID, addr string) (*Move, error) {
	var staged *Move
	var batch *Batch
	m, err := s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		switch m.State {
		case StateValidating, StateSyncing, StateIncrementalSyncing, StateStopping, StateCompleting:
			return ErrUserBusy.Newf("%s is %s", m.Email, m.State).WithObject(m.Email).
				WithHint("stop the user first ('tenantferry migrationuser stop %s'), then remove it", m.Email)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET active = ? WHERE id = ?`, false, m.ID); err != nil {
			return err
		}
		imapMove, err := forgetIMAP(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		msg := "removed from batch " + b.Name
		if !m.Finished() && !imapMove {
			staged, batch, msg = m, b, msg+"; staged content deleted"
		}
		return logMove(ctx, tx, m.ID, "info", msg)
	})
	if err != nil {
		return nil, err
	}
	if staged != nil {
		s.dropStaging(ctx, staged)
		s.unregister(ctx, batch, staged)
	}
	return m, nil
}

// CompleteUser requests the completion of one user
// (Complete-MigrationUser), with approve also approving its skipped
// items: a synced user is queued for completion at once, a syncing one
// when its pass ends. Its batch's other users are not completed.
func (s *Service) CompleteUser(ctx context.Context, tenantID, addr string, approve bool) (*Move, error) {
	return s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		if m.Finished() {
			return errs.Conflictf("MigrationUserCompleted", "%s is already %s", m.Email, m.State).WithObject(m.Email)
		}
		if err := requireStarted(b, m); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET complete_requested = ?, approve_skipped = ? WHERE id = ?`, true, approve || m.ApproveSkipped, m.ID); err != nil {
			return err
		}
		return s.queueUserCompletion(ctx, tx, m)
	})
}

// ApproveSkippedItems approves one user's skipped items
// (Set-MigrationUser -ApproveSkippedItems): a user whose completion
// stopped for them (SkippedItemsNeedApproval) completes now; otherwise the
// approval holds for its completion to come.
func (s *Service) ApproveSkippedItems(ctx context.Context, tenantID, addr string) (*Move, error) {
	return s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET approve_skipped = ? WHERE id = ?`, true, m.ID); err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "info", "skipped items approved"); err != nil {
			return err
		}
		if m.ErrorCode == "SkippedItemsNeedApproval" && s.completionDue(b, m) {
			return s.queueUserCompletion(ctx, tx, m)
		}
		return nil
	})
}

// queueUserCompletion queues the completion of a synced user (clearing the
// error that stopped an earlier one); other states wait for their pass.
func (s *Service) queueUserCompletion(ctx context.Context, tx *db.Tx, m *Move) error {
	if m.State != StateSynced {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE moves SET error_code = '', error_message = '' WHERE id = ?`, m.ID); err != nil {
		return err
	}
	if err := s.setState(ctx, tx, m, StateSynced, "CompletionQueued"); err != nil {
		return err
	}
	return s.enqueueComplete(ctx, tx, m.ID)
}

// UserUpdate is a Set-MigrationUser: the user's own settings to change,
// nil for those that stay. A zero CompleteAfter returns the user to its
// batch's schedule; LimitBatch returns a limit to its batch's.
type UserUpdate struct {
	CompleteAfter                *time.Time
	LargeItemLimit, BadItemLimit *int64
}

// SetUser changes one user's own settings (`migrationuser set`): its
// CompleteAfter wins over its batch's schedule (a synced user whose time
// passed is queued for completion at once), and its item limits over its
// batch's. A failed user stays failed until `migrationuser start`.
func (s *Service) SetUser(ctx context.Context, tenantID, addr string, u UserUpdate) (*Move, error) {
	if u == (UserUpdate{}) {
		return nil, ErrNothingToChange.Newf("no setting of migration user %s was given", addr).
			WithHint("pass --complete-after, --large-item-limit or --bad-item-limit")
	}
	for _, l := range []struct {
		field string
		v     *int64
	}{{"LargeItemLimit", u.LargeItemLimit}, {"BadItemLimit", u.BadItemLimit}} {
		if l.v != nil && *l.v != LimitBatch {
			if err := checkItemLimit(l.field, l.v); err != nil {
				return nil, err
			}
		}
	}
	return s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		if u.CompleteAfter != nil && (m.Finished() || m.State == StateCompleting) {
			return errs.Conflictf("MigrationUserCompleted", "%s is %s: its completion can no longer be scheduled", m.Email, m.State).WithObject(m.Email)
		}
		setIf(&m.CompleteAfter, u.CompleteAfter)
		setIf(&m.LargeItemLimit, u.LargeItemLimit)
		setIf(&m.BadItemLimit, u.BadItemLimit)
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET complete_after = ?, large_item_limit = ?, bad_item_limit = ? WHERE id = ?`,
			db.Millis(m.CompleteAfter), m.LargeItemLimit, m.BadItemLimit, m.ID); err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "info", userSettingsLine(m)); err != nil {
			return err
		}
		if u.CompleteAfter != nil && b.Control == ControlStarted && m.ErrorCode == "" && s.completionDue(b, m) {
			return s.queueUserCompletion(ctx, tx, m)
		}
		return nil
	})
}

// userSettingsLine describes a user's own settings for its log.
func userSettingsLine(m *Move) string {
	limit := func(v int64) string {
		switch v {
		case LimitBatch:
			return "the batch's"
		case LimitUnlimited:
			return "unlimited"
		}
		return strconv.FormatInt(v, 10)
	}
	ca := "the batch's"
	if !m.CompleteAfter.IsZero() {
		ca = m.CompleteAfter.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("settings changed: CompleteAfter %s, LargeItemLimit %s, BadItemLimit %s", ca, limit(m.LargeItemLimit), limit(m.BadItemLimit))
}

// ResyncUser requests a repair of one user (a full resynchronisation,
// beyond Exchange's Start-MigrationUser): its next pass lists the whole
// source again, copies what the target lacks and deletes what the source
// no longer has; a Poor user is then verified again at its completion.
// Not while the user syncs or completes.
func (s *Service) ResyncUser(ctx context.Context, tenantID, addr string) (*Move, error) {
	return s.userTx(ctx, tenantID, addr, func(tx *db.Tx, b *Batch, m *Move) error {
		if err := requireStarted(b, m); err != nil {
			return err
		}
		switch m.State {
		case StateSynced, StateFailed, StateStopped, StateQueued:
		default:
			return ErrUserBusy.Newf("%s is %s", m.Email, m.State).WithObject(m.Email).WithHint("wait until it is Synced, or stop it first")
		}
		// The error that stopped a completion stays until the repair pass
		// starts (which clears it): the scheduler does not complete the
		// user before its copy is repaired.
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET repair_requested = ? WHERE id = ?`, true, m.ID); err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "info", "resync requested: the next pass compares the whole source with the target"); err != nil {
			return err
		}
		if m.State != StateSynced {
			if err := s.setState(ctx, tx, m, StateQueued, "WaitingForJob"); err != nil {
				return err
			}
		}
		return s.enqueueSync(ctx, tx, m.ID)
	})
}

// requireStarted refuses a per-user command in a batch not started.
func requireStarted(b *Batch, m *Move) error {
	if b.Control != ControlStarted {
		return errs.Conflictf("BatchNotStarted", "migration batch %s of %s is %s", b.Name, m.Email, strings.ToLower(b.Control)).
			WithHint("start the batch with 'tenantferry batch start %s'", b.Name)
	}
	return nil
}
