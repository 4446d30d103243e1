package migration

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Move request states (docs/architecture.md §5; the names follow Exchange).
const (
	StateQueued                = "Queued"
	StateValidating            = "Validating"
	StateSyncing               = "Syncing"
	StateSynced                = "Synced"
	StateIncrementalSyncing    = "IncrementalSyncing"
	StateCompleting            = "Completing"
	StateCompleted             = "Completed"
	StateCompletedWithWarnings = "CompletedWithWarnings"
	StateFailed                = "Failed"
	StateStopping              = "Stopping"
	StateStopped               = "Stopped"
	StateRemoving              = "Removing"
)

// Batch control states (what the admin asked for; the batch Status shown is
// derived from its users).
const (
	ControlCreated = "Created"
	ControlStarted = "Started"
	ControlStopped = "Stopped"
	ControlRemoved = "Removed"
)

// Data consistency scores.
const (
	ScorePerfect     = "Perfect"
	ScoreGood        = "Good"
	ScoreInvestigate = "Investigate"
	ScorePoor        = "Poor"
)

// Batch is a migration batch.
type Batch struct {
	ID                   string
	TenantID             string
	Name                 string
	EndpointID           string
	EndpointName         string
	TargetDeliveryDomain string
	AutoStart            bool
	AutoComplete         bool
	StartAfter           time.Time
	CompleteAfter        time.Time
	IncrementalInterval  time.Duration
	// MaxItemSize is the size cap: larger items are skipped as large
	// items. LargeItemLimit and BadItemLimit are how many skipped large
	// and bad items a user may have before it fails (LimitUnlimited: no
	// limit, the DataConsistencyScore decides).
	MaxItemSize        int64
	LargeItemLimit     int64
	BadItemLimit       int64
	NotificationEmails string
	// ReportInterval is how often a running batch mails its report to
	// NotificationEmails (0: only when Synced and Completed);
	// LastReportAt is when the last interval report went.
	ReportInterval time.Duration
	LastReportAt   time.Time
	// Filter limits what the batch's moves copy (nil: everything).
	Filter *replication.Filter
	// NotifyUsers mails each user before and after its cutover;
	// PasswordContinuity is PasswordNone, PasswordCarry or PasswordLink.
	NotifyUsers         bool
	PasswordContinuity  string
	Control             string
	ApproveSkipped      bool
	CreatedAt           time.Time
	StartedAt           time.Time
	CompletionRequested time.Time
	RemovedAt           time.Time
}

const batchCols = `id, tenant_id, name, endpoint_id, endpoint_name, target_delivery_domain, auto_start, auto_complete, start_after, complete_after,
	incremental_interval_ms, large_item_limit, notification_emails, control, approve_skipped, created_at, started_at, completion_requested_at, removed_at,
	max_item_size, bad_item_limit, report_interval_ms, last_report_at, item_filter, notify_users, password_continuity`

func scanBatch(sc interface{ Scan(...any) error }) (*Batch, error) {
	b := &Batch{}
	var sa, ca, ii, cr, st, crq, rm, ri, lr int64
	var filter string
	if err := sc.Scan(&b.ID, &b.TenantID, &b.Name, &b.EndpointID, &b.EndpointName, &b.TargetDeliveryDomain, &b.AutoStart, &b.AutoComplete,
		&sa, &ca, &ii, &b.LargeItemLimit, &b.NotificationEmails, &b.Control, &b.ApproveSkipped, &cr, &st, &crq, &rm,
		&b.MaxItemSize, &b.BadItemLimit, &ri, &lr, &filter, &b.NotifyUsers, &b.PasswordContinuity); err != nil {
		return nil, err
	}
	if filter != "" {
		b.Filter = &replication.Filter{}
		if err := json.Unmarshal([]byte(filter), b.Filter); err != nil {
			return nil, errs.Internalf(err, "batch %s: its filter", b.Name)
		}
	}
	b.ReportInterval, b.LastReportAt = time.Duration(ri)*time.Millisecond, db.Time(lr)
	b.StartAfter, b.CompleteAfter, b.IncrementalInterval = db.Time(sa), db.Time(ca), time.Duration(ii)*time.Millisecond
	b.CreatedAt, b.StartedAt, b.CompletionRequested, b.RemovedAt = db.Time(cr), db.Time(st), db.Time(crq), db.Time(rm)
	return b, nil
}

