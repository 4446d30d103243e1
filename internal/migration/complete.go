package migration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/failpoint"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Completion steps, recorded in moves.completion_step so that a crash
// resumes at the step it interrupted. Every step is idempotent.
const (
	stepLock      = "lock"
	stepFinalSync = "finalsync"
	stepVerify    = "verify"
	stepActivate  = "activate"
	stepConvert   = "convert"
	stepDone      = "done"
)

// completeWorker completes a move: lock source → final sync → verify →
// activate target → convert source (which releases held mail).
type completeWorker struct {
	river.WorkerDefaults[CompleteArgs]
	s *Service
}

// Timeout lets a completion run as long as its final sync needs.
func (w *completeWorker) Timeout(*river.Job[CompleteArgs]) time.Duration { return -1 }

// completionRetryMax caps the delay between attempts of a completion.
const completionRetryMax = time.Minute

// completionFastRetries is how many failed attempts of a completion are
// retried after one second each (a minute of outage), so that a completion
// interrupted by a peer's restart resumes within a second of its return;
// later ones back off up to completionRetryMax.
const completionFastRetries = 60

// NextRetry retries a failed completion soon. From the lock step on, the
// source stays locked (IMAP read-only, new mail held) until the completion
// finishes, so River's default backoff — errors⁴ seconds: 16 s after the
// second error, 81 s after the third — would stretch the lock window to
// minutes after a brief source outage (two source restarts made it 17 s).
// The first completionFastRetries retries come one second apart; then the
// delay doubles up to completionRetryMax.
func (w *completeWorker) NextRetry(job *river.Job[CompleteArgs]) time.Time {
	return time.Now().Add(completionDelay(len(job.Errors)))
}

// completionDelay is the delay before a completion's next attempt after
// errors failed ones.
func completionDelay(errors int) time.Duration {
	d := time.Second
	for i := completionFastRetries; i < errors && d < completionRetryMax; i++ {
		d *= 2
	}
	return min(d, completionRetryMax)
}

