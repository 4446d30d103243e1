package migration

import (
	"github.com/tenantferry/tenantferry/internal/jobs"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/replication/imapsrc"
	"github.com/tenantferry/tenantferry/internal/units"
)

// syncWorker runs one sync pass of a move: validation, then the initial or
// an incremental sync of the primary and archive mailboxes.
type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	s *Service
}

// Timeout lets a pass run as long as it needs (a multi-GB initial sync).
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return -1 }

// slotWait is how long a move waits for another job's pass to end.
const slotWait = 2 * time.Second

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	s := w.s
	select {
	case <-s.ctl.draining():
		return river.JobSnooze(0) // fetched while the runner stops: for another node
	default:
	}
	m, err := s.getMove(ctx, s.D.Read(), job.Args.MoveID)
	if errors.Is(err, ErrMoveNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	b, err := s.getBatchByID(ctx, s.D.Read(), m.BatchID)
	if err != nil {
		return err
	}
	switch {
	case !m.Active || b.Control == ControlRemoved:
		return nil
	case b.Control == ControlStopped || m.State == StateStopping:
		return s.D.Write(ctx, func(tx *db.Tx) error { return s.setState(ctx, tx, m, StateStopped, "StoppedByAdmin") })
	}
	switch m.State {
	case StateQueued, StateValidating, StateSyncing, StateSynced, StateIncrementalSyncing:
	default:
		return nil // completing, completed, failed, stopped: nothing to sync
	}
	passing := m.State == StateValidating || m.State == StateSyncing || m.State == StateIncrementalSyncing
	if !passing && m.SyncedGen >= job.Args.Gen && !m.InitialSyncDoneAt.IsZero() {
		return nil // a pass that started after this request covered it
	}
	if passing && m.PassJob != 0 && m.PassJob != job.ID {
		// Another job holds the pass. While it lives, wait; a job that
		// died (a killed process) leaves the pass to whoever comes next.
		alive, err := jobs.Alive(ctx, s.D.Read(), m.PassJob)
		if err != nil {
			return err
		}
		if alive {
			return river.JobSnooze(slotWait)
		}
	}
	ep, err := s.Dir.GetEndpoint(ctx, m.TenantID, b.EndpointID)
	if err != nil {
		return s.fail(ctx, m, err)
	}
	initial := m.InitialSyncDoneAt.IsZero()
	limit := ep.MaxConcurrentIncrementalSyncs
	if initial {
		limit = ep.MaxConcurrentMigrations
	}
	slot, err := s.acquireEndpointSlot(ctx, ep, m.ID, limit, job.ID)
	if err != nil {
		return err
	}
	if slot == nil {
		return river.JobSnooze(slotFallback) // woken by the release of a slot
	}
	defer slot.release()
	ctx = withThrottle(ctx, slot.limiter)
	if ep.Type != directory.EndpointIMAP {
		ctx = relaxedPass(ctx)
	}
	claimed, err := s.claimPass(ctx, m, job.ID, initial)
	if errors.Is(err, ErrStateChanged) {
		return river.JobSnooze(slotWait)
	}
	if err != nil {
		return err
	}
	m.PassJob = job.ID
	pctx, stopPass := s.passContext(ctx)
	pctx, unwatch := s.running.watch(pctx, m.ID)
	err = s.syncMove(pctx, b, m, ep, initial, claimed)
	unwatch()
	stopPass()
	return s.afterPass(ctx, pctx, job, m, err)
}

