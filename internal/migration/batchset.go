package migration

import (
	"context"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// BatchUpdate is a Set-MigrationBatch: the settings to change, nil for
// those that stay. A zero time clears a schedule.
type BatchUpdate struct {
	StartAfter, CompleteAfter *time.Time
	AutoComplete              *bool
	IncrementalSyncInterval   *time.Duration
	// MaxItemSize is the size cap in bytes; LargeItemLimit and
	// BadItemLimit are counts (LimitUnlimited for none).
	MaxItemSize, LargeItemLimit, BadItemLimit *int64
	NotificationEmails                        *string
	ReportInterval                            *time.Duration
}

// Errors of SetBatch.
var (
	// ErrNothingToChange: a set with no setting.
	ErrNothingToChange = errs.Sentinel(errs.Invalid, "NothingToChange")
	// ErrBatchCompleting: a completion schedule change for a batch whose
	// completion was already requested.
	ErrBatchCompleting = errs.Sentinel(errs.Conflict, "BatchCompleting")
)

// SetBatch changes a batch's settings (`batch set`): validated like at
// creation, checked against the batch's state, written in one
// transaction; the scheduler reads the new schedule at its next tick. A
// StartAfter in the past starts a created batch then; a CompleteAfter
// (with or without AutoComplete) completes the users once it passes.
func (s *Service) SetBatch(ctx context.Context, tenantID, name string, u BatchUpdate) (*Batch, error) {
	if u == (BatchUpdate{}) {
		return nil, ErrNothingToChange.Newf("no setting of batch %s was given", name).
			WithHint("pass --complete-after, --start-after, --auto-complete, --incremental-sync-interval, --max-item-size, --large-item-limit, --bad-item-limit, --notification-emails or --report-interval")
	}
	if err := checkBatchUpdate(u); err != nil {
		return nil, err
	}
	return s.batchTx(ctx, tenantID, name, false, func(tx *db.Tx, b *Batch, _ []*Move) error {
		if err := applyBatchUpdate(b, u); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE batches SET start_after = ?, complete_after = ?, auto_complete = ?, incremental_interval_ms = ?,
			large_item_limit = ?, notification_emails = ?, max_item_size = ?, bad_item_limit = ?, report_interval_ms = ? WHERE id = ?`,
			db.Millis(b.StartAfter), db.Millis(b.CompleteAfter), b.AutoComplete, b.IncrementalInterval.Milliseconds(), b.LargeItemLimit,
			b.NotificationEmails, b.MaxItemSize, b.BadItemLimit, b.ReportInterval.Milliseconds(), b.ID)
		return err
	})
}

// checkBatchUpdate validates the values of an update on their own.
func checkBatchUpdate(u BatchUpdate) error {
	if u.IncrementalSyncInterval != nil && *u.IncrementalSyncInterval < MinIncrementalSyncInterval {
		return errs.Invalidf("InvalidInterval", "IncrementalSyncInterval %s is shorter than %s", *u.IncrementalSyncInterval, MinIncrementalSyncInterval).
			WithHint("use at least %s", MinIncrementalSyncInterval)
	}
	if err := checkMaxItemSize(u.MaxItemSize); err != nil {
		return err
	}
	if err := checkItemLimit("LargeItemLimit", u.LargeItemLimit); err != nil {
		return err
	}
	if err := checkItemLimit("BadItemLimit", u.BadItemLimit); err != nil {
		return err
	}
	if err := checkReportInterval(u.ReportInterval); err != nil {
		return err
	}
	if u.NotificationEmails != nil {
		for _, a := range splitAddresses(*u.NotificationEmails) {
			if _, err := directory.ParseSMTP("NotificationEmails", a); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyBatchUpdate changes b, refusing what its state does not allow.
func applyBatchUpdate(b *Batch, u BatchUpdate) error {
	if u.CompleteAfter != nil && !b.CompletionRequested.IsZero() {
		return ErrBatchCompleting.Newf("the completion of batch %s was already requested", b.Name).
			WithHint("a completing batch cannot be rescheduled; stop it first with 'tenantferry batch stop %s'", b.Name)
	}
	if u.StartAfter != nil && b.Control != ControlCreated {
		return errs.Conflictf("BatchAlreadyStarted", "batch %s is %s: StartAfter applies to a batch not yet started", b.Name, strings.ToLower(b.Control))
	}
	if u.StartAfter != nil {
		b.StartAfter = *u.StartAfter
	}
	if u.CompleteAfter != nil {
		b.CompleteAfter = *u.CompleteAfter
	}
	if !b.CompleteAfter.IsZero() && !b.StartAfter.IsZero() && b.CompleteAfter.Before(b.StartAfter) {
		return errs.Invalidf("InvalidSchedule", "CompleteAfter %s is before StartAfter %s", b.CompleteAfter.Format(time.RFC3339), b.StartAfter.Format(time.RFC3339))
	}
	setIf(&b.AutoComplete, u.AutoComplete)
	setIf(&b.IncrementalInterval, u.IncrementalSyncInterval)
	setIf(&b.MaxItemSize, u.MaxItemSize)
	setIf(&b.LargeItemLimit, u.LargeItemLimit)
	setIf(&b.BadItemLimit, u.BadItemLimit)
	setIf(&b.NotificationEmails, u.NotificationEmails)
	setIf(&b.ReportInterval, u.ReportInterval)
	return nil
}

// AddUsers adds the CSV's users to a batch (`batch add-users`), checked
// like at creation (the CSV's format, users already in an active batch);
// in a started batch they are queued at once. A batch whose completion
// was requested takes no new users (BatchCompleting).
func (s *Service) AddUsers(ctx context.Context, tenantID, name string, csv []byte) (*Batch, error) {
	b, err := s.GetBatch(ctx, tenantID, name)
	if err != nil {
		return nil, err
	}
	ep, err := s.Dir.GetEndpoint(ctx, tenantID, b.EndpointID)
	if err != nil {
		return nil, err
	}
	imap := ep.Type == directory.EndpointIMAP
	rows, err := parseBatchCSV(ep, csv)
	if err != nil {
		return nil, err
	}
	return s.batchTx(ctx, tenantID, b.ID, false, func(tx *db.Tx, b *Batch, _ []*Move) error {
		if !b.CompletionRequested.IsZero() {
			return ErrBatchCompleting.Newf("the completion of batch %s was already requested", b.Name).
				WithHint("create another batch for these users")
		}
		if err := busyUsers(ctx, tx, tenantID, rows); err != nil {
			return err
		}
		ids, err := s.insertMoves(ctx, tx, b, rows, imap)
		if err != nil || b.Control != ControlStarted {
			return err
		}
		now := db.Now()
		g := s.Jobs.FairGroup(tx)
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET queued_at = ?, status_detail = 'WaitingForJob' WHERE id = ?`, now, id); err != nil {
				return err
			}
			if err := s.enqueueInitial(ctx, tx, id, g); err != nil {
				return err
			}
		}
		return nil
	})
}

// parseBatchCSV parses a batch CSV: an IMAP batch's (with credentials) or
// a native one's.
func parseBatchCSV(ep *directory.Endpoint, csv []byte) ([]CSVRow, error) {
	switch {
	case ep.Type != directory.EndpointIMAP:
		return ParseCSV(csv)
	case ep.OAuth != nil && ep.OAuth.Grant == directory.OAuthClientCredentials:
		return ParseIMAPCSVNoSecret(csv)
	}
	return ParseIMAPCSV(csv)
}

// setIf sets *dst to *v when v is given.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
