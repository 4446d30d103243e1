package migration

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/failpoint"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/replication/imapsrc"
)

// completeIMAP completes an IMAP move: a final incremental sync, the
// verification (the mirror's hashes per folder against the items this
// move copied), then Completed. Nothing on the source is locked or
// converted — a foreign server cannot be — and mail delivered to the
// mailbox meanwhile is not touched. Each step is recorded like a native
// completion's, so a crash resumes at the step it interrupted.
func (s *Service) completeIMAP(ctx context.Context, b *Batch, m *Move, ep *directory.Endpoint) error {
	kinds := []mailboxKind{{mailstore.KindPrimary, m.ExchangeGuid}}
	if err := s.beginCompletion(ctx, m, stepFinalSync); err != nil {
		return err
	}
	for {
		failpoint.Hit("completion." + m.CompletionStep)
		switch m.CompletionStep {
		case "", stepLock, stepFinalSync:
			v := &validation{}
			p := s.validateIMAPUser(ctx, v, ep, m)
			if v.failed != nil {
				return v.failed
			}
			if _, err := s.runIMAPPass(ctx, b, m, p); err != nil {
				return err
			}
			if err := s.davPassLogged(ctx, m, ep, p); err != nil {
				return err
			}
			if err := s.setStep(ctx, m, stepVerify, ""); err != nil {
				return err
			}
		case stepVerify:
			src := imapsrc.New(s.D, m.ID, s.imapServer(ep, m.ID), "", "", s.Log)
			src.Filter = b.Filter
			score, report, err := s.verifyWith(ctx, m, kinds, src.Manifest, func(ctx context.Context, mailboxID int64) (*replication.ManifestReply, error) {
				return replication.BuildOriginManifest(ctx, s.Store, mailboxID, imapsrc.OriginPrefix)
			})
			if err != nil {
				return err
			}
			if score, report, err = s.judgeDAV(ctx, m, score, report); err != nil {
				return err
			}
			block, err := s.judge(ctx, b, m, score, report, "investigate the report ('tenantferry batch report "+b.Name+" --user "+m.Email+"'), repair the target with 'tenantferry migrationuser resync "+m.Email+"' and complete again")
			if err != nil {
				return err
			}
			if block != nil {
				return s.backToSynced(ctx, m, block)
			}
			if err := s.setStep(ctx, m, stepDone, ""); err != nil {
				return err
			}
		case stepActivate, stepConvert:
			// Not steps of an IMAP move (the mailbox is active already).
			if err := s.setStep(ctx, m, stepDone, ""); err != nil {
				return err
			}
		case stepDone:
			if err := s.finishIMAP(ctx, m); err != nil {
				return err
			}
			s.notifyDone(ctx, b, m)
			return nil
		default:
			return errs.Internalf(nil, "unknown completion step %q", m.CompletionStep)
		}
	}
}

// finishIMAP marks an IMAP move completed, tells the admin what is left to
// do, and deletes the user's sealed password and the source mirror.
func (s *Service) finishIMAP(ctx context.Context, m *Move) error {
	return s.recordCompletion(ctx, m, true, func(tx *db.Tx, cur *Move, synced int64) (string, error) {
		if _, err := forgetIMAP(ctx, tx, m.ID); err != nil {
			return "", err
		}
		return fmt.Sprintf("completed: %d items of IMAP user %s are in %s; the IMAP server was not changed "+
			"(a foreign server cannot be converted): switch the MX records of the user's domain to tenantferry so that new mail arrives here; "+
			"the IMAP credentials and the source mirror were deleted", synced, cur.SourceAddress, cur.Email), nil
	})
}

// backToSynced returns a move whose completion cannot finish to Synced
// with the reason recorded (any source lock was released by the caller).
func (s *Service) backToSynced(ctx context.Context, m *Move, why error) error {
	e := errs.As(why)
	if e == nil {
		e = errs.Internalf(why, "completion failed")
	}
	msg := e.Message
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET completion_step = '', lock_started_at = 0, error_code = ?, error_message = ? WHERE id = ?`,
			e.Code, msg, m.ID); err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "error", e.Error()); err != nil {
			return err
		}
		return s.setState(ctx, tx, m, StateSynced, e.Code)
	})
}

// completeIMAPJob runs an IMAP completion for the job: a permanent failure
// before the move completed returns it to Synced with the error, a
// temporary one is retried.
func (s *Service) completeIMAPJob(ctx context.Context, b *Batch, m *Move, ep *directory.Endpoint) error {
	err := s.completeIMAP(ctx, b, m, ep)
	switch {
	case err == nil, errors.Is(err, ErrStateChanged):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	if e := errs.As(err); e != nil && e.Kind != errs.Unavailable && e.Kind != errs.Internal && m.CompletionStep != stepDone {
		return s.backToSynced(ctx, m, err)
	}
	s.D.Write(ctx, func(tx *db.Tx) error {
		return logMove(ctx, tx, m.ID, "warning", "completion step "+m.CompletionStep+" failed, retrying: "+err.Error())
	})
	return err
}
