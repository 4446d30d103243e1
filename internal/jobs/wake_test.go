package jobs

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestWakeTxHeadOfQueue: a job scheduled for later (a snoozed pass) that
// WakeTx wakes runs before the fair backlog queued ahead of it; WakeTx on
// a job that is not scheduled (already available) reports false and
// changes nothing.
func TestWakeTxHeadOfQueue(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := &orderWorker{done: make(chan struct{}), want: 4}
		ws := river.NewWorkers()
		river.AddWorker(ws, w)
		r, err := New(d, ws, Options{Queues: map[string]int{river.QueueDefault: 1}, Exclusive: d.Dialect == db.SQLite}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var snoozed, backlog0 int64
		err = d.Write(ctx, func(tx *db.Tx) error {
			res, err := r.InsertTx(ctx, tx, orderArgs{"snoozed"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
			if err != nil {
				return err
			}
			snoozed = res.Job.ID
			g := r.FairGroup(tx)
			for i, n := range []string{"backlog0", "backlog1", "backlog2"} {
				res, err := g.Insert(ctx, orderArgs{n}, nil)
				if err != nil {
					return err
				}
				if i == 0 {
					backlog0 = res.Job.ID
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Write(ctx, func(tx *db.Tx) error {
			if woken, err := WakeTx(ctx, tx, backlog0); err != nil || woken {
				t.Errorf("WakeTx of an available job: %v, %v; want false", woken, err)
			}
			woken, err := WakeTx(ctx, tx, snoozed)
			if err == nil && !woken {
				t.Error("WakeTx of a scheduled job reported false")
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer r.Stop(ctx)
		select {
		case <-w.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("jobs worked: %v", w.seen)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if want := []string{"snoozed", "backlog0", "backlog1", "backlog2"}; !slices.Equal(w.seen, want) {
			t.Fatalf("order %v, want %v", w.seen, want)
		}
	})
}
