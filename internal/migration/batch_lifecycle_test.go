package migration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// status returns a batch's derived Status.
func (r *rig) status(batch string) *migration.BatchView {
	r.t.Helper()
	v, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, batch)
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// logHas asserts the user's report log has a line containing each of want,
// in this order, every line timestamped and in time order.
func (r *rig) logHas(batch, addr string, want ...string) *migration.ReportView {
	r.t.Helper()
	rep := r.report(batch, addr)
	var prev time.Time
	var all []string
	for _, l := range rep.Report {
		if l.Time.IsZero() || l.Time.Before(prev) {
			r.t.Fatalf("log line %q at %s after %s", l.Message, l.Time, prev)
		}
		prev = l.Time
		all = append(all, l.Message)
	}
	i := 0
	for _, l := range all {
		if i < len(want) && strings.Contains(l, want[i]) {
			i++
		}
	}
	if i < len(want) {
		r.t.Fatalf("report log of %s lacks %q (in order) in:\n%s", addr, want[i], strings.Join(all, "\n"))
	}
	return rep
}

// targetCount is the number of items in the target's copy of a GUID.
func (r *rig) targetCount(guid string) int {
	r.t.Helper()
	mb, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), guid)
	if err != nil {
		r.t.Fatal(err)
	}
	return scenario.Take(r.t, r.tgt.Store, mb.ID).Count()
}

// TestBatchStopAndResume stops a batch in the middle of an initial sync
// (small engine chunks make the sync long enough) and while synced: the
// user ends Stopped, the batch Status is Stopped, and a start resumes from
// the watermark to Synced with every item exactly once. A batch whose user
// syncs cannot be removed.
func TestBatchStopAndResume(t *testing.T) {
	r := newRig(t)
	r.tgt.Migration.Engine.PageSize, r.tgt.Migration.Engine.ChunkItems = 10, 5
	src := r.source("big", 400, false, true)
	r.stamp(src, nil)
	addr := r.addr("big")
	r.batch("w", r.tr.Endpoint, addr)
	scenario.Eventually(t, 30*time.Second, "initial sync under way", func() error {
		u := r.user("w", addr)
		if u.Status == migration.StateSyncing && u.ItemsSynced > 0 {
			return nil
		}
		return fmt.Errorf("%s, %d items", u.Status, u.ItemsSynced)
	})
	_, err := r.tgt.Admin.BatchCommand(r.ctx, r.tgt.Op, tgtName, "w", admin.BatchRemove, false)
	wantCode(t, err, "BatchSyncing")
	r.cmd("w", admin.BatchStop, false)
	u := r.waitUser("w", addr, migration.StateStopped)
	if u.ItemsSynced == 0 || u.ItemsSynced >= u.ItemsTotal {
		t.Fatalf("stopped after %d of %d items: not mid-sync", u.ItemsSynced, u.ItemsTotal)
	}
	if u.PercentComplete != int(u.ItemsSynced*100/u.ItemsTotal) || u.PercentComplete >= 95 {
		t.Fatalf("stopped at %d of %d items: %d%%", u.ItemsSynced, u.ItemsTotal, u.PercentComplete)
	}
	if n := r.targetCount(src.ExchangeGuid); int64(n) != u.ItemsSynced {
		t.Fatalf("the target holds %d items, the statistics say %d", n, u.ItemsSynced)
	}
	if st := r.status("w"); st.Status != "Stopped" || st.StoppedCount != 1 {
		t.Fatalf("batch after stop: %s, %d stopped", st.Status, st.StoppedCount)
	}
	t.Logf("stopped after %d of %d items", u.ItemsSynced, u.ItemsTotal)
	stoppedAt := u.ItemsSynced

	r.cmd("w", admin.BatchStart, false)
	u = r.waitUser("w", addr, migration.StateSynced)
	if u.ItemsSynced != u.ItemsTotal || u.ItemsTotal != 400 || u.BytesTransferred != u.BytesTotal || u.PercentComplete != 95 {
		t.Fatalf("after the restart: %+v", u)
	}
	r.sameContent(src) // every item once: a duplicate would differ
	r.logHas("w", addr, "Syncing → Stopping", "Stopping → Stopped", "Stopped → Queued", "→ Synced")
	if st := r.status("w"); st.Status != "Synced" {
		t.Fatalf("batch after the restart: %s", st.Status)
	}

	// Stop while synced: stopped at once; start runs an incremental sync
	// that carries what changed meanwhile.
	r.cmd("w", admin.BatchStop, false)
	r.waitUser("w", addr, migration.StateStopped)
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, items("big-late", 3))
	r.cmd("w", admin.BatchStart, false)
	scenario.Eventually(t, 30*time.Second, "the changes made while stopped", func() error {
		if u := r.user("w", addr); !settled(u, migration.StateSynced) || u.ItemsSynced != 403 {
			return fmt.Errorf("%s %s %d items", u.Status, u.StatusDetail, u.ItemsSynced)
		}
		return nil
	})
	r.sameContent(src)
	t.Logf("resumed from %d items; 403 after the incremental sync", stoppedAt)
}

