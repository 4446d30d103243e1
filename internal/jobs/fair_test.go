package jobs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

type orderArgs struct{ Name string }

func (orderArgs) Kind() string { return "order" }

type orderWorker struct {
	river.WorkerDefaults[orderArgs]
	mu   sync.Mutex
	seen []string
	done chan struct{}
	want int
}

func (w *orderWorker) Work(_ context.Context, j *river.Job[orderArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen = append(w.seen, j.Args.Name)
	if len(w.seen) == w.want {
		close(w.done)
	}
	return nil
}

// TestFairInsertRoundRobin: two groups inserted one after the other with
// FairGroup are worked round-robin by one worker, a job inserted the
// plain way (a retry, an incremental pass) after the tagged ones, and a
// group inserted while others wait starts next to their heads. With the
// plain insert (the old enqueue) the order would be A0…A4 B0 B1 B2.
func TestFairInsertRoundRobin(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := &orderWorker{done: make(chan struct{}), want: 9}
		ws := river.NewWorkers()
		river.AddWorker(ws, w)
		r, err := New(d, ws, Options{Queues: map[string]int{river.QueueDefault: 1}, Exclusive: d.Dialect == db.SQLite}, nil)
		if err != nil {
			t.Fatal(err)
		}
		insert := func(f func(tx *db.Tx) error) {
			t.Helper()
			if err := d.Write(ctx, f); err != nil {
				t.Fatal(err)
			}
		}
		insert(func(tx *db.Tx) error {
			_, err := r.InsertTx(ctx, tx, orderArgs{"plain"}, nil)
			return err
		})
		for _, g := range []struct {
			name string
			n    int
		}{{"A", 5}, {"B", 3}} {
			insert(func(tx *db.Tx) error {
				fg := r.FairGroup(tx)
				for i := range g.n {
					if _, err := fg.Insert(ctx, orderArgs{fmt.Sprintf("%s%d", g.name, i)}, nil); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if n, err := Waiting(ctx, d.Read(), river.QueueDefault); err != nil || n != 9 {
			t.Fatalf("Waiting = %d, %v; want 9", n, err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer r.Stop(ctx)
		select {
		case <-w.done:
		case <-time.After(time.Minute):
			t.Fatalf("jobs not worked: %v", w.seen)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		got := fmt.Sprint(w.seen)
		if want := "[A0 B0 A1 B1 A2 B2 A3 A4 plain]"; got != want {
			t.Fatalf("worked in order %s, want %s", got, want)
		}
	})
}
