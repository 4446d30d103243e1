package migration

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Defaults of a batch.
const (
	DefaultIncrementalSyncInterval = 24 * time.Hour
	MinIncrementalSyncInterval     = time.Minute
)

// BatchSpec describes a batch to create.
type BatchSpec struct {
	Name                    string
	Endpoint                string
	CSV                     []byte
	TargetDeliveryDomain    string
	AutoStart               bool
	AutoComplete            bool
	StartAfter              time.Time
	CompleteAfter           time.Time
	IncrementalSyncInterval time.Duration
	// MaxItemSize is the size cap in bytes (0: DefaultMaxItemSize);
	// LargeItemLimit and BadItemLimit are counts (nil: LimitUnlimited).
	MaxItemSize                  int64
	LargeItemLimit, BadItemLimit *int64
	NotificationEmails           string
	// ReportInterval mails the batch's report this often while it runs
	// (0: only when Synced and Completed).
	ReportInterval time.Duration
	// Filter limits what the moves copy (nil: everything); it cannot
	// change once the batch exists.
	Filter *replication.Filter
	// NotifyUsers mails each user before and after its cutover (from the
	// tenant's templates); PasswordContinuity is "", "none", "carry"
	// (same-server endpoints) or "link" (which implies NotifyUsers).
	NotifyUsers        bool
	PasswordContinuity string
}

// ErrBatchExists: a batch of that name is in the tenant (and not removed).
var ErrBatchExists = errs.Sentinel(errs.Conflict, "BatchExists")

func batchNotFound(name string) error {
	return errs.NotFoundf("BatchNotFound", "no migration batch %q in this tenant", name).
		WithHint("list batches with 'tenantferry batch list'").WithObject(name)
}

// batchPlan is a batch spec checked by checkBatchSpec: what CreateBatch
// records.
type batchPlan struct {
	ep     *directory.Endpoint
	imap   bool
	rows   []CSVRow
	tdd    string
	iv     time.Duration
	lim    BatchSpec
	pc     string
	filter string
}

// checkBatchSpec checks everything of a batch but its name's uniqueness
// and its users' other batches; rows parses the CSV (and may refuse it).
func (s *Service) checkBatchSpec(ctx context.Context, tenantID string, spec *BatchSpec, rows func(*directory.Endpoint) ([]CSVRow, error)) (*batchPlan, error) {
	if err := directory.CheckName("Name", spec.Name); err != nil {
		return nil, err
	}
	if spec.Endpoint == "" {
		return nil, errs.Invalidf("MissingField", "the endpoint is required").WithHint("pass --endpoint NAME")
	}
	ep, err := s.Dir.GetEndpoint(ctx, tenantID, spec.Endpoint)
	if err != nil {
		return nil, err
	}
	p := &batchPlan{ep: ep, imap: ep.Type == directory.EndpointIMAP}
	if p.rows, err = rows(ep); err != nil {
		return nil, err
	}
	// An IMAP batch converts no source, so it needs no delivery domain.
	if !p.imap || spec.TargetDeliveryDomain != "" {
		if p.tdd, err = directory.CheckDomain(spec.TargetDeliveryDomain); err != nil {
			return nil, errs.Invalidf("MissingField", "a valid target delivery domain is required, not %q", spec.TargetDeliveryDomain).
				WithHint("pass --target-delivery-domain, e.g. fabrikam.tenantferry.test")
		}
	}
	if p.tdd != "" {
		// A verified domain of this tenant (a pending one is DomainNotVerified).
		if err := s.Dir.CheckDeliveryDomain(ctx, tenantID, p.tdd); err != nil {
			return nil, err
		}
	}
	p.iv = spec.IncrementalSyncInterval
	if p.iv == 0 {
		p.iv = DefaultIncrementalSyncInterval
	}
	if p.iv < MinIncrementalSyncInterval {
		return nil, errs.Invalidf("InvalidInterval", "IncrementalSyncInterval %s is shorter than %s", p.iv, MinIncrementalSyncInterval)
	}
	if p.lim, err = spec.limits(); err != nil {
		return nil, err
	}
	if err := spec.Filter.Check(); err != nil {
		return nil, err
	}
	if p.pc, err = s.checkPasswordContinuity(spec.PasswordContinuity, ep); err != nil {
		return nil, err
	}
	if !spec.Filter.Empty() {
		raw, _ := json.Marshal(spec.Filter)
		p.filter = string(raw)
	} else {
		spec.Filter = nil
	}
	if !spec.CompleteAfter.IsZero() && !spec.StartAfter.IsZero() && spec.CompleteAfter.Before(spec.StartAfter) {
		return nil, errs.Invalidf("InvalidSchedule", "CompleteAfter %s is before StartAfter %s", spec.CompleteAfter.Format(time.RFC3339), spec.StartAfter.Format(time.RFC3339))
	}
	return p, nil
}

