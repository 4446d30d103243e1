package server

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
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
// processes that are gone.
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
	return w.s.DB.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE heartbeat_at < ?`, db.Now()-int64(time.Hour/time.Millisecond))
		return err
	})
}