// claimPass takes the pass of move m for job jobID and, for an initial
// pass, records its start (the move is Validating) in the same
// transaction: one commit less per move. It returns the move's sync
// generation at the claim; ErrStateChanged means another job took the
// pass first.
func (s *Service) claimPass(ctx context.Context, m *Move, jobID int64, initial bool) (int64, error) {
	claimed := m.SyncGen
	from, fromDetail := m.State, m.StatusDetail
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		m.State, m.StatusDetail = from, fromDetail // a retried transaction starts over
		res, err := tx.ExecContext(ctx, `UPDATE moves SET pass_job = ? WHERE id = ? AND pass_job = ?`, jobID, m.ID, m.PassJob)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errStateChanged
		}
		if err := logMove(ctx, tx, m.ID, "info", "pass started on node "+s.nodeID()); err != nil {
			return err
		}
		if err := s.beginPass(ctx, tx, m, initial); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT sync_gen FROM moves WHERE id = ?`, m.ID).Scan(&claimed)
	})
	return claimed, err
}

// afterPass turns the end of a pass (err from syncMove, pctx its context)
// into the job's result: a yielded or drained pass goes to the back of
// the queue for any node, and the last attempt of a failing pass fails
// the move instead of leaving it in its state.
func (s *Service) afterPass(ctx, pctx context.Context, job *river.Job[SyncArgs], m *Move, err error) error {
	if err != nil && handedOver(ctx, pctx) {
		// Yielded or drained: back of the queue, for any node; the pass
		// resumes from what it committed.
		why := context.Cause(pctx)
		s.Log.Info("migration: pass handed over", "move", m.ID, "user", m.Email, "why", why)
		wctx := context.WithoutCancel(ctx)
		if err := s.D.Write(wctx, func(tx *db.Tx) error {
			return logMove(wctx, tx, m.ID, "info", "pass handed over: "+why.Error())
		}); err != nil {
			s.Log.Warn("migration: log a handed-over pass", "move", m.ID, "err", err)
		}
		return river.JobSnooze(0)
	}
	if err != nil && ctx.Err() == nil && job.Attempt >= job.MaxAttempts {
		// The last attempt: the move fails with the error instead of
		// waiting in its state forever.
		if cur, gerr := s.getMove(ctx, s.D.Read(), m.ID); gerr == nil {
			return s.fail(ctx, cur, err)
		}
	}
	return err
}

// relaxedPass lets the writes of a native move's sync pass commit without
// waiting for the WAL flush (db.RelaxedCommit): a small mailbox's pass is
// some thirty bookkeeping commits — its claim and states with their log
// lines, the staging mailbox and its folders, chunks with their
// watermarks, the slot's release — and waiting for a flush each bounded a
// batch of small moves (docs/architecture.md §8).
//
// Why losing the last of them in a crash of the database server is safe:
//   - Everything a native pass writes is the move's own bookkeeping or its
//     staging mailbox, which no client sees before the completion; the
//     pass tells the source nothing (registering is idempotent, the rest
//     are reads), so no one outside the database acts on these commits.
//   - A lost chunk loses its watermark with it (one transaction), so the
//     next pass copies those items again, keyed by origin: nothing is
//     duplicated; pack bytes written for it are unreferenced, and GC
//     deletes files only after durable commits of its own, which flush
//     the log up to them (the log is a prefix).
//   - The pass's River job is marked finished by a durable commit after
//     the pass; until that commit is flushed, the relaxed ones before it
//     may be lost, and then so is the job's completion, so the pass runs
//     again from what survived.
//   - Not relaxed: taking a concurrency slot (the endpoint's limit must
//     hold after a crash of the database server too), the completion job
//     (the source's lock and finalize, the cutover, the recipient's
//     conversion: its own job, durable), IMAP and DAV passes (they write
//     into a live mailbox whose UIDs a client may already have seen).
func relaxedPass(ctx context.Context) context.Context { return db.RelaxedCommit(ctx) }

// beginPass records the start of an initial pass in tx: the move is
// Validating.
func (s *Service) beginPass(ctx context.Context, tx *db.Tx, m *Move, initial bool) error {
	if !initial {
		return nil
	}
	if m.StartedAt.IsZero() {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET started_at = ? WHERE id = ?`, db.Now(), m.ID); err != nil {
			return err
		}
	}
	return s.setState(ctx, tx, m, StateValidating, "")
}