// TestBatchRemove removes batches: a synced (unfinished) user's staged
// content is deleted, a completed user's mailbox stays; the history
// (batch, users, report log) stays queryable, also after the name is used
// again, and the removed batch's user joins a new batch and syncs.
func TestBatchRemove(t *testing.T) {
	r := newRig(t)
	done := r.source("done", 4, false, true)
	r.stamp(done, nil)
	half := r.source("half", 5, true, true)
	r.stamp(half, nil)
	r.batchSpec(migration.BatchSpec{Name: "one", Endpoint: r.tr.Endpoint, CSV: csvOf(r.addr("done")), AutoStart: true, AutoComplete: true})
	r.batch("two", r.tr.Endpoint, r.addr("half"))
	r.waitUser("one", r.addr("done"), migration.StateCompleted)
	r.waitUser("two", r.addr("half"), migration.StateSynced)
	if r.targetCount(half.ExchangeGuid) != 5 || r.targetCount(half.ArchiveGuid) != 2 {
		t.Fatal("staged content missing before the removal")
	}
	twoID := r.status("two").Id

	r.cmd("two", admin.BatchRemove, false)
	for _, g := range []string{half.ExchangeGuid, half.ArchiveGuid} {
		if _, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), g); !isCode(err, "MailboxNotFound") {
			t.Fatalf("staged content %s after the removal: %v", g, err)
		}
	}
	if st := r.status("two"); st.Status != "Removed" || st.RemovedDateTime == nil || st.TotalCount != 1 {
		t.Fatalf("removed batch: %+v", st)
	}
	r.logHas("two", r.addr("half"), "created in batch two", "→ Synced", "batch removed; staged content deleted")
	if _, err := r.tgt.Admin.BatchCommand(r.ctx, r.tgt.Op, tgtName, "two", admin.BatchStart, false); !isCode(err, "BatchRemoved") {
		t.Fatalf("start of a removed batch: %v", err)
	}

	// The user joins a new batch (under the same name) and syncs again
	// from scratch.
	r.batch("two", r.tr.Endpoint, r.addr("half"))
	u := r.waitUser("two", r.addr("half"), migration.StateSynced)
	if u.ItemsSynced != 7 {
		t.Fatalf("new batch: %+v", u)
	}
	r.sameContent(half)
	// The removed batch stays reachable by its id.
	rs, err := r.tgt.Admin.BatchReport(r.ctx, r.tgt.Op, tgtName, twoID, "")
	if err != nil || len(rs) != 1 || !strings.Contains(rs[0].Report[len(rs[0].Report)-1].Message, "staged content deleted") {
		t.Fatalf("report of the removed batch by id %s: %v %+v", twoID, err, rs)
	}
	if names := strings.Join(r.batchNames(), ","); names != "one,two,two" {
		t.Fatalf("batches: %s", names)
	}

	// Removing a completed batch keeps the moved mailbox.
	r.cmd("one", admin.BatchRemove, false)
	mb, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), done.ExchangeGuid)
	if err != nil || mb.State != mailstore.StateActive {
		t.Fatalf("moved mailbox after the removal: %v %+v", err, mb)
	}
	r.logHas("one", r.addr("done"), "→ Completed", "batch removed")
	if u := r.user("one", r.addr("done")); u.Status != migration.StateCompleted || u.PercentComplete != 100 {
		t.Fatalf("history of the completed user: %+v", u)
	}
}