// CreateBatch validates a batch and its CSV and records it with one move
// request per user. Nothing is written when anything is invalid.
func (s *Service) CreateBatch(ctx context.Context, tenantID string, spec BatchSpec) (*Batch, error) {
	p, err := s.checkBatchSpec(ctx, tenantID, &spec, func(ep *directory.Endpoint) ([]CSVRow, error) { return parseBatchCSV(ep, spec.CSV) })
	if err != nil {
		return nil, err
	}
	ep, imap, rows, tdd, iv, lim, pc, filter := p.ep, p.imap, p.rows, p.tdd, p.iv, p.lim, p.pc, p.filter
	now := db.Now()
	b := &Batch{ID: uuid.NewString(), TenantID: tenantID, Name: spec.Name, EndpointID: ep.ID, EndpointName: ep.Name, TargetDeliveryDomain: tdd,
		AutoStart: spec.AutoStart, AutoComplete: spec.AutoComplete, StartAfter: spec.StartAfter, CompleteAfter: spec.CompleteAfter,
		IncrementalInterval: iv, MaxItemSize: lim.MaxItemSize, LargeItemLimit: *lim.LargeItemLimit, BadItemLimit: *lim.BadItemLimit,
		ReportInterval: spec.ReportInterval, NotificationEmails: spec.NotificationEmails, Filter: spec.Filter, Control: ControlCreated, CreatedAt: db.Time(now),
		NotifyUsers: spec.NotifyUsers || pc == PasswordLink, PasswordContinuity: pc}
	err = s.D.Write(ctx, func(tx *db.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM batches WHERE tenant_id = ? AND name_key = ? AND removed_at = 0`, tenantID, strings.ToLower(b.Name)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrBatchExists.Newf("a migration batch named %q already exists", b.Name).WithObject(b.Name).WithHint("choose another name or remove the old batch")
		}
		if err := busyUsers(ctx, tx, tenantID, rows); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO batches (id, tenant_id, name, name_key, endpoint_id, endpoint_name, target_delivery_domain, auto_start,
			auto_complete, start_after, complete_after, incremental_interval_ms, large_item_limit, notification_emails, control, created_at,
			max_item_size, bad_item_limit, report_interval_ms, item_filter, notify_users, password_continuity)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, tenantID, b.Name, strings.ToLower(b.Name), ep.ID, ep.Name, tdd, b.AutoStart, b.AutoComplete, db.Millis(b.StartAfter), db.Millis(b.CompleteAfter),
			iv.Milliseconds(), b.LargeItemLimit, b.NotificationEmails, ControlCreated, now, b.MaxItemSize, b.BadItemLimit, b.ReportInterval.Milliseconds(), filter, b.NotifyUsers, b.PasswordContinuity)
		if err != nil {
			return err
		}
		if _, err := s.insertMoves(ctx, tx, b, rows, imap); err != nil {
			return err
		}
		if b.AutoStart && (b.StartAfter.IsZero() || !b.StartAfter.After(time.Now())) {
			return s.startTx(ctx, tx, b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.getBatchByID(ctx, s.D.Read(), b.ID)
}

// busyUsers refuses CSV rows whose user is in an active batch already.
func busyUsers(ctx context.Context, tx *db.Tx, tenantID string, rows []CSVRow) error {
	var busy []string
	for _, r := range rows {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT b.name FROM moves m JOIN batches b ON b.id = m.batch_id WHERE m.tenant_id = ? AND m.email_key = ? AND m.active = ?`,
			tenantID, strings.ToLower(r.EmailAddress), true).Scan(&other)
		if err == nil {
			busy = append(busy, r.EmailAddress+" (batch "+other+")")
		} else if !db.IsNoRows(err) {
			return err
		}
	}
	if len(busy) > 0 {
		return errs.Conflictf("UserInAnotherBatch", "these users are already in an active batch: %s", strings.Join(busy, ", ")).
			WithHint("remove them from the CSV, or remove the other batch first")
	}
	return nil
}