// syncMove validates and runs one pass for every mailbox of the move.
// ep is the batch's endpoint, read when the pass was claimed.
func (s *Service) syncMove(ctx context.Context, b *Batch, m *Move, ep *directory.Endpoint, initial bool, gen int64) error {
	if ep.Type == directory.EndpointIMAP {
		return s.syncIMAP(ctx, b, m, ep, initial, gen)
	}
	v := &validation{}
	p := s.validateEndpointWith(ctx, v, m.TenantID, ep, true)
	s.validateUser(ctx, v, p, m.TenantID, m.Email, m.SourceAddress, b.TargetDeliveryDomain, b.ID)
	validateMailboxType(v, p, m.Email, m.MailboxType)
	if v.failed != nil {
		return s.passFailed(ctx, m, v.failed)
	}
	// The source lets only a registered move lock and finalize the
	// mailbox: register (again) at every pass, which is idempotent.
	if _, err := p.client.Register(ctx, m.ID, replication.RegisterRequest{Mailbox: p.mailbox.ExchangeGuid, TargetDeliveryDomain: b.TargetDeliveryDomain}); err != nil {
		return s.passFailed(ctx, m, err)
	}
	kinds := s.mailboxKinds(m, p)
	var totalItems, totalBytes int64
	for _, k := range kinds {
		if k.kind == mailstore.KindPrimary {
			totalItems, totalBytes = totalItems+p.mailbox.Items, totalBytes+p.mailbox.Bytes
		} else {
			totalItems, totalBytes = totalItems+p.mailbox.ArchiveItems, totalBytes+p.mailbox.ArchiveBytes
		}
	}
	state := StateIncrementalSyncing
	if initial {
		state = StateSyncing
	}
	stages, err := s.findStaging(ctx, m.TenantID, kinds)
	if err != nil {
		return s.passFailed(ctx, m, err)
	}
	from, fromDetail := m.State, m.StatusDetail
	var created []*mailstore.Mailbox
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		m.State, m.StatusDetail = from, fromDetail // a retried transaction starts over
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET target_recipient_id = ?, source_tenant_id = ?, source_address = ?, exchange_guid = ?,
			archive_guid = ?, items_total = ?, bytes_total = ?, error_code = '', error_message = '' WHERE id = ?`,
			p.target.ID, p.source.TenantId, p.mailbox.PrimarySmtpAddress, p.mailbox.ExchangeGuid, p.mailbox.ArchiveGuid,
			totalItems, totalBytes, m.ID); err != nil {
			return err
		}
		if created, err = s.createStaging(ctx, tx, m, kinds, stages); err != nil {
			return err
		}
		return s.setState(ctx, tx, m, state, "")
	}); err != nil {
		return s.passFailed(ctx, m, err)
	}
	m.ExchangeGuid, m.ArchiveGuid, m.SourceAddress = p.mailbox.ExchangeGuid, p.mailbox.ArchiveGuid, p.mailbox.PrimarySmtpAddress

	start := time.Now()
	var total replication.PassResult
	for i, k := range kinds {
		fresh := stages[i] == nil
		mb := stages[i]
		if fresh {
			mb = created[i]
		}
		res, err := s.runPass(ctx, b, m, p, k, mb, fresh)
		if err != nil {
			return s.passFailed(ctx, m, err)
		}
		total.Delta = addDelta(total.Delta, res.Delta)
	}
	return s.endPass(ctx, m, initial, gen, time.Since(start), total.Delta, false)
}

// totalsFollowSynced is the SET clause (two arguments: the items synced,
// twice) that keeps a move's totals at least what it synced: items that
// reach the source during a pass (or between the last pass and the
// completion's final sync) are copied too, so ItemsSynced ≤ ItemsTotal and
// BytesTransferred ≤ BytesTotal hold in every view and mail.
const totalsFollowSynced = `items_total = CASE WHEN items_total < ? THEN ? ELSE items_total END,
	bytes_total = CASE WHEN bytes_total < bytes_transferred THEN bytes_transferred ELSE bytes_total END`

// endPass records a finished pass: statistics, the report line, Synced,
// and the completion when it is due.
func (s *Service) endPass(ctx context.Context, m *Move, initial bool, gen int64, took time.Duration, total replication.Delta, imap bool) error {
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		b, err := s.getBatchByID(ctx, tx, m.BatchID)
		if err != nil {
			return err
		}
		if err := s.checkSkippedLimits(ctx, tx, b, m); err != nil {
			return err
		}
		synced, byClass, err := s.countTarget(ctx, tx, m, imap)
		if err != nil {
			return err
		}
		now := db.Now()
		q := `UPDATE moves SET items_synced = ?, items_by_class = ?, last_sync_at = ?, last_sync_ms = ?, updated_at = ?, pass_job = 0,
			synced_gen = CASE WHEN synced_gen < ? THEN ? ELSE synced_gen END, ` + totalsFollowSynced + ` WHERE id = ?`
		args := []any{synced, byClass, now, took.Milliseconds(), now, gen, gen, synced, synced, m.ID}
		if initial {
			q = `UPDATE moves SET items_synced = ?, items_by_class = ?, last_sync_at = ?, last_sync_ms = ?, updated_at = ?, pass_job = 0,
				synced_gen = CASE WHEN synced_gen < ? THEN ? ELSE synced_gen END, initial_sync_done_at = ?, initial_sync_ms = ?, ` +
				totalsFollowSynced + ` WHERE id = ?`
			args = []any{synced, byClass, now, took.Milliseconds(), now, gen, gen, now, took.Milliseconds(), synced, synced, m.ID}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		if m.RepairRequested {
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET repair_requested = ? WHERE id = ?`, false, m.ID); err != nil {
				return err
			}
			if err := logMove(ctx, tx, m.ID, "info", "resync done: the target holds what the source holds"); err != nil {
				return err
			}
		}
		if !b.Filter.Empty() {
			// The source's size counts what the filter leaves out: after a
			// pass the selection is what there is to copy.
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET items_total = items_synced + items_skipped WHERE id = ?`, m.ID); err != nil {
				return err
			}
		}
		kind := "incremental"
		if initial {
			kind = "initial"
		}
		msg := fmt.Sprintf("%s sync finished in %s: %d new items (%s), %d updated, %d deleted, %d skipped",
			kind, took.Round(time.Millisecond), total.Items, units.Bytes(total.Bytes), total.Updated, total.Deleted, total.Skipped)
		if err := logMove(ctx, tx, m.ID, "info", msg); err != nil {
			return err
		}
		if err := s.setState(ctx, tx, m, StateSynced, ""); err != nil {
			return err
		}
		if s.completionDue(b, m) {
			return s.enqueueComplete(ctx, tx, m.ID)
		}
		return nil
	})
	if err != nil {
		return s.passFailed(ctx, m, err)
	}
	return nil
}

// passFailed records a failed pass: a stop request stops the move, a
// temporary failure is retried by the queue with backoff, anything else
// fails the move with its code.
func (s *Service) passFailed(ctx context.Context, m *Move, err error) error {
	if cur, gerr := s.getMove(context.WithoutCancel(ctx), s.D.Read(), m.ID); gerr == nil && cur.State == StateStopping {
		return s.D.Write(context.WithoutCancel(ctx), func(tx *db.Tx) error { return s.setState(ctx, tx, cur, StateStopped, "StoppedByAdmin") })
	}
	if errors.Is(err, ErrStateChanged) {
		return nil // another worker (stop, completion) owns the move now
	}
	if ctx.Err() != nil {
		// Shutting down, draining or yielding: whatever error the
		// cancellation caused, the job runs again.
		return ctx.Err()
	}
	if e := errs.As(err); e != nil && e.Kind != errs.Unavailable && e.Kind != errs.Internal {
		return s.fail(ctx, m, err)
	}
	// Show the failure while the queue retries: Error carries the code,
	// StatusDetail says the move is retrying; the next good pass clears both.
	code, msg := errs.CodeOf(err), err.Error()
	if e := errs.As(err); e != nil {
		msg = e.Message
	}
	s.D.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET error_code = ?, error_message = ?, status_detail = ? WHERE id = ?`,
			code, msg, "TransientFailure", m.ID); err != nil {
			return err
		}
		return logMove(ctx, tx, m.ID, "warning", "transient failure, retrying: "+err.Error())
	})
	return err
}

