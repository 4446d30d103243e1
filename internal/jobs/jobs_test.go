package jobs

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

type pingArgs struct{ N int }

func (pingArgs) Kind() string { return "ping" }

type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	ran *atomic.Int64
}

func (w *pingWorker) Work(context.Context, *river.Job[pingArgs]) error {
	w.ran.Add(1)
	return nil
}

func TestLastAttempt(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
	}{{`["a","b"]`, "b"}, {[]byte(`["x"]`), "x"}, {"{a,b,c}", "c"}, {`{"q"}`, "q"}, {nil, ""}, {"[]", ""}} {
		if got := lastAttempt(c.in); got != c.want {
			t.Errorf("%v: %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRescue: a job left "running" by a process that died is made
// available again and runs.
func TestRescue(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		var ran atomic.Int64
		newRunner := func() *Runner {
			w := river.NewWorkers()
			river.AddWorker(w, &pingWorker{ran: &ran})
			r, err := New(d, w, Options{Queues: map[string]int{river.QueueDefault: 1}, Exclusive: d.Dialect == db.SQLite}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		dead := newRunner()
		res, err := dead.Insert(ctx, pingArgs{N: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Pretend the first process picked the job up and then died.
		attempted := `["` + dead.NodeID + `"]`
		q := `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = json(?) WHERE id = ?`
		args := []any{attempted, res.Job.ID}
		if d.Dialect == db.Postgres {
			q, args = `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = ARRAY[$1] WHERE id = $2`, []any{dead.NodeID, res.Job.ID}
			if _, err := d.W.ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
			// A stale heartbeat marks the node dead.
			if _, err := d.W.ExecContext(ctx, `UPDATE nodes SET heartbeat_at = 0 WHERE id = $1`, dead.NodeID); err != nil {
				t.Fatal(err)
			}
		} else if _, err := d.W.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
		live := newRunner() // rescues at start
		if err := live.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer live.Stop(ctx)
		wait.For(t, 20*time.Second, "the rescued job", func() error {
			if ran.Load() == 0 {
				return errors.New("not run")
			}
			return nil
		})
		if ran.Load() != 1 {
			t.Fatalf("the rescued job ran %d times", ran.Load())
		}
	})
}
