package jobs

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestDepth: the queue-depth collector reports every queue of the node
// in every state, at zero when empty, and counts jobs available now and
// scheduled for later (the runner is not started: nothing runs them).
func TestDepth(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		w := river.NewWorkers()
		river.AddWorker(w, &pingWorker{})
		r, err := New(d, w, Options{Queues: map[string]int{"a": 1, "b": 1}, Exclusive: d.Dialect == db.SQLite}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, at := range []time.Time{{}, {}, time.Now().Add(time.Hour)} {
			if _, err := r.Insert(ctx, pingArgs{N: i}, &river.InsertOpts{Queue: "a", ScheduledAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(r.Collector())
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "tenantferry_jobs" {
				continue
			}
			for _, m := range mf.GetMetric() {
				l := map[string]string{}
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				got[l["queue"]+"/"+l["state"]] = m.GetGauge().GetValue()
			}
		}
		if len(got) != 2*len(depthStates) {
			t.Errorf("%d series, want %d: %v", len(got), 2*len(depthStates), got)
		}
		for _, q := range []string{"a", "b"} {
			for _, st := range depthStates {
				want := 0.0
				switch q + "/" + st {
				case "a/available":
					want = 2
				case "a/scheduled":
					want = 1
				}
				if v, ok := got[q+"/"+st]; !ok || v != want {
					t.Errorf("tenantferry_jobs{queue=%q,state=%q}: %v (present %v), want %v", q, st, v, ok, want)
				}
			}
		}
	})
}