// insertMoves adds a move per CSV row to the batch (with the IMAP
// credentials of an IMAP batch) and returns their ids.
func (s *Service) insertMoves(ctx context.Context, tx *db.Tx, b *Batch, rows []CSVRow, imap bool) ([]string, error) {
	now := db.Now()
	var ids []string
	for _, r := range rows {
		id := uuid.NewString()
		if _, err := tx.ExecContext(ctx, `INSERT INTO moves (id, batch_id, tenant_id, email, email_key, csv_line, mailbox_type, state, status_detail,
			source_address, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, b.ID, b.TenantID, r.EmailAddress, strings.ToLower(r.EmailAddress), r.Line, r.MailboxType, StateQueued, "NotStarted",
			r.SourceEmailAddress, now, now); err != nil {
			if db.IsUnique(err) {
				return nil, errs.Conflictf("UserInAnotherBatch", "%s is already in an active batch", r.EmailAddress)
			}
			return nil, err
		}
		if imap {
			if err := s.storeCredentials(ctx, tx, id, r.UserName, r.Password); err != nil {
				return nil, err
			}
		}
		if err := logMove(ctx, tx, id, "info", "created in batch "+b.Name+" from CSV line "+strconv.Itoa(r.Line)); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// GetBatch finds the tenant's batch by name (the active one, else the most
// recently removed one) or id.
func (s *Service) GetBatch(ctx context.Context, tenantID, name string) (*Batch, error) {
	return s.getBatch(ctx, s.D.Read(), tenantID, name)
}

func (s *Service) getBatch(ctx context.Context, q db.Querier, tenantID, name string) (*Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE tenant_id = ? AND (name_key = ? OR id = ?)
		ORDER BY removed_at = 0 DESC, removed_at DESC LIMIT 1`, tenantID, strings.ToLower(name), name))
	if db.IsNoRows(err) {
		return nil, batchNotFound(name)
	}
	return b, err
}

