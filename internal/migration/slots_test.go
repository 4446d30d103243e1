package migration_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// TestEndpointLimitWakesWaiters: with MaxConcurrentMigrations 1, a batch
// of three users runs one move at a time, every user reaches Synced with
// all its items, and the moves that waited were woken by the release of
// the slot (slot_wakeups), not by their fallback snooze; no slot or
// waiter row is left.
func TestEndpointLimitWakesWaiters(t *testing.T) {
	r := newRig(t)
	users := []string{"user01", "user02", "user03"}
	for _, u := range users {
		r.stamp(r.source(u, 15, false, true), nil)
	}
	if _, err := r.s.Admin.UpdateEndpoint(r.ctx, r.s.Op, tgtName, r.tr.Endpoint,
		directory.EndpointUpdate{MaxConcurrentMigrations: 1, MaxConcurrentIncrementalSyncs: 1}); err != nil {
		t.Fatal(err)
	}
	r.batch("one-at-a-time", r.tr.Endpoint, r.addr(users[0]), r.addr(users[1]), r.addr(users[2]))
	for _, u := range users {
		if v := r.waitUser("one-at-a-time", r.addr(u), migration.StateSynced); v.ItemsSynced != 15 {
			t.Fatalf("%s: %d of 15 items", u, v.ItemsSynced)
		}
	}
	waits, wakeups := counter(t, r, "tenantferry_migration_slot_waits_total"), counter(t, r, "tenantferry_migration_slot_wakeups_total")
	t.Logf("slot waits %v, wakeups %v", waits, wakeups)
	if waits == 0 || wakeups == 0 {
		t.Fatalf("with a limit of 1 and 3 users: %v waits, %v wakeups", waits, wakeups)
	}
	// The last pass releases its slot just after its user shows Synced.
	deadline := time.Now().Add(30 * time.Second)
	for _, table := range []string{"move_slots", "move_slot_waiters"} {
		for {
			var n int
			if err := r.s.DB.Read().QueryRowContext(r.ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d rows left after every user synced", table, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// counter reads one of the migration service's counters.
func counter(t *testing.T, r *rig, name string) float64 {
	t.Helper()
	for _, c := range r.s.Migration.Collectors() {
		ch := make(chan prometheus.Metric, 16)
		go func() { c.Collect(ch); close(ch) }()
		for m := range ch {
			if strings.Contains(m.Desc().String(), `"`+name+`"`) {
				var pb dto.Metric
				if err := m.Write(&pb); err != nil {
					t.Fatal(err)
				}
				return pb.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
