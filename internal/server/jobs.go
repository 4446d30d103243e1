package server

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// setupJobs creates the River runner with every worker registered by the
// components (s.workers), after those registered.
func (s *Server) setupJobs() error {
	river.AddWorker(s.workers, &housekeepingWorker{s: s})
	s.addPeriodic(10*time.Minute, HousekeepingArgs{})
	r, err := jobs.New(s.DB, s.workers, jobs.Options{Periodic: s.periodic, Exclusive: s.DB.Dialect == db.SQLite}, s.Log)
	if err != nil {
		return err
	}
	s.Jobs = r
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

// HousekeepingArgs is the periodic job that removes leftovers: node rows of
// processes that are gone, retired mailbox content past its retention, and
// blob records nothing refers to.
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

// blobGrace protects fresh blob records from collection: a writer may be
// about to reference content it found with Has.
const blobGrace = time.Hour

// HousekeepResult says what one housekeeping round removed.
type HousekeepResult struct {
	RetiredMailboxes int
	Blobs            int64
}

// Housekeep runs one housekeeping round as of now: retired mailboxes (the
// sources of completed moves) older than the retention are deleted, then
// blob records no item and no queued message refers to (older than
// blobGrace). With the database blob backend that frees the bytes; pack
// files keep the bytes until a compaction (not implemented yet).
func (s *Server) Housekeep(ctx context.Context, now time.Time) (*HousekeepResult, error) {
	res := &HousekeepResult{}
	err := s.DB.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE heartbeat_at < ?`, db.Millis(now)-int64(time.Hour/time.Millisecond))
		return err
	})
	if err != nil {
		return nil, err
	}
	if s.Cfg.RetiredRetention > 0 {
		cutoff := db.Millis(now.Add(-s.Cfg.RetiredRetention))
		rows, err := s.DB.Read().QueryContext(ctx, `SELECT id FROM mailboxes WHERE state = ? AND updated_at < ?`, string(mailstore.StateRetired), cutoff)
		if err != nil {
			return nil, err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, id)
		}
		rows.Close()
		for _, id := range ids {
			if err := s.Store.DeleteMailbox(ctx, id); err != nil {
				return res, err
			}
			res.RetiredMailboxes++
		}
	}
	err = s.DB.Write(ctx, func(tx *db.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE created_at < ?
			AND NOT EXISTS (SELECT 1 FROM items i WHERE i.sha256 = blobs.sha256)
			AND NOT EXISTS (SELECT 1 FROM queue_messages q WHERE q.sha256 = blobs.sha256)`, db.Millis(now.Add(-blobGrace)))
		if err == nil {
			res.Blobs, err = r.RowsAffected()
		}
		return err
	})
	if res.RetiredMailboxes > 0 || res.Blobs > 0 {
		s.Log.Info("housekeeping", "retired_mailboxes_deleted", res.RetiredMailboxes, "blob_records_deleted", res.Blobs)
	}
	return res, err
}