// TestBatchSchedule drives StartAfter, CompleteAfter and the incremental
// sync interval through the scheduler (Tick at chosen times instead of
// waiting for the 5 s ticker).
func TestBatchSchedule(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	src := r.source("sched", 4, false, true)
	r.stamp(src, nil)
	addr := r.addr("sched")
	now := time.Now()
	r.batchSpec(migration.BatchSpec{Name: "later", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true,
		StartAfter: now.Add(time.Hour), CompleteAfter: now.Add(2 * time.Hour), IncrementalSyncInterval: 10 * time.Minute})
	tick := func(at time.Time) {
		t.Helper()
		if err := r.tgt.Migration.Tick(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	tick(now.Add(59 * time.Minute))
	if st := r.status("later"); st.Status != "Created" || st.StartDateTime != nil || r.user("later", addr).Status != migration.StateQueued {
		t.Fatalf("before StartAfter: %+v", st)
	}
	tick(now.Add(time.Hour + time.Second))
	r.waitUser("later", addr, migration.StateSynced)
	if st := r.status("later"); st.StartDateTime == nil || st.CompletionRequested != nil {
		t.Fatalf("after StartAfter: %+v", st)
	}

	// IncrementalSyncInterval: a tick before the interval queues nothing;
	// one after it queues a sync that carries the source's changes.
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, items("sched-new", 2))
	last := r.user("later", addr).LastSuccessfulSyncTime
	tick(last.Add(9 * time.Minute))
	// Tick queues a sync (state SyncQueued and its job, in one
	// transaction) before it returns: right after it, nothing is queued.
	if u := r.user("later", addr); u.Status != migration.StateSynced || u.StatusDetail != "" || u.ItemsSynced != 4 ||
		!u.LastSuccessfulSyncTime.Equal(*last) {
		t.Fatalf("a tick before the interval queued or ran a sync: %+v", u)
	}
	tick(last.Add(10*time.Minute + time.Second))
	scenario.Eventually(t, 30*time.Second, "the incremental sync", func() error {
		if u := r.user("later", addr); !settled(u, migration.StateSynced) || u.ItemsSynced != 6 {
			return fmt.Errorf("%s %d items", u.Status, u.ItemsSynced)
		}
		return nil
	})
	r.sameContent(src)
	r.logHas("later", addr, "Queued → Validating", "initial sync finished", "Synced → IncrementalSyncing", "incremental sync finished in", "IncrementalSyncing → Synced")
	if rep := r.report("later", addr); !strings.Contains(rep.Report[len(rep.Report)-2].Message, ": 2 new items") {
		t.Fatalf("incremental sync line: %q", rep.Report[len(rep.Report)-2].Message)
	}

	// CompleteAfter: not before it, completed after it.
	tick(now.Add(2*time.Hour - time.Second))
	if st := r.status("later"); st.CompletionRequested != nil {
		t.Fatalf("completion requested before CompleteAfter: %+v", st)
	}
	tick(now.Add(2*time.Hour + time.Second))
	u := r.waitUser("later", addr, migration.StateCompleted)
	if u.DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("completed: %+v", u)
	}
	if st := r.status("later"); st.Status != "Completed" || st.CompletionRequested == nil {
		t.Fatalf("after CompleteAfter: %+v", st)
	}
}

// TestReportRetention (issue 11 item 3): a removed batch's reports stay
// queryable by its Id until the report retention (serve
// --report-retention, 90 days by default) passes; housekeeping then
// deletes the batch with its users' rows (moves, logs), on SQLite and
// PostgreSQL.
func TestReportRetention(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		r := newRigOn(t, scenario.Options{DB: dbtest.DSN(t, dialect)})
		r.stamp(r.source("keep01", 3, false, true), nil)
		addr := r.addr("keep01")
		bv := r.batchSpec(migration.BatchSpec{Name: "keep", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true})
		r.waitUser("keep", addr, migration.StateSynced)
		r.cmd("keep", admin.BatchRemove, false)
		now := time.Now()
		moves := func() int {
			var n int
			if err := r.s.DB.Read().QueryRowContext(r.ctx, `SELECT COUNT(*) FROM moves WHERE batch_id = ?`, bv.Id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := r.s.Housekeep(r.ctx, now.Add(89*24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rep, err := r.tgt.Admin.BatchReport(r.ctx, r.tgt.Op, tgtName, bv.Id, "")
		if err != nil || len(rep) != 1 || moves() != 1 {
			t.Fatalf("within the retention: %d users, %d moves, %v", len(rep), moves(), err)
		}
		res, err := r.s.Housekeep(r.ctx, now.Add(91*24*time.Hour))
		if err != nil || res.RemovedBatches != 1 {
			t.Fatalf("housekeeping past the retention: %+v %v", res, err)
		}
		if _, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, bv.Id); !isCode(err, "BatchNotFound") || moves() != 0 {
			t.Fatalf("after the retention: %v, %d moves", err, moves())
		}
	})
}