// syncRetryMax caps the delay between attempts of a failing sync.
const syncRetryMax = 10 * time.Minute

// NextRetry retries a transient sync failure after 1 s, 2 s, 4 s, ... up
// to syncRetryMax: the 25 attempts span about three hours before the move
// fails.
func (w *syncWorker) NextRetry(job *river.Job[SyncArgs]) time.Time {
	d := time.Second
	for i := 0; i < len(job.Errors) && d < syncRetryMax; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, syncRetryMax))
}

// mailboxKind is one mailbox of a move: the source GUID and its kind.
type mailboxKind struct {
	kind mailstore.MailboxKind
	guid string
}

// mailboxKinds lists the mailboxes to move per the CSV's MailboxType.
func (s *Service) mailboxKinds(m *Move, p *plan) []mailboxKind {
	var out []mailboxKind
	if m.MailboxType != MailboxTypeArchiveOnly {
		out = append(out, mailboxKind{mailstore.KindPrimary, p.mailbox.ExchangeGuid})
	}
	if p.mailbox.ArchiveGuid != "" && m.MailboxType != MailboxTypePrimaryOnly {
		out = append(out, mailboxKind{mailstore.KindArchive, p.mailbox.ArchiveGuid})
	}
	return out
}

// runPass runs one engine pass for one mailbox of the move into its
// staging mailbox mb; fresh reports that mb was created by this pass (its
// watermark was reset in the same transaction: the pass starts from
// nothing).
func (s *Service) runPass(ctx context.Context, b *Batch, m *Move, p *plan, k mailboxKind, mb *mailstore.Mailbox, fresh bool) (*replication.PassResult, error) {
	var w replication.Watermark
	if !fresh {
		var err error
		if w, err = s.loadWatermark(ctx, m.ID, string(k.kind)); err != nil {
			return nil, err
		}
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	job := &replication.Job{Source: p.client, SourceGUID: k.guid, MailboxID: mb.ID, MaxItemSize: b.MaxItemSize, Filter: b.Filter, Throttle: throttleOf(ctx), Repair: m.RepairRequested,
		Sink:     s.sink(ctx, m.ID, string(k.kind)),
		Progress: s.progress(pctx, cancel, m.ID)}
	_, res, err := s.Engine.Pass(pctx, job, w)
	return res, err
}

// progress is the engine's progress callback of a move's pass: it feeds
// the rate meter and the metrics, and ends the pass (after the chunk just
// committed) when a stop was requested on another node (stopCheck; a stop
// on this node cancels the pass at once: stopwatch.go).
func (s *Service) progress(ctx context.Context, cancel func(), moveID string) func(replication.Delta) {
	check := s.stopCheck(ctx, cancel, moveID)
	return func(d replication.Delta) {
		s.countCopied(moveID, d.Items, d.Bytes)
		check()
	}
}

// countCopied feeds a move's committed copies (mail items or groupware
// objects) to its rate meter and the copy metrics.
func (s *Service) countCopied(moveID string, items, bytes int64) {
	s.rates.add(moveID, bytes)
	s.copiedItems.Add(float64(items))
	s.copiedBytes.Add(float64(bytes))
}

// findStaging looks up the staging mailbox of each of a move's mailbox
// kinds: an existing staging mailbox, or nil where the pass must create
// one (createStaging). A retired mailbox with the same GUID (left from an
// earlier move away from this tenant) is removed first; an active one is
// TargetAlreadyHasMailbox.
func (s *Service) findStaging(ctx context.Context, tenantID string, kinds []mailboxKind) ([]*mailstore.Mailbox, error) {
	out := make([]*mailstore.Mailbox, len(kinds))
	for i, k := range kinds {
		mb, err := s.Store.Mailbox(ctx, tenantID, k.guid)
		switch {
		case err == nil && mb.State == mailstore.StateStaging:
			out[i] = mb
		case err == nil && mb.State == mailstore.StateRetired:
			if err := s.Store.DeleteMailbox(ctx, mb.ID); err != nil {
				return nil, err
			}
		case err == nil:
			return nil, errs.Conflictf("TargetAlreadyHasMailbox", "the target tenant already has active mailbox content with GUID %s", k.guid).
				WithHint("the target must be a MailUser without a mailbox")
		case !errors.Is(err, mailstore.ErrMailboxNotFound):
			return nil, err
		}
	}
	return out, nil
}

// createStaging creates, in tx (the transaction that records the move's
// Syncing state), the staging mailboxes findStaging did not find, and
// resets their watermarks; created[i] is the new mailbox of kinds[i].
//
// Why this converges after a crash (a killed process, or a relaxed commit
// lost by the database server) at any point:
//   - The mailbox, its watermark reset and the Syncing state commit
//     together or not at all. Lost or never committed: the move is still
//     Validating with no staging mailbox (a retired one deleted before is
//     gone either way), and the next pass does all of it again.
//   - Committed: the staging mailbox exists with no watermark row, which
//     the next pass reads as a zero watermark: a fresh pass. Until the
//     first chunk commits (its items and its watermark in one
//     transaction) the mailbox holds at most folders, which a pass from a
//     zero watermark maps again by their source ids, as it did when the
//     creation and the reset were separate commits.
//   - Separate commits had a window this closes: a new mailbox committed
//     and the process killed before the reset would have left the
//     watermark of an earlier staging mailbox of the move (deleted by a
//     stop, a failure or a removal) against the empty new one, so the
//     next pass would have skipped what that watermark covered.
func (s *Service) createStaging(ctx context.Context, tx *db.Tx, m *Move, kinds []mailboxKind, found []*mailstore.Mailbox) ([]*mailstore.Mailbox, error) {
	created := make([]*mailstore.Mailbox, len(kinds))
	for i, k := range kinds {
		if found[i] != nil {
			continue
		}
		mb, err := s.Store.CreateMailboxTx(ctx, tx, mailstore.NewMailbox{TenantID: m.TenantID, GUID: k.guid, Kind: k.kind, State: mailstore.StateStaging})
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sync_state WHERE move_id = ? AND kind = ?`, m.ID, string(k.kind)); err != nil {
			return nil, err
		}
		created[i] = mb
	}
	return created, nil
}

// stagedPass runs one pass for one mailbox of the move outside syncMove
// (the completion's final sync): its staging mailbox, created with its
// watermark reset in a transaction of its own if it is missing, then the
// pass.
func (s *Service) stagedPass(ctx context.Context, b *Batch, m *Move, p *plan, k mailboxKind) error {
	kinds := []mailboxKind{k}
	found, err := s.findStaging(ctx, m.TenantID, kinds)
	if err != nil {
		return err
	}
	mb, fresh := found[0], found[0] == nil
	if fresh {
		if err := s.D.Write(ctx, func(tx *db.Tx) error {
			created, err := s.createStaging(ctx, tx, m, kinds, found)
			if err == nil {
				mb = created[0]
			}
			return err
		}); err != nil {
			return err
		}
	}
	_, err = s.runPass(ctx, b, m, p, k, mb, fresh)
	return err
}

// dropStaging deletes the staged content of a move that will not complete.
func (s *Service) dropStaging(ctx context.Context, m *Move) {
	for _, g := range []string{m.ExchangeGuid, m.ArchiveGuid} {
		if g == "" {
			continue
		}
		if mb, err := s.Store.Mailbox(ctx, m.TenantID, g); err == nil && mb.State == mailstore.StateStaging {
			if err := s.Store.DeleteMailbox(ctx, mb.ID); err != nil {
				s.Log.Warn("deleting staged content failed", "move", m.ID, "err", err)
			}
		}
	}
}

// countTarget counts the items in the move's target mailboxes, in total
// and per folder class (as JSON for items_by_class); for an IMAP move (into
// a live mailbox), the items it copied that the source still has (mail
// only: IMAP shows no other folders).
func (s *Service) countTarget(ctx context.Context, q db.Querier, m *Move, imap bool) (int64, string, error) {
	var n int64
	by := map[string]int64{}
	if imap {
		origins, err := imapsrc.LiveOrigins(ctx, q, m.ID)
		if err != nil {
			return 0, "", err
		}
		if n, err = mailstore.CountOrigins(ctx, q, m.TenantID, m.ExchangeGuid, origins); err != nil {
			return 0, "", err
		}
		by[mailstore.ClassNote] = n
		d, err := davCounts(ctx, q, m.ID, by)
		b, _ := json.Marshal(by)
		return n + d, string(b), err
	}
	by, err := mailstore.CountByClass(ctx, q, m.TenantID, m.ExchangeGuid, m.ArchiveGuid)
	if err != nil {
		return 0, "", err
	}
	for _, c := range by {
		n += c
	}
	b, _ := json.Marshal(by)
	return n, string(b), nil
}

// loadWatermark reads the watermark of one mailbox of a move; none (a
// staging mailbox whose first chunk has not committed) is the zero
// watermark: a fresh pass.
func (s *Service) loadWatermark(ctx context.Context, moveID, kind string) (replication.Watermark, error) {
	var w replication.Watermark
	err := s.D.Read().QueryRowContext(ctx, `SELECT folder_state, item_modseq, item_id, del_modseq, del_id, pass_upto, synced_upto
		FROM sync_state WHERE move_id = ? AND kind = ?`, moveID, kind).
		Scan(&w.FolderState, &w.Item.ModSeq, &w.Item.Id, &w.Del.ModSeq, &w.Del.Id, &w.PassUpto, &w.SyncedUpto)
	if db.IsNoRows(err) {
		return replication.Watermark{}, nil
	}
	return w, err
}

// sink persists a move's watermark and statistics in the engine's
// transaction: they advance exactly with the data they describe. Its
// statements run under the pass's ctx.
func (s *Service) sink(ctx context.Context, moveID, kind string) replication.Sink {
	return func(tx *db.Tx, w replication.Watermark, d replication.Delta, skipped []replication.Skipped) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sync_state (move_id, kind, folder_state, item_modseq, item_id, del_modseq, del_id, pass_upto, synced_upto)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (move_id, kind) DO UPDATE SET folder_state = excluded.folder_state, item_modseq = excluded.item_modseq, item_id = excluded.item_id,
			del_modseq = excluded.del_modseq, del_id = excluded.del_id, pass_upto = excluded.pass_upto, synced_upto = excluded.synced_upto`,
			moveID, kind, w.FolderState, w.Item.ModSeq, w.Item.Id, w.Del.ModSeq, w.Del.Id, w.PassUpto, w.SyncedUpto)
		if err != nil {
			return err
		}
		if d != (replication.Delta{}) {
			if _, err := tx.ExecContext(ctx, `UPDATE moves SET items_synced = items_synced + ?, bytes_transferred = bytes_transferred + ?,
				items_skipped = items_skipped + ?, updated_at = ? WHERE id = ?`, d.Items-d.Deleted, d.Bytes, d.Skipped, db.Now(), moveID); err != nil {
				return err
			}
		}
		for _, sk := range skipped {
			if _, err := tx.ExecContext(ctx, `INSERT INTO move_skipped (move_id, kind, source_item, folder, subject, item_date, size, reason, at, class)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (move_id, kind, source_item) DO NOTHING`,
				moveID, kind, sk.SourceItem, sk.Folder, sk.Subject, db.Millis(sk.Date), sk.Size, sk.Reason, db.Now(), string(sk.Class)); err != nil {
				return err
			}
			if err := logMove(ctx, tx, moveID, "warning", fmt.Sprintf("skipped item %s in %s (%s, %d bytes): %s", sk.SourceItem, sk.Folder, sk.Subject, sk.Size, sk.Reason)); err != nil {
				return err
			}
		}
		return nil
	}
}

func addDelta(a, b replication.Delta) replication.Delta {
	return replication.Delta{Items: a.Items + b.Items, Bytes: a.Bytes + b.Bytes, Fetched: a.Fetched + b.Fetched,
		Updated: a.Updated + b.Updated, Deleted: a.Deleted + b.Deleted, Skipped: a.Skipped + b.Skipped}
}
