package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantferry/tenantferry/internal/db"
)

// Fair queueing. River works a queue in (priority, scheduled_at, id)
// order, so jobs inserted together run together: a batch of 5,000 users
// started first would hold every worker until its last user started,
// while a batch started a minute later waited. FairGroup gives each job
// a position tag instead — a scheduled_at in a reserved past range
// (fairEpoch onwards, one fairStep per position) — counted from the
// queue's current head: the k-th job of a new group lands next to the
// k-th waiting job of every group already queued, so groups are served
// round-robin and a new group's first job runs next (FairGroup).
//
// Invariants:
//   - A tag is in the past, so a tagged job is available at once; tagged
//     jobs sort before every job scheduled at a real time (retries,
//     snoozes, incremental passes), which therefore wait for the tagged
//     backlog — a re-queued job (a yielded slice, a drained pass) goes to
//     the back.
//   - Tags are only positions; nothing reads them as times.
var (
	fairEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	fairLimit = fairEpoch.AddDate(10, 0, 0)
)

// fairStep is the distance between two positions; a second survives
// every timestamp precision (SQLite keeps milliseconds as text).
const fairStep = time.Second

// sqliteTime is River's SQLite timestamp layout (datetime('now','subsec')).
const sqliteTime = "2006-01-02 15:04:05.999"

// FairGroup inserts the jobs of one group (the users queued together) at
// positions 0, 1, 2, … of their queue's round-robin, in one transaction;
// the queue's head is read once, at the first insert. Make one with
// Runner.FairGroup for each transaction.
type FairGroup struct {
	r    *Runner
	tx   *db.Tx
	head time.Time
	pos  int
}

// FairGroup starts a group of jobs inserted round-robin inside tx.
func (r *Runner) FairGroup(tx *db.Tx) *FairGroup { return &FairGroup{r: r, tx: tx} }

// Insert enqueues a job at the group's next position. A job that River
// skips as a duplicate keeps its place and takes no position.
// Idempotency is the job's own (UniqueOpts); the tag is written in the
// same transaction as the insert.
func (g *FairGroup) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := g.r.InsertTx(ctx, g.tx, args, opts)
	if err != nil || res.UniqueSkippedAsDuplicate {
		return res, err
	}
	if g.pos == 0 {
		if g.head, err = g.r.fairHead(ctx, g.tx, res.Job.Queue); err != nil {
			return nil, err
		}
	}
	tag := g.head.Add(time.Duration(g.pos) * fairStep)
	g.pos++
	var v any = tag
	if g.r.d.Dialect == db.SQLite {
		v = tag.UTC().Format(sqliteTime)
	}
	_, err = g.tx.ExecContext(ctx, `UPDATE river_job SET scheduled_at = ? WHERE id = ? AND state = 'available'`, v, res.Job.ID)
	return res, err
}

// fairHead is the tag of the first tagged job waiting in queue, or
// fairEpoch when none waits.
func (r *Runner) fairHead(ctx context.Context, tx *db.Tx, queue string) (time.Time, error) {
	var lim any = fairLimit
	if r.d.Dialect == db.SQLite {
		lim = fairLimit.Format(sqliteTime)
	}
	row := tx.QueryRowContext(ctx, `SELECT scheduled_at FROM river_job WHERE queue = ? AND state = 'available' AND scheduled_at < ?
		ORDER BY priority, scheduled_at, id LIMIT 1`, queue, lim) // River's fetch order: its index serves it
	var raw any
	err := row.Scan(&raw)
	if db.IsNoRows(err) {
		return fairEpoch, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	switch v := raw.(type) {
	case time.Time:
		return v, nil
	case []byte:
		return time.Parse(sqliteTime, string(v))
	case string:
		return time.Parse(sqliteTime, v)
	}
	return time.Time{}, fmt.Errorf("jobs: scheduled_at of type %T", raw)
}

// Waiting reports how many jobs of queue are available now — fetched as
// soon as a worker frees up. A long job may yield its worker when some
// wait.
func Waiting(ctx context.Context, q db.Querier, queue string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE queue = ? AND state = 'available'`, queue).Scan(&n)
	return n, err
}