// ListBatches lists the tenant's batches (removed ones included).
func (s *Service) ListBatches(ctx context.Context, tenantID string) ([]*Batch, error) {
	rows, err := s.D.Read().QueryContext(ctx, `SELECT `+batchCols+` FROM batches WHERE tenant_id = ? ORDER BY created_at`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BatchesOfEndpoint names the tenant's batches (not removed) that use the
// endpoint: a batch reaches its source only through the endpoint it was
// created with.
func (s *Service) BatchesOfEndpoint(ctx context.Context, tenantID, endpointID string) ([]string, error) {
	rows, err := s.D.Read().QueryContext(ctx, `SELECT name FROM batches WHERE tenant_id = ? AND endpoint_id = ? AND removed_at = 0 ORDER BY name_key`,
		tenantID, endpointID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Moves returns the users of a batch: the active ones (a user taken out
// with `migrationuser remove` is no longer one), or, for a removed batch,
// all (its history).
func (s *Service) Moves(ctx context.Context, b *Batch) ([]*Move, error) {
	if b.Control == ControlRemoved {
		return s.batchMoves(ctx, s.D.Read(), b.ID)
	}
	return s.activeMoves(ctx, s.D.Read(), b.ID)
}

// modifiable returns the batch for a state-changing command.
func (s *Service) modifiable(ctx context.Context, tx *db.Tx, tenantID, name string) (*Batch, error) {
	b, err := s.getBatch(ctx, tx, tenantID, name)
	if err != nil {
		return nil, err
	}
	if b.Control == ControlRemoved {
		return nil, errs.Conflictf("BatchRemoved", "migration batch %s was removed", b.Name)
	}
	return b, nil
}

// StartBatch starts (or restarts) a batch: every user not yet completed is
// queued for sync.
func (s *Service) StartBatch(ctx context.Context, tenantID, name string) (*Batch, error) {
	var b *Batch
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		var err error
		if b, err = s.modifiable(ctx, tx, tenantID, name); err != nil {
			return err
		}
		return s.startTx(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return s.GetBatch(ctx, tenantID, b.ID)
}

func (s *Service) startTx(ctx context.Context, tx *db.Tx, b *Batch) error {
	now := db.Now()
	if _, err := tx.ExecContext(ctx, `UPDATE batches SET control = ?, started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END WHERE id = ?`,
		ControlStarted, now, b.ID); err != nil {
		return err
	}
	b.Control = ControlStarted
	ms, err := s.activeMoves(ctx, tx, b.ID)
	if err != nil {
		return err
	}
	g := s.Jobs.FairGroup(tx)
	for _, m := range ms {
		switch m.State {
		case StateQueued, StateFailed, StateStopped, StateStopping:
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET queued_at = ?, error_code = '', error_message = '' WHERE id = ?`, now, m.ID); err != nil {
				return err
			}
			if err := s.setState(ctx, tx, m, StateQueued, "WaitingForJob"); err != nil {
				return err
			}
			if err := s.enqueueInitial(ctx, tx, m.ID, g); err != nil {
				return err
			}
		case StateSynced:
			if err := s.enqueueSync(ctx, tx, m.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// enqueueSync records a new sync request of a move and queues its job.
// enqueueSync requests a pass of the move: an incremental one, or a
// re-run; it waits behind the queued initial passes.
func (s *Service) enqueueSync(ctx context.Context, tx *db.Tx, moveID string) error {
	return s.enqueuePass(ctx, tx, moveID, nil)
}

// enqueueInitial queues the initial pass of a move at the next position
// of its group g (the users queued together in tx): initial passes of all
// batches are served round-robin (jobs.FairGroup).
func (s *Service) enqueueInitial(ctx context.Context, tx *db.Tx, moveID string, g *jobs.FairGroup) error {
	return s.enqueuePass(ctx, tx, moveID, g)
}

// enqueuePass requests a pass of the move, in group g when not nil.
func (s *Service) enqueuePass(ctx context.Context, tx *db.Tx, moveID string, g *jobs.FairGroup) error {
	var gen int64
	if err := tx.QueryRowContext(ctx, `UPDATE moves SET sync_gen = sync_gen + 1 WHERE id = ? RETURNING sync_gen`, moveID).Scan(&gen); err != nil {
		return err
	}
	var err error
	if g == nil {
		_, err = s.Jobs.InsertTx(ctx, tx, SyncArgs{MoveID: moveID, Gen: gen}, nil)
	} else {
		_, err = g.Insert(ctx, SyncArgs{MoveID: moveID, Gen: gen}, nil)
	}
	return err
}

func (s *Service) enqueueComplete(ctx context.Context, tx *db.Tx, moveID string) error {
	_, err := s.Jobs.InsertTx(ctx, tx, CompleteArgs{MoveID: moveID}, nil)
	return err
}

// batchTx runs f in one write transaction on a batch that can still be
// changed, with its moves; started requires the batch to be started. It
// returns the batch as it is afterwards.
func (s *Service) batchTx(ctx context.Context, tenantID, name string, started bool, f func(tx *db.Tx, b *Batch, ms []*Move) error) (*Batch, error) {
	var b *Batch
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		var err error
		if b, err = s.modifiable(ctx, tx, tenantID, name); err != nil {
			return err
		}
		if started && b.Control != ControlStarted {
			return errs.Conflictf("BatchNotStarted", "migration batch %s is %s", b.Name, strings.ToLower(b.Control)).
				WithHint("start it with 'tenantferry batch start %s'", b.Name)
		}
		ms, err := s.activeMoves(ctx, tx, b.ID)
		if err != nil {
			return err
		}
		return f(tx, b, ms)
	})
	if err != nil {
		return nil, err
	}
	return s.GetBatch(ctx, tenantID, b.ID)
}

// StopBatch stops a batch: syncing users stop at once on this node (the
// chunk in flight rolls back) and within stopPoll after their current
// chunk on another one (stopwatch.go); idle users are stopped at once. Completing users finish their completion.
func (s *Service) StopBatch(ctx context.Context, tenantID, name string) (*Batch, error) {
	var stopping []string
	b, err := s.batchTx(ctx, tenantID, name, false, func(tx *db.Tx, b *Batch, ms []*Move) error {
		stopping = stopping[:0] // a retried transaction starts over
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET control = ? WHERE id = ?`, ControlStopped, b.ID); err != nil {
			return err
		}
		for _, m := range ms {
			var err error
			switch m.State {
			case StateQueued, StateSynced, StateFailed:
				err = s.setState(ctx, tx, m, StateStopped, "StoppedByAdmin")
			case StateValidating, StateSyncing, StateIncrementalSyncing:
				err = s.setState(ctx, tx, m, StateStopping, "StopRequested")
				stopping = append(stopping, m.ID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.running.stop(stopping) // this node's passes end now, others' within stopPoll
	}
	return b, err
}

// SyncNow runs an incremental sync for every synced user at once.
func (s *Service) SyncNow(ctx context.Context, tenantID, name string) (*Batch, error) {
	return s.batchTx(ctx, tenantID, name, true, func(tx *db.Tx, b *Batch, ms []*Move) error {
		for _, m := range ms {
			switch m.State {
			case StateSynced, StateSyncing, StateIncrementalSyncing, StateQueued, StateValidating:
				if m.State == StateSynced {
					if err := s.setState(ctx, tx, m, StateSynced, "SyncQueued"); err != nil {
						return err
					}
				}
				if err := s.enqueueSync(ctx, tx, m.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CompleteBatch requests completion: synced users complete now, users still
// syncing complete when their initial sync ends.
func (s *Service) CompleteBatch(ctx context.Context, tenantID, name string, approveSkipped bool) (*Batch, error) {
	return s.batchTx(ctx, tenantID, name, true, func(tx *db.Tx, b *Batch, ms []*Move) error {
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET completion_requested_at = ?, approve_skipped = ? WHERE id = ?`, db.Now(), approveSkipped || b.ApproveSkipped, b.ID); err != nil {
			return err
		}
		b.CompletionRequested = time.Now()
		for _, m := range ms {
			if m.State != StateSynced && m.State != StateCompleting {
				continue
			}
			if m.State == StateSynced && !s.completionDue(b, m) {
				continue // its own CompleteAfter is later: the scheduler completes it then
			}
			if m.State == StateSynced {
				if _, err := tx.ExecContext(ctx, `UPDATE moves SET error_code = '', error_message = '' WHERE id = ?`, m.ID); err != nil {
					return err
				}
				if err := s.setState(ctx, tx, m, StateSynced, "CompletionQueued"); err != nil {
					return err
				}
			}
			if err := s.enqueueComplete(ctx, tx, m.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveBatch removes a batch: its users leave the batch (they may join
// another), staged content of unfinished moves is deleted, history stays.
func (s *Service) RemoveBatch(ctx context.Context, tenantID, name string) (*Batch, error) {
	var staged []*Move
	b, err := s.batchTx(ctx, tenantID, name, false, func(tx *db.Tx, b *Batch, ms []*Move) error {
		for _, m := range ms {
			switch m.State {
			case StateCompleting:
				return errs.Conflictf("BatchCompleting", "user %s of batch %s is completing", m.Email, b.Name).
					WithHint("wait for the completion to finish, then remove the batch")
			case StateValidating, StateSyncing, StateIncrementalSyncing, StateStopping:
				return errs.Conflictf("BatchSyncing", "user %s of batch %s is syncing", m.Email, b.Name).
					WithHint("stop the batch first ('tenantferry batch stop %s'), then remove it", b.Name)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET control = ?, removed_at = ? WHERE id = ?`, ControlRemoved, db.Now(), b.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET active = ? WHERE batch_id = ?`, false, b.ID); err != nil {
			return err
		}
		for _, m := range ms {
			msg := "batch removed"
			imapMove, err := forgetIMAP(ctx, tx, m.ID)
			if err != nil {
				return err
			}
			switch {
			case imapMove && !m.Finished():
				msg = "batch removed; the items copied so far stay in the mailbox, the IMAP credentials are deleted"
			case !m.Finished():
				staged = append(staged, m)
				msg = "batch removed; staged content deleted"
			}
			if err := logMove(ctx, tx, m.ID, "info", msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, m := range staged {
		s.dropStaging(ctx, m)
		s.unregister(ctx, b, m)
	}
	return b, nil
}

// unregisterTimeout bounds the call that ends a removed move's
// registration on its source.
const unregisterTimeout = 10 * time.Second

// unregister ends the registration of a removed, unfinished native move on
// its source, so the source forgets it. It is best effort: a source that
// cannot be reached keeps the registration until its admin cancels it
// ('tenantferry move-registration cancel'); a completed move's
// registration was ended by its finalize.
func (s *Service) unregister(ctx context.Context, b *Batch, m *Move) {
	if m.ExchangeGuid == "" {
		return // never validated: never registered
	}
	ep, err := s.Dir.GetEndpoint(ctx, b.TenantID, b.EndpointID)
	if err != nil || ep.Type == directory.EndpointIMAP {
		return
	}
	client, err := s.client(ep)
	if err == nil {
		ctx, cancel := context.WithTimeout(ctx, unregisterTimeout)
		defer cancel()
		err = client.Unregister(ctx, m.ID)
	}
	if err != nil {
		s.Log.Warn("ending the move's registration on the source failed; the source admin can cancel it", "move", m.ID, "user", m.Email, "err", err)
	}
}

// completionDue reports whether a synced move m of the batch should
// complete: the user's completion was requested, its own CompleteAfter
// passed, or (without one) the batch's completion was requested or
// AutoComplete and CompleteAfter allow it.
func (s *Service) completionDue(b *Batch, m *Move) bool {
	if m.CompleteRequested {
		return true
	}
	if !m.CompleteAfter.IsZero() {
		// The user's own schedule wins over its batch's.
		return !m.CompleteAfter.After(time.Now())
	}
	if !b.CompletionRequested.IsZero() {
		return true
	}
	return b.AutoComplete && (b.CompleteAfter.IsZero() || !b.CompleteAfter.After(time.Now()))
}

// PurgeRemovedBatches deletes the batches removed before cutoff with
// their users' reports (moves, logs, skipped items, credentials: the
// rows that cascade), and returns how many. Until then a removed batch's
// reports stay queryable by its Id.
func (s *Service) PurgeRemovedBatches(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE control = ? AND removed_at > 0 AND removed_at < ?`, ControlRemoved, db.Millis(cutoff))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}