func (w *completeWorker) Work(ctx context.Context, job *river.Job[CompleteArgs]) error {
	s := w.s
	m, err := s.getMove(ctx, s.D.Read(), job.Args.MoveID)
	if errors.Is(err, ErrMoveNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.State != StateSynced && m.State != StateCompleting {
		return nil // not ready (the sync enqueues the completion when it is) or done
	}
	b, err := s.getBatchByID(ctx, s.D.Read(), m.BatchID)
	if err != nil {
		return err
	}
	if !m.Active || b.Control == ControlRemoved {
		return nil
	}
	// The user hears of the move before its source is locked (the
	// scheduler usually told it when it was synced).
	if err := s.notifyUser(ctx, b, m, TemplateBefore); err != nil {
		s.Log.Warn("before-cutover mail", "user", m.Email, "err", err)
	}
	ep, err := s.Dir.GetEndpoint(ctx, m.TenantID, b.EndpointID)
	if err != nil {
		return s.fail(ctx, m, err)
	}
	if ep.Type == directory.EndpointIMAP {
		return s.completeIMAPJob(ctx, b, m, ep)
	}
	client, err := s.client(ep)
	if err != nil {
		return s.fail(ctx, m, err)
	}
	err = s.complete(ctx, b, m, client)
	switch {
	case err == nil, errors.Is(err, ErrStateChanged):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	e := errs.As(err)
	if e != nil && e.Kind != errs.Unavailable && e.Kind != errs.Internal {
		// A permanent failure before the target was activated gives the
		// source back; after it, only retries can finish the cutover.
		if m.CompletionStep == stepLock || m.CompletionStep == stepFinalSync || m.CompletionStep == stepVerify {
			return s.abortCompletion(ctx, m, client, err)
		}
	}
	s.D.Write(ctx, func(tx *db.Tx) error {
		return logMove(ctx, tx, m.ID, "warning", "completion step "+m.CompletionStep+" failed, retrying: "+err.Error())
	})
	return err
}

// setStep records the next completion step.
func (s *Service) setStep(ctx context.Context, m *Move, step string, extra string, args ...any) error {
	return s.D.Write(ctx, func(tx *db.Tx) error {
		q := `UPDATE moves SET completion_step = ?` + extra + `, updated_at = ? WHERE id = ? AND state = ?`
		all := append(append([]any{step}, args...), db.Now(), m.ID, StateCompleting)
		res, err := tx.ExecContext(ctx, q, all...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errStateChanged
		}
		m.CompletionStep = step
		return logMove(ctx, tx, m.ID, "info", "completion: "+step)
	})
}

func (s *Service) complete(ctx context.Context, b *Batch, m *Move, client replication.NativeSource) error {
	kinds := []mailboxKind{{mailstore.KindPrimary, m.ExchangeGuid}}
	if m.ArchiveGuid != "" && m.MailboxType != MailboxTypePrimaryOnly {
		kinds = append(kinds, mailboxKind{mailstore.KindArchive, m.ArchiveGuid})
	}
	if m.MailboxType == MailboxTypeArchiveOnly {
		kinds = kinds[1:]
	}
	if err := s.beginCompletion(ctx, m, stepLock); err != nil {
		return err
	}
	for {
		failpoint.Hit("completion." + m.CompletionStep)
		switch m.CompletionStep {
		case stepLock, "":
			for _, k := range kinds {
				if _, err := client.Lock(ctx, k.guid, m.ID); err != nil {
					return err
				}
			}
			if err := s.setStep(ctx, m, stepFinalSync, `, lock_started_at = CASE WHEN lock_started_at = 0 THEN ? ELSE lock_started_at END`, db.Now()); err != nil {
				return err
			}
		case stepFinalSync:
			mi, err := client.Mailbox(ctx, m.ExchangeGuid)
			if err != nil {
				return err
			}
			p := &plan{client: client, mailbox: mi}
			for _, k := range kinds {
				if err := s.stagedPass(ctx, b, m, p, k); err != nil {
					return err
				}
			}
			if err := s.setStep(ctx, m, stepVerify, ""); err != nil {
				return err
			}
		case stepVerify:
			score, report, err := s.verify(ctx, b, m, client, kinds)
			if err != nil {
				return err
			}
			block, err := s.judge(ctx, b, m, score, report, "investigate the report ('tenantferry batch report "+b.Name+" --user "+m.Email+"'), repair the target with 'tenantferry migrationuser resync "+m.Email+"' and complete again")
			if err != nil {
				return err
			}
			if block != nil {
				return s.blockCompletion(ctx, m, client, kinds, block)
			}
			if err := s.setStep(ctx, m, stepActivate, ""); err != nil {
				return err
			}
		case stepActivate:
			if err := s.activate(ctx, m, kinds); err != nil {
				return err
			}
			if err := s.carryIdentity(ctx, m, client); err != nil {
				return err
			}
			if err := s.carryPassword(ctx, b, m, client); err != nil {
				return err
			}
			if err := s.setStep(ctx, m, stepConvert, ""); err != nil {
				return err
			}
		case stepConvert:
			target, err := s.Dir.GetRecipient(ctx, m.TenantID, m.TargetRecipientID)
			if err != nil {
				return err
			}
			fwd := ""
			for _, a := range target.SMTPAddresses() {
				if strings.EqualFold(a[strings.LastIndexByte(a, '@')+1:], b.TargetDeliveryDomain) {
					fwd = a
					break
				}
			}
			if fwd == "" {
				return errs.Invalidf("NoDeliveryDomainProxy", "target %s has no address in %s", m.Email, b.TargetDeliveryDomain)
			}
			if _, err := client.Finalize(ctx, m.ExchangeGuid, replication.FinalizeRequest{MoveId: m.ID, ExternalEmailAddress: fwd, TargetLegacyExchangeDN: target.LegacyExchangeDN}); err != nil {
				return err
			}
			if err := s.setStep(ctx, m, stepDone, `, lock_ended_at = CASE WHEN lock_ended_at = 0 THEN ? ELSE lock_ended_at END`, db.Now()); err != nil {
				return err
			}
		case stepDone:
			if err := s.finish(ctx, m); err != nil {
				return err
			}
			s.notifyDone(ctx, b, m)
			return nil
		default:
			return errs.Internalf(nil, "unknown completion step %q", m.CompletionStep)
		}
	}
}

// beginCompletion starts the completion of a Synced move at its first
// step (stepLock for a native move, stepFinalSync for an IMAP one): the
// move becomes Completing with the start time, in one transaction. A move
// already Completing resumes at its recorded step.
func (s *Service) beginCompletion(ctx context.Context, m *Move, first string) error {
	if m.State != StateSynced {
		return nil
	}
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET completion_started_at = ?, completion_step = ? WHERE id = ?`, db.Now(), first, m.ID); err != nil {
			return err
		}
		return s.setState(ctx, tx, m, StateCompleting, "")
	})
	if err != nil {
		return err
	}
	m.CompletionStep = first
	return nil
}

// activate turns the target MailUser into a UserMailbox and its staged
// content into the active mailbox (with the Exchange default folders).
func (s *Service) activate(ctx context.Context, m *Move, kinds []mailboxKind) error {
	for _, k := range kinds {
		mb, err := s.Store.Mailbox(ctx, m.TenantID, k.guid)
		if err != nil {
			return err
		}
		if mb.State == mailstore.StateStaging {
			if err := s.Store.SetMailboxState(ctx, mb.ID, mailstore.StateActive); err != nil {
				return err
			}
		}
		if err := ensureDefaultFolders(ctx, s.Store, mb.ID); err != nil {
			return err
		}
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		_, err := s.Dir.ActivateMailbox(ctx, tx, m.TenantID, m.TargetRecipientID)
		return err
	})
}

// ensureDefaultFolders creates the Exchange default folders a moved mailbox
// lacks (a source may have deleted some).
func ensureDefaultFolders(ctx context.Context, st *mailstore.Store, mailboxID int64) error {
	for _, d := range mailstore.DefaultFolders {
		if d.SpecialUse != "" {
			if _, err := st.FolderBySpecialUse(ctx, mailboxID, d.SpecialUse); err == nil {
				continue
			}
		} else if _, err := st.FolderByPath(ctx, mailboxID, d.Name); err == nil {
			continue
		}
		_, err := st.CreateFolder(ctx, mailboxID, d.Name, mailstore.FolderOptions{Class: d.Class, SpecialUse: d.SpecialUse})
		if err != nil && !errors.Is(err, mailstore.ErrFolderExists) {
			return err
		}
	}
	return nil
}

// finish marks the move completed and reports the lock window.
func (s *Service) finish(ctx context.Context, m *Move) error {
	return s.recordCompletion(ctx, m, false, func(tx *db.Tx, cur *Move, _ int64) (string, error) {
		window := cur.LockEndedAt.Sub(cur.LockStartedAt)
		if window > lockWindowOutlier {
			if err := s.logLockOutlier(ctx, tx, cur, window); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("completed: the source was locked for %s; mail to %s now forwards to the target",
			window.Round(time.Millisecond), cur.SourceAddress), nil
	})
}

// lockWindowOutlier is the lock window above which a completion explains
// itself in the report: without faults the source is locked ~0.1 s.
const lockWindowOutlier = time.Second

// logLockOutlier writes a warning to the move's report: how long the
// source stayed locked and the completion failures that kept it locked
// (the retries logged since the lock).
func (s *Service) logLockOutlier(ctx context.Context, tx *db.Tx, m *Move, window time.Duration) error {
	var n int
	var last sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MAX(message) FROM move_log WHERE move_id = ? AND at >= ? AND message LIKE 'completion step % failed, retrying%'`,
		m.ID, m.LockStartedAt.UnixMilli()).Scan(&n, &last)
	if err != nil {
		return err
	}
	why := "no completion step failed: the final sync and verification took this long (a large change since the last incremental sync)"
	if n > 0 {
		why = fmt.Sprintf("%d completion retries while locked (e.g. %s)", n, strings.TrimPrefix(last.String, "completion step "))
	}
	return logMove(ctx, tx, m.ID, "warning", fmt.Sprintf("lock window outlier: the source was locked for %s (usually about 0.1 s): %s",
		window.Round(time.Millisecond), why))
}

// recordCompletion records a move's completion in one transaction: the final item
// count, Completed (or CompletedWithWarnings with skipped items), and the
// log line that summary returns.
func (s *Service) recordCompletion(ctx context.Context, m *Move, imap bool, summary func(tx *db.Tx, cur *Move, synced int64) (string, error)) error {
	return s.D.Write(ctx, func(tx *db.Tx) error {
		cur, err := s.getMove(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		state := StateCompleted
		if cur.ItemsSkipped > 0 {
			state = StateCompletedWithWarnings
		}
		synced, byClass, err := s.countTarget(ctx, tx, cur, imap)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET completed_at = ?, items_synced = ?, items_by_class = ?, `+totalsFollowSynced+` WHERE id = ?`,
			db.Now(), synced, byClass, synced, synced, m.ID); err != nil {
			return err
		}
		cur.ItemsTotal = max(cur.ItemsTotal, synced)
		cur.BytesTotal = max(cur.BytesTotal, cur.BytesTransferred)
		msg, err := summary(tx, cur, synced)
		if err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "info", msg); err != nil {
			return err
		}
		return s.setState(ctx, tx, cur, state, "")
	})
}

// blockCompletion gives the source back (unlock) and returns the move to
// Synced with the reason recorded, when verification does not allow the
// cutover.
func (s *Service) blockCompletion(ctx context.Context, m *Move, client replication.NativeSource, kinds []mailboxKind, why error) error {
	for _, k := range kinds {
		if _, err := client.Unlock(ctx, k.guid, m.ID); err != nil {
			return err
		}
	}
	return s.backToSynced(ctx, m, why)
}

// abortCompletion handles a permanent failure before activation: the
// source is given back and the move returns to Synced with the error. When
// the source was already converted by another move (another target tenant
// completed first), there is nothing to give back and the move fails; when
// giving the source back fails otherwise, the job retries (the source stays
// locked until it succeeds).
func (s *Service) abortCompletion(ctx context.Context, m *Move, client replication.NativeSource, err error) error {
	kinds := []mailboxKind{{mailstore.KindPrimary, m.ExchangeGuid}}
	if m.ArchiveGuid != "" {
		kinds = append(kinds, mailboxKind{mailstore.KindArchive, m.ArchiveGuid})
	}
	e := errs.As(err)
	berr := s.blockCompletion(ctx, m, client, kinds, e)
	if errors.Is(berr, source.ErrAlreadyFinalized) {
		return s.fail(ctx, m, err)
	}
	if berr != nil {
		s.Log.Warn("abandoning a completion failed; retrying", "move", m.ID, "err", berr)
	}
	return berr
}
