package server

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
)

// setupJobs creates the River runner with every worker registered by the
// components (s.workers), after those registered.
func (s *Server) setupJobs() error {
	river.AddWorker(s.workers, &housekeepingWorker{s: s})
	s.addPeriodic(time.Hour, HousekeepingArgs{})
	queues := jobs.DefaultQueues()
	for q, n := range map[string]int64{jobs.QueueMigration: s.Cfg.MigrationWorkers, jobs.QueueCompletion: s.Cfg.CompletionWorkers,
		jobs.QueueDelivery: s.Cfg.DeliveryWorkers} {
		if n > 0 {
			queues[q] = int(min(n, 1000))
		}
	}
	r, err := jobs.New(s.DB, s.workers, jobs.Options{Queues: queues, Periodic: s.periodic, Exclusive: s.DB.Dialect == db.SQLite}, s.Log)
	if err != nil {
		return err
	}
	s.Jobs = r
	s.Metrics.Registry.MustRegister(r.Collector())
	if s.Migration != nil {
		s.Migration.Jobs = r
	}
	return nil
}

func (s *Server) startJobs(ctx context.Context) error {
	if err := s.Jobs.Start(ctx); err != nil {
		return err
	}
	s.closers = append(s.closers, func(ctx context.Context) error {
		if s.Migration != nil {
			// Hand running passes to the other nodes instead of waiting
			// for them; completions and deliveries finish.
			s.Migration.Drain()
		}
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return s.Jobs.Stop(sctx)
	})
	return nil
}

// addPeriodic schedules a periodic job.
func (s *Server) addPeriodic(every time.Duration, args river.JobArgs) {
	s.periodic = append(s.periodic, river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return args, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
}

// HousekeepingArgs is the periodic job that reclaims space: retired
// mailbox content past its retention, tombstones past theirs, and blob
// storage (see Housekeep).
type HousekeepingArgs struct{}

// Kind implements river.JobArgs.
func (HousekeepingArgs) Kind() string { return "housekeeping" }

// InsertOpts puts housekeeping on the control queue.
func (HousekeepingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueControl, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

type housekeepingWorker struct {
	river.WorkerDefaults[HousekeepingArgs]
	s *Server
}

func (w *housekeepingWorker) Work(ctx context.Context, _ *river.Job[HousekeepingArgs]) error {
	_, err := w.s.Housekeep(ctx, time.Now())
	return err
}

// HousekeepResult says what one housekeeping round did.
type HousekeepResult struct {
	RetiredMailboxes int                 // retired mailboxes deleted
	RemovedBatches   int64               // removed batches (and their reports) deleted
	Tombstones       int64               // tombstones purged
	PartTrees        int64               // part trees of unreferenced content deleted
	Storage          *blobstore.GCResult // blob GC and compaction
}

// Housekeep runs one housekeeping round as of now: retired mailboxes (the
// sources of completed moves) older than their retention are deleted,
// removed migration batches older than the report retention too
// (migration),
// tombstones older than theirs are purged (mailstore), then the blob
// store's GC runs (blobstore: unreferenced blobs, compaction, retired and
// orphaned containers). Each package does the work on its own tables.
func (s *Server) Housekeep(ctx context.Context, now time.Time) (*HousekeepResult, error) {
	return s.housekeep(ctx, blobstore.GCOptions{Now: now})
}

func (s *Server) housekeep(ctx context.Context, gc blobstore.GCOptions) (*HousekeepResult, error) {
	now := gc.Now
	res := &HousekeepResult{}
	if s.Cfg.RetiredRetention > 0 {
		ids, err := s.Store.RetiredBefore(ctx, now.Add(-s.Cfg.RetiredRetention))
		if err != nil {
			return res, err
		}
		for _, id := range ids {
			if err := s.Store.DeleteMailbox(ctx, id); err != nil {
				return res, err
			}
			res.RetiredMailboxes++
		}
	}
	if s.Cfg.ReportRetention > 0 && s.Migration != nil {
		n, err := s.Migration.PurgeRemovedBatches(ctx, now.Add(-s.Cfg.ReportRetention))
		if err != nil {
			return res, err
		}
		res.RemovedBatches = n
	}
	if s.Cfg.TombstoneRetention > 0 {
		n, err := s.Store.PurgeTombstones(ctx, now.Add(-s.Cfg.TombstoneRetention))
		if err != nil {
			return res, err
		}
		res.Tombstones = n
	}
	n, err := s.Store.PurgeParts(ctx)
	if err != nil {
		return res, err
	}
	res.PartTrees = n
	st, err := s.Blobs.GC(ctx, gc)
	res.Storage = st
	if err != nil {
		return res, err
	}
	if res.RetiredMailboxes > 0 || res.RemovedBatches > 0 || res.Tombstones > 0 || res.PartTrees > 0 || st.BlobsDeleted > 0 || st.BytesReclaimed > 0 || len(st.Errors) > 0 {
		s.Log.Info("housekeeping", "retired_mailboxes_deleted", res.RetiredMailboxes, "removed_batches_deleted", res.RemovedBatches, "tombstones_purged", res.Tombstones, "part_trees_deleted", res.PartTrees,
			"blobs_deleted", st.BlobsDeleted, "containers_compacted", st.ContainersCompacted, "containers_deleted", st.ContainersDeleted,
			"orphans_deleted", st.OrphansDeleted, "bytes_reclaimed", st.BytesReclaimed, "errors", st.Errors)
	}
	return res, nil
}