// Move is one user of a batch: a move request.
type Move struct {
	ID                string
	BatchID           string
	TenantID          string
	Email             string
	CSVLine           int
	MailboxType       string
	Active            bool
	State             string
	StatusDetail      string
	ErrorCode         string
	ErrorMessage      string
	TargetRecipientID string
	SourceTenantID    string
	SourceAddress     string
	ExchangeGuid      string
	ArchiveGuid       string
	ItemsTotal        int64
	ItemsSynced       int64
	ItemsSkipped      int64
	// ItemsByClass splits ItemsSynced by folder class (IPF.Note,
	// IPF.Appointment, IPF.Contact, IPF.Task); nil before the first pass.
	ItemsByClass        map[string]int64
	BytesTotal          int64
	BytesTransferred    int64
	Consistency         string
	CompletionStep      string
	SyncGen             int64 // sync requests made
	SyncedGen           int64 // sync requests covered by a finished pass
	PassJob             int64 // the job running the current pass
	QueuedAt            time.Time
	StartedAt           time.Time
	InitialSyncDoneAt   time.Time
	InitialSyncDuration time.Duration
	LastSyncAt          time.Time
	LastSyncDuration    time.Duration
	CompletionStartedAt time.Time
	CompletedAt         time.Time
	LockStartedAt       time.Time
	LockEndedAt         time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
	// CompleteRequested and ApproveSkipped are the user's own completion
	// request and approval of skipped items (migrationuser), beside the
	// batch's.
	CompleteRequested bool
	ApproveSkipped    bool
	// CompleteAfter is the user's own completion time (Set-MigrationUser
	// -CompleteAfter; zero: its batch's schedule). LargeItemLimit and
	// BadItemLimit are its own limits (LimitBatch: its batch's).
	CompleteAfter  time.Time
	LargeItemLimit int64
	BadItemLimit   int64
	// UserNotifiedBefore and UserNotifiedAfter are when the user's
	// before- and after-cutover mails went (zero: not yet).
	UserNotifiedBefore, UserNotifiedAfter time.Time
	// RepairRequested makes the next pass a full comparison (ResyncUser).
	RepairRequested bool
}

const moveCols = `id, batch_id, tenant_id, email, csv_line, mailbox_type, active, state, status_detail, error_code, error_message,
	target_recipient_id, source_tenant_id, source_address, exchange_guid, archive_guid, items_total, items_synced, items_skipped, bytes_total,
	bytes_transferred, consistency, completion_step, sync_gen, synced_gen, pass_job, queued_at, started_at, initial_sync_done_at, initial_sync_ms, last_sync_at,
	last_sync_ms, completion_started_at, completed_at, lock_started_at, lock_ended_at, created_at, updated_at, items_by_class,
	complete_requested, approve_skipped, complete_after, large_item_limit, bad_item_limit, user_notified_before_at, user_notified_after_at,
	repair_requested`

func scanMove(sc interface{ Scan(...any) error }) (*Move, error) {
	m := &Move{}
	var q, st, isd, ism, ls, lsm, cs, ca, lks, lke, cr, up, uca, unb, una int64
	var byClass string
	if err := sc.Scan(&m.ID, &m.BatchID, &m.TenantID, &m.Email, &m.CSVLine, &m.MailboxType, &m.Active, &m.State, &m.StatusDetail,
		&m.ErrorCode, &m.ErrorMessage, &m.TargetRecipientID, &m.SourceTenantID, &m.SourceAddress, &m.ExchangeGuid, &m.ArchiveGuid,
		&m.ItemsTotal, &m.ItemsSynced, &m.ItemsSkipped, &m.BytesTotal, &m.BytesTransferred, &m.Consistency, &m.CompletionStep,
		&m.SyncGen, &m.SyncedGen, &m.PassJob, &q, &st, &isd, &ism, &ls, &lsm, &cs, &ca, &lks, &lke, &cr, &up, &byClass,
		&m.CompleteRequested, &m.ApproveSkipped, &uca, &m.LargeItemLimit, &m.BadItemLimit, &unb, &una, &m.RepairRequested); err != nil {
		return nil, err
	}
	if byClass != "" {
		json.Unmarshal([]byte(byClass), &m.ItemsByClass)
	}
	m.QueuedAt, m.StartedAt, m.InitialSyncDoneAt, m.LastSyncAt = db.Time(q), db.Time(st), db.Time(isd), db.Time(ls)
	m.InitialSyncDuration, m.LastSyncDuration = time.Duration(ism)*time.Millisecond, time.Duration(lsm)*time.Millisecond
	m.CompletionStartedAt, m.CompletedAt, m.LockStartedAt, m.LockEndedAt = db.Time(cs), db.Time(ca), db.Time(lks), db.Time(lke)
	m.CreatedAt, m.UpdatedAt, m.CompleteAfter = db.Time(cr), db.Time(up), db.Time(uca)
	m.UserNotifiedBefore, m.UserNotifiedAfter = db.Time(unb), db.Time(una)
	return m, nil
}

