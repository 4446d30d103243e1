// Package jobs runs tenantferry's background work — mail delivery, sync
// passes, completions, the batch scheduler — as River jobs in the same
// database as the state they follow from (SQLite via riversqlite,
// PostgreSQL via riverdatabasesql).
//
// Invariants:
//   - A job is inserted in the same transaction as the state change that
//     calls for it (InsertTx), so state and work never diverge.
//   - Every worker is idempotent: a job may run more than once (retry after
//     a crash, rescue of a dead node's job) and must converge.
//   - A job left "running" by a process that died is made available again:
//     at start for jobs of nodes whose heartbeat is stale, and periodically
//     while running. On SQLite the database belongs to one process (a lock
//     file in the data directory enforces it), so every running job found at
//     start is rescued at once.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/tenantferry/tenantferry/internal/db"
)

// Queue names.
const (
	QueueDelivery  = "delivery"
	QueueMigration = "migration"
	// QueueCompletion runs the completions of moves, apart from their
	// sync passes: a cutover never waits behind long initial syncs.
	QueueCompletion = "completion"
	QueueControl    = "control"
)

// DefaultQueues sizes the queues from the machine's cores: delivery and
// migration passes 4 per core (8 to 64), completions 1 per core (2 to 16).
func DefaultQueues() map[string]int {
	perCore := func(n, lo, hi int) int { return min(max(n*runtime.NumCPU(), lo), hi) }
	return map[string]int{QueueDelivery: perCore(4, 8, 64), QueueMigration: perCore(4, 8, 64), QueueCompletion: perCore(1, 2, 16), QueueControl: 2}
}

// Heartbeat timing: a node writes its heartbeat every heartbeatEvery and
// looks for dead nodes at each beat; a node whose heartbeat is older than
// staleAfter is dead, and its running jobs are made available to the
// others — a dead node's work resumes within staleAfter + heartbeatEvery.
const (
	heartbeatEvery = time.Second
	staleAfter     = 5 * time.Second
	// fullRescueEvery beats, rescue also looks at jobs of nodes that have
	// no row at all (a safety net; a dead node's row stays until its jobs
	// are rescued).
	fullRescueEvery = 30
)

// Runner owns the River client of one server process.
type Runner struct {
	Client *river.Client[*sql.Tx]
	NodeID string
	d      *db.DB
	log    *slog.Logger
	queues []string // this node's queues (the queue-depth metric's)

	stop chan struct{}
	wg   sync.WaitGroup
}

// Options configure New.
type Options struct {
	// Queues maps queue names to their worker counts (DefaultQueues when
	// nil).
	Queues map[string]int
	// Periodic jobs to schedule.
	Periodic []*river.PeriodicJob
	// PollInterval is how often queues are polled for new jobs.
	PollInterval time.Duration
	// Exclusive states that no other process uses the database (SQLite), so
	// every running job found at start belonged to a dead process.
	Exclusive bool
}

// New creates the River client with the given workers.
func New(d *db.DB, workers *river.Workers, opts Options, log *slog.Logger) (*Runner, error) {
	if log == nil {
		log = slog.Default()
	}
	if opts.Queues == nil {
		opts.Queues = DefaultQueues()
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	queues := map[string]river.QueueConfig{}
	for q, n := range opts.Queues {
		queues[q] = river.QueueConfig{MaxWorkers: n}
	}
	r := &Runner{NodeID: "tf-" + uuid.NewString()[:13], d: d, log: log, stop: make(chan struct{}), queues: sortedKeys(opts.Queues)}
	cfg := &river.Config{
		ID:                   r.NodeID,
		Queues:               queues,
		Workers:              workers,
		PeriodicJobs:         opts.Periodic,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        10 * time.Millisecond,
		PollOnly:             true,
		JobTimeout:           -1,
		RescueStuckJobsAfter: 24 * time.Hour, // dead nodes are handled by rescue()
		MaxAttempts:          1000,
		Logger:               slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("component", "river"),
	}
	var drv riverdriver.Driver[*sql.Tx]
	if d.Dialect == db.Postgres {
		drv = riverdatabasesql.New(d.W)
	} else {
		drv = riversqlite.New(d.W)
	}
	c, err := river.NewClient(drv, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	r.Client = c
	ctx := context.Background()
	if err := r.register(ctx); err != nil {
		return nil, err
	}
	if err := r.rescue(ctx, opts.Exclusive); err != nil {
		return nil, err
	}
	return r, nil
}

// register records this node and its first heartbeat.
func (r *Runner) register(ctx context.Context) error {
	host, _ := os.Hostname()
	now := db.Now()
	return r.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, hostname, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)`,
			r.NodeID, host, os.Getpid(), now, now)
		return err
	})
}

// Start starts working jobs and the heartbeat.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.Client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	r.wg.Add(1)
	go r.heartbeat()
	return nil
}

// Stop stops fetching new jobs and waits for running ones (until ctx ends,
// then cancels them).
func (r *Runner) Stop(ctx context.Context) error {
	close(r.stop)
	r.wg.Wait()
	err := r.Client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = r.Client.StopAndCancel(context.Background())
	}
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.d.Write(dctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(dctx, `DELETE FROM nodes WHERE id = ?`, r.NodeID)
		return err
	})
	return err
}

func (r *Runner) heartbeat() {
	defer r.wg.Done()
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
		err := r.d.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE nodes SET heartbeat_at = ? WHERE id = ?`, db.Now(), r.NodeID)
			return err
		})
		if err != nil {
			r.log.Warn("node heartbeat failed", "err", err)
		}
		n++
		if stale, err := r.staleNodes(ctx); err != nil || stale || n%fullRescueEvery == 0 {
			if err := r.rescue(ctx, false); err != nil {
				r.log.Warn("rescuing jobs of dead nodes failed", "err", err)
			}
		}
		cancel()
	}
}

