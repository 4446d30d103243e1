package migration

import (
	"context"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// BatchView is a batch as `batch show` prints it: settings, the derived
// Status and the number of users per state.
type BatchView struct {
	// Id identifies the batch for good: a removed batch's name may be
	// used again, its history stays reachable by Id.
	Id                      string
	Identity                string
	Name                    string
	Status                  string
	Endpoint                string
	TargetDeliveryDomain    string
	AutoStart               bool
	AutoComplete            bool
	StartAfter              *time.Time `json:",omitempty"`
	CompleteAfter           *time.Time `json:",omitempty"`
	IncrementalSyncInterval string
	// MaxItemSize is the size cap in bytes; LargeItemLimit and
	// BadItemLimit are counts of skipped items (-1: unlimited).
	MaxItemSize        int64
	LargeItemLimit     int64
	BadItemLimit       int64
	NotificationEmails string `json:",omitempty"`
	// ReportInterval is how often a running batch mails its report ("0s":
	// only when Synced and Completed).
	ReportInterval string
	// Filter is what the batch copies; absent, everything.
	Filter *FilterView `json:",omitempty"`
	// NotifyUsers mails the users before and after their cutover;
	// PasswordContinuity is "", "carry" or "link".
	NotifyUsers         bool
	PasswordContinuity  string
	ApproveSkippedItems bool
	TotalCount          int
	ActiveCount         int
	SyncedCount         int
	FinalizedCount      int
	FailedCount         int
	StoppedCount        int
	Counts              map[string]int
	CreationDateTime    time.Time
	StartDateTime       *time.Time `json:",omitempty"`
	CompletionRequested *time.Time `json:",omitempty"`
	RemovedDateTime     *time.Time `json:",omitempty"`
	// ItemsSynced and BytesTransferred add up the users';
	// ItemsPerSecond and BytesPerSecond are the batch's aggregate
	// throughput of initial syncs, on every node: from the first user's
	// start to the last user's initial sync (or now, while some sync).
	ItemsSynced      int64
	BytesTransferred int64
	ItemsPerSecond   float64
	BytesPerSecond   float64
}

// FilterView shows a batch's filter.
type FilterView struct {
	Since          *time.Time `json:",omitempty"`
	Before         *time.Time `json:",omitempty"`
	IncludeFolders []string   `json:",omitempty"`
	ExcludeFolders []string   `json:",omitempty"`
	MapFolders     []string   `json:",omitempty"`
}

func viewFilter(f *replication.Filter) *FilterView {
	if f.Empty() {
		return nil
	}
	return &FilterView{Since: tp(f.Since), Before: tp(f.Before), IncludeFolders: f.IncludeFolders, ExcludeFolders: f.ExcludeFolders, MapFolders: f.MapFolders}
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// batchStatus derives a batch's Status from its control state and users.
func batchStatus(b *Batch, ms []*Move) string {
	switch b.Control {
	case ControlCreated, ControlStopped, ControlRemoved:
		return b.Control
	}
	var syncing, synced, completing, completed, failed, stopped int
	for _, m := range ms {
		switch m.State {
		case StateQueued, StateValidating, StateSyncing, StateIncrementalSyncing:
			syncing++
		case StateSynced:
			synced++
			if m.ErrorCode != "" {
				failed++
			}
		case StateCompleting:
			completing++
		case StateCompleted, StateCompletedWithWarnings:
			completed++
		case StateFailed:
			failed++
		case StateStopping, StateStopped:
			stopped++
		}
	}
	switch {
	case completing > 0:
		return "Completing"
	case syncing > 0:
		return "Syncing"
	case len(ms) > 0 && completed == len(ms):
		return "Completed"
	case completed > 0 && synced == 0:
		return "CompletedWithErrors"
	case len(ms) > 0 && failed == len(ms):
		return "Failed"
	case synced > 0 && failed > 0:
		return "SyncedWithErrors"
	case synced > 0:
		return "Synced"
	case stopped > 0:
		return "Stopped"
	}
	return "Syncing"
}

// ViewBatch builds the BatchView of a batch.
func (s *Service) ViewBatch(ctx context.Context, b *Batch) (*BatchView, error) {
	ms, err := s.Moves(ctx, b)
	if err != nil {
		return nil, err
	}
	v := &BatchView{Id: b.ID, Identity: b.Name, Name: b.Name, Status: batchStatus(b, ms), Endpoint: b.EndpointName, TargetDeliveryDomain: b.TargetDeliveryDomain,
		AutoStart: b.AutoStart, AutoComplete: b.AutoComplete, StartAfter: tp(b.StartAfter), CompleteAfter: tp(b.CompleteAfter),
		IncrementalSyncInterval: b.IncrementalInterval.String(), MaxItemSize: b.MaxItemSize, LargeItemLimit: b.LargeItemLimit,
		BadItemLimit: b.BadItemLimit, ReportInterval: b.ReportInterval.String(), Filter: viewFilter(b.Filter), NotifyUsers: b.NotifyUsers, PasswordContinuity: b.PasswordContinuity, NotificationEmails: b.NotificationEmails, ApproveSkippedItems: b.ApproveSkipped,
		TotalCount: len(ms), Counts: map[string]int{}, CreationDateTime: b.CreatedAt, StartDateTime: tp(b.StartedAt),
		CompletionRequested: tp(b.CompletionRequested), RemovedDateTime: tp(b.RemovedAt)}
	for _, m := range ms {
		v.Counts[m.State]++
		switch m.State {
		case StateQueued, StateValidating, StateSyncing, StateIncrementalSyncing, StateCompleting:
			v.ActiveCount++
		case StateSynced:
			v.SyncedCount++
		case StateCompleted, StateCompletedWithWarnings:
			v.FinalizedCount++
		case StateFailed:
			v.FailedCount++
		case StateStopped, StateStopping:
			v.StoppedCount++
		}
	}
	batchThroughput(v, ms, time.Now())
	return v, nil
}

// batchThroughput fills the batch's totals and aggregate throughput from
// its users' rows: items and bytes over the span from the first start to
// the last initial sync (now while a user has started and not finished).
func batchThroughput(v *BatchView, ms []*Move, now time.Time) {
	var first, last time.Time
	for _, m := range ms {
		v.ItemsSynced += m.ItemsSynced
		v.BytesTransferred += m.BytesTransferred
		if m.StartedAt.IsZero() {
			continue
		}
		if first.IsZero() || m.StartedAt.Before(first) {
			first = m.StartedAt
		}
		end := m.InitialSyncDoneAt
		if end.IsZero() {
			if m.State != StateValidating && m.State != StateSyncing {
				continue // failed or stopped before its initial sync ended
			}
			end = now
		}
		if end.After(last) {
			last = end
		}
	}
	if span := last.Sub(first).Seconds(); !first.IsZero() && span > 0 {
		v.ItemsPerSecond = float64(v.ItemsSynced) / span
		v.BytesPerSecond = float64(v.BytesTransferred) / span
	}
}

// ErrorView is a move's error.
type ErrorView struct {
	Code    string
	Message string
}

// UserView is one user of a batch as `batch users` prints it
// (Get-MigrationUser / Get-MigrationUserStatistics).
type UserView struct {
	EmailAddress string
	// Batch names the user's batch (migrationuser list and show).
	Batch           string `json:",omitempty"`
	Status          string
	StatusDetail    string
	PercentComplete int
	ItemsTotal      int64
	ItemsSynced     int64
	ItemsSkipped    int64
	// Synced items per kind: mail, calendar items, contacts and tasks
	// (folder classes IPF.Note, IPF.Appointment, IPF.Contact, IPF.Task).
	MailItems                   int64
	CalendarItems               int64
	ContactItems                int64
	TaskItems                   int64
	BytesTotal                  int64
	BytesTransferred            int64
	DataConsistencyScore        string
	Error                       *ErrorView `json:",omitempty"`
	SourceAddress               string
	ExchangeGuid                string
	ArchiveGuid                 string `json:",omitempty"`
	MailboxType                 string
	CurrentBytesPerSecond       float64
	AverageBytesPerSecond       float64
	QueuedTime                  *time.Time `json:",omitempty"`
	StartTime                   *time.Time `json:",omitempty"`
	InitialSeedingCompletedTime *time.Time `json:",omitempty"`
	InitialSyncDuration         string
	LastSuccessfulSyncTime      *time.Time `json:",omitempty"`
	LastSyncDuration            string
	CompletionStartTime         *time.Time `json:",omitempty"`
	CompletedTime               *time.Time `json:",omitempty"`
	LockWindow                  string
	LockWindowMs                int64
	// CompleteAfter, LargeItemLimit and BadItemLimit are the user's own
	// settings (migrationuser set); null, its batch's apply. (Always
	// present, so that CSV reports have the same columns for every user.)
	CompleteAfter  *time.Time
	LargeItemLimit *int64
	BadItemLimit   *int64
}

// ViewUser builds the UserView of a move.
func (s *Service) ViewUser(m *Move) *UserView {
	v := &UserView{EmailAddress: m.Email, Status: m.State, StatusDetail: m.StatusDetail, ItemsTotal: m.ItemsTotal, ItemsSynced: m.ItemsSynced,
		ItemsSkipped: m.ItemsSkipped, BytesTotal: m.BytesTotal, BytesTransferred: m.BytesTransferred, DataConsistencyScore: m.Consistency,
		SourceAddress: m.SourceAddress, ExchangeGuid: m.ExchangeGuid, ArchiveGuid: m.ArchiveGuid, MailboxType: m.MailboxType,
		QueuedTime: tp(m.QueuedAt), StartTime: tp(m.StartedAt), InitialSeedingCompletedTime: tp(m.InitialSyncDoneAt),
		InitialSyncDuration: m.InitialSyncDuration.String(), LastSuccessfulSyncTime: tp(m.LastSyncAt), LastSyncDuration: m.LastSyncDuration.String(),
		CompletionStartTime: tp(m.CompletionStartedAt), CompletedTime: tp(m.CompletedAt),
		MailItems: m.ItemsByClass[mailstore.ClassNote], CalendarItems: m.ItemsByClass[mailstore.ClassAppointment],
		ContactItems: m.ItemsByClass[mailstore.ClassContact], TaskItems: m.ItemsByClass[mailstore.ClassTask]}
	if m.ErrorCode != "" {
		v.Error = &ErrorView{Code: m.ErrorCode, Message: m.ErrorMessage}
	}
	v.CompleteAfter = tp(m.CompleteAfter)
	if m.LargeItemLimit != LimitBatch {
		v.LargeItemLimit = &m.LargeItemLimit
	}
	if m.BadItemLimit != LimitBatch {
		v.BadItemLimit = &m.BadItemLimit
	}
	switch {
	case m.Finished():
		v.PercentComplete = 100
	case m.ItemsTotal > 0:
		v.PercentComplete = int(min(100, m.ItemsSynced*100/m.ItemsTotal))
		if m.State == StateSynced || m.State == StateCompleting {
			v.PercentComplete = min(v.PercentComplete, 95) // the rest is the completion
		}
	case m.State == StateSynced:
		v.PercentComplete = 95
	}
	if !m.LockStartedAt.IsZero() && !m.LockEndedAt.IsZero() {
		lw := m.LockEndedAt.Sub(m.LockStartedAt)
		v.LockWindow, v.LockWindowMs = lw.String(), lw.Milliseconds()
	}
	if m.InitialSyncDuration > 0 {
		v.AverageBytesPerSecond = float64(m.BytesTransferred) / m.InitialSyncDuration.Seconds()
	}
	v.CurrentBytesPerSecond = s.rates.current(m.ID)
	return v
}

// LogLine is one line of a move's report log.
type LogLine struct {
	Time    time.Time
	Level   string
	Message string
}

// SkippedView is one skipped item.
type SkippedView struct {
	Mailbox string
	Folder  string
	Subject string
	Date    time.Time
	Size    int64
	Reason  string
}

// ReportView is a user's report: statistics, skipped items and the
// timestamped log.
type ReportView struct {
	*UserView
	SkippedItems []SkippedView
	Report       []LogLine
}

// Report returns the report of one move.
func (s *Service) Report(ctx context.Context, m *Move) (*ReportView, error) {
	rv := &ReportView{UserView: s.ViewUser(m), SkippedItems: []SkippedView{}, Report: []LogLine{}}
	rows, err := s.D.Read().QueryContext(ctx, `SELECT kind, folder, subject, item_date, size, reason FROM move_skipped WHERE move_id = ? ORDER BY id`, m.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var sk SkippedView
		var d int64
		if err := rows.Scan(&sk.Mailbox, &sk.Folder, &sk.Subject, &d, &sk.Size, &sk.Reason); err != nil {
			rows.Close()
			return nil, err
		}
		sk.Date = db.Time(d)
		rv.SkippedItems = append(rv.SkippedItems, sk)
	}
	rows.Close()
	rows, err = s.D.Read().QueryContext(ctx, `SELECT at, level, message FROM move_log WHERE move_id = ? ORDER BY id`, m.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var l LogLine
		var at int64
		if err := rows.Scan(&at, &l.Level, &l.Message); err != nil {
			return nil, err
		}
		l.Time = db.Time(at)
		rv.Report = append(rv.Report, l)
	}
	return rv, rows.Err()
}

// rateMeter tracks the current transfer rate of running moves (this
// process only).
type rateMeter struct {
	mu sync.Mutex
	m  map[string]*moveRate
}

type moveRate struct {
	start time.Time
	bytes int64
	last  time.Time
}

func (r *rateMeter) add(moveID string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*moveRate{}
	}
	now := time.Now()
	x := r.m[moveID]
	if x == nil || now.Sub(x.last) > 30*time.Second {
		x = &moveRate{start: now}
		r.m[moveID] = x
	}
	x.bytes += n
	x.last = now
}

func (r *rateMeter) current(moveID string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	x := r.m[moveID]
	if x == nil || time.Since(x.last) > 10*time.Second {
		return 0
	}
	d := x.last.Sub(x.start).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(x.bytes) / d
}