// Finished reports whether the move reached a final state.
func (m *Move) Finished() bool {
	return m.State == StateCompleted || m.State == StateCompletedWithWarnings
}

func (s *Service) getMove(ctx context.Context, q db.Querier, id string) (*Move, error) {
	m, err := scanMove(q.QueryRowContext(ctx, `SELECT `+moveCols+` FROM moves WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, ErrMoveNotFound.Newf("move request %s was not found", id)
	}
	return m, err
}

func (s *Service) getBatchByID(ctx context.Context, q db.Querier, id string) (*Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, `SELECT `+batchCols+` FROM batches WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, errs.NotFoundf("BatchNotFound", "migration batch %s was not found", id)
	}
	return b, err
}

func (s *Service) batchMoves(ctx context.Context, q db.Querier, batchID string) ([]*Move, error) {
	return queryMoves(ctx, q, `SELECT `+moveCols+` FROM moves WHERE batch_id = ? ORDER BY csv_line`, batchID)
}

// activeMoves returns the moves of a batch that are still its users.
func (s *Service) activeMoves(ctx context.Context, q db.Querier, batchID string) ([]*Move, error) {
	return queryMoves(ctx, q, `SELECT `+moveCols+` FROM moves WHERE batch_id = ? AND active = ? ORDER BY csv_line`, batchID, true)
}

// queryMoves runs a query of moveCols and scans its moves.
func queryMoves(ctx context.Context, q db.Querier, query string, args ...any) ([]*Move, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Move
	for rows.Next() {
		m, err := scanMove(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// logMove appends a line to a move's report log.
func logMove(ctx context.Context, tx *db.Tx, moveID, level, msg string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO move_log (move_id, at, level, message) VALUES (?, ?, ?, ?)`, moveID, db.Now(), level, msg)
	return err
}

// errStateChanged reports that another worker changed the move's state
// first (optimistic concurrency: every transition names the state it
// leaves).
var errStateChanged = ErrStateChanged.Newf("the move request's state changed concurrently")

// setState persists a transition from m.State (compare-and-set: it fails
// with StateChanged when the stored state is no longer m.State) and logs it.
func (s *Service) setState(ctx context.Context, tx *db.Tx, m *Move, state, detail string) error {
	now := db.Now()
	res, err := tx.ExecContext(ctx, `UPDATE moves SET state = ?, status_detail = ?, updated_at = ? WHERE id = ? AND state = ?`, state, detail, now, m.ID, m.State)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errStateChanged
	}
	msg := m.State + " → " + state
	if m.State == state {
		msg = state // the detail changed, not the state
	}
	if detail != "" {
		msg += ": " + detail
	}
	if m.State != state || detail != m.StatusDetail {
		if err := logMove(ctx, tx, m.ID, "info", msg); err != nil {
			return err
		}
	}
	m.State, m.StatusDetail = state, detail
	return nil
}

// fail records a move's failure with a coded error.
func (s *Service) fail(ctx context.Context, m *Move, err error) error {
	e := errs.As(err)
	code, msg := "InternalError", err.Error()
	if e != nil {
		code, msg = e.Code, e.Message
		if e.Hint != "" {
			msg += " (" + e.Hint + ")"
		}
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET error_code = ?, error_message = ? WHERE id = ?`, code, msg, m.ID); err != nil {
			return err
		}
		if err := logMove(ctx, tx, m.ID, "error", code+": "+msg); err != nil {
			return err
		}
		return s.setState(ctx, tx, m, StateFailed, code)
	})
}