// staleNodes reports whether some node's heartbeat is older than
// staleAfter: the cheap check made at every beat.
func (r *Runner) staleNodes(ctx context.Context) (bool, error) {
	var n int
	err := r.d.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE heartbeat_at <= ?`, db.Now()-staleAfter.Milliseconds()).Scan(&n)
	return n > 0, err
}

// rescue makes jobs "running" on dead nodes available again. With exclusive
// set, every running job not attempted by this node is rescued.
func (r *Runner) rescue(ctx context.Context, exclusive bool) error {
	col := "attempted_by"
	if r.d.Dialect == db.SQLite {
		col = "json(attempted_by)" // stored as JSONB
	}
	rows, err := r.d.Read().QueryContext(ctx, `SELECT id, `+col+` FROM river_job WHERE state = 'running'`)
	if err != nil {
		return err
	}
	type job struct {
		id   int64
		node string
	}
	var running []job
	for rows.Next() {
		var id int64
		var raw any
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return err
		}
		running = append(running, job{id, lastAttempt(raw)})
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(running) == 0 {
		return err
	}
	live := map[string]bool{r.NodeID: true}
	if !exclusive {
		lr, err := r.d.Read().QueryContext(ctx, `SELECT id FROM nodes WHERE heartbeat_at > ?`, db.Now()-staleAfter.Milliseconds())
		if err != nil {
			return err
		}
		for lr.Next() {
			var id string
			if err := lr.Scan(&id); err != nil {
				lr.Close()
				return err
			}
			live[id] = true
		}
		lr.Close()
	}
	var dead []int64
	for _, j := range running {
		if !live[j.node] {
			dead = append(dead, j.id)
		}
	}
	if len(dead) == 0 {
		return nil
	}
	r.log.Info("rescuing jobs of a dead process", "jobs", len(dead))
	return r.d.Write(ctx, func(tx *db.Tx) error {
		for _, id := range dead {
			// scheduled_at is in the past already, so the job is fetched at once.
			if _, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE id = ? AND state = 'running'`, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE heartbeat_at <= ?`, db.Now()-staleAfter.Milliseconds())
		return err
	})
}

// lastAttempt returns the last client id of an attempted_by column value
// (a JSON array on SQLite, a text[] on PostgreSQL).
func lastAttempt(raw any) string {
	var s string
	switch v := raw.(type) {
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return ""
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		var ids []string
		if json.Unmarshal([]byte(s), &ids) == nil && len(ids) > 0 {
			return ids[len(ids)-1]
		}
		return ""
	}
	// PostgreSQL array literal {a,b,c}
	s = strings.Trim(s, "{}")
	parts := strings.Split(s, ",")
	return strings.Trim(parts[len(parts)-1], `"`)
}

// InsertTx enqueues a job inside tx.
func (r *Runner) InsertTx(ctx context.Context, tx *db.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return r.Client.InsertTx(ctx, tx.Tx, args, opts)
}

// Insert enqueues a job in its own transaction.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	var res *rivertype.JobInsertResult
	err := r.d.Write(ctx, func(tx *db.Tx) error {
		var err error
		res, err = r.InsertTx(ctx, tx, args, opts)
		return err
	})
	return res, err
}

// minLevel drops records below a level (River logs routine events at Info).
type minLevel struct {
	slog.Handler
	min slog.Level
}

// Enabled implements slog.Handler.
func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

// WithGroup implements slog.Handler.
func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// Alive reports whether the job with id is still waiting or running
// (available, pending, running, retryable or scheduled), through q. A job
// that is gone (finished and cleaned up) is not alive.
func Alive(ctx context.Context, q db.Querier, id int64) (bool, error) {
	var state string
	err := q.QueryRowContext(ctx, `SELECT state FROM river_job WHERE id = ?`, id).Scan(&state)
	if db.IsNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch state {
	case "available", "pending", "running", "retryable", "scheduled":
		return true, nil
	}
	return false, nil
}
