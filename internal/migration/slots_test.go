package migration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
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
	// The batch's aggregate throughput adds up its users.
	bv, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "one-at-a-time")
	if err != nil {
		t.Fatal(err)
	}
	if bv.ItemsSynced != 45 || bv.BytesTransferred <= 0 || bv.ItemsPerSecond <= 0 || bv.BytesPerSecond <= 0 {
		t.Fatalf("batch totals: %d items, %d bytes, %.1f items/s, %.0f B/s", bv.ItemsSynced, bv.BytesTransferred, bv.ItemsPerSecond, bv.BytesPerSecond)
	}
	waits, wakeups := counter(t, r, "tenantferry_migration_slot_waits_total"), counter(t, r, "tenantferry_migration_slot_wakeups_total")
	t.Logf("slot waits %v, wakeups %v", waits, wakeups)
	if waits == 0 || wakeups == 0 {
		t.Fatalf("with a limit of 1 and 3 users: %v waits, %v wakeups", waits, wakeups)
	}
	// The last pass releases its slot just after its user shows Synced.
	for _, table := range []string{"move_slots", "move_slot_waiters"} {
		scenario.Eventually(t, 30*time.Second, table+" empty after every user synced", func() error {
			var n int
			if err := r.s.DB.Read().QueryRowContext(r.ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
				return err
			}
			if n != 0 {
				return fmt.Errorf("%d rows left", n)
			}
			return nil
		})
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

// TestEndpointBandwidth (issue 11 item 6): an endpoint's
// MaxBytesPerSecond bounds what its passes read from the source: a user
// with 1 MiB of mail under a 256 KiB/s cap syncs every byte, no faster
// than the cap allows (a one-sided bound: a slow machine only makes the
// pass slower). A negative cap is refused.
func TestEndpointBandwidth(t *testing.T) {
	r := newRig(t)
	const capBPS = 256 << 10
	neg := int64(-5)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &neg}); !isCode(err, "InvalidBandwidth") {
		t.Fatalf("negative cap: %v", err)
	}
	bps := int64(capBPS)
	ep, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &bps})
	if err != nil || ep.MaxBytesPerSecond != capBPS {
		t.Fatalf("set the cap: %+v %v", ep, err)
	}
	r.bigSource("bw", 8)
	addr := r.addr("bw")
	r.batch("bw", r.tr.Endpoint, addr)
	u := r.waitUser("bw", addr, migration.StateSynced)
	took, err := time.ParseDuration(u.InitialSyncDuration)
	if err != nil {
		t.Fatal(err)
	}
	if u.ItemsSynced != 8 || u.BytesTransferred < 1<<20 {
		t.Fatalf("synced %d items, %d bytes", u.ItemsSynced, u.BytesTransferred)
	}
	minimum := time.Duration(float64(u.BytesTransferred-replication.ThrottleBurst) / capBPS * float64(time.Second))
	if took < minimum {
		t.Fatalf("%d bytes in %s: faster than the %d B/s cap allows (at least %s)", u.BytesTransferred, took, capBPS, minimum)
	}
	t.Logf("%d bytes in %s under a cap of %d B/s", u.BytesTransferred, took, capBPS)
}

// TestEndpointBandwidthChangeReachesRunningPass: a cap an administrator
// lifts while a pass runs applies to that pass at its next lease renewal,
// not only to later passes. Under the first cap of 16 KiB/s the user's
// 1 MiB would take more than a minute; lifted once the pass is Syncing, it
// is Synced within waitUser's 30 s.
func TestEndpointBandwidthChangeReachesRunningPass(t *testing.T) {
	r := newRig(t)
	const capBPS = 16 << 10
	bps := int64(capBPS)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &bps}); err != nil {
		t.Fatal(err)
	}
	r.bigSource("bwlive", 8)
	addr := r.addr("bwlive")
	r.batch("bwlive", r.tr.Endpoint, addr)
	r.waitUser("bwlive", addr, migration.StateSyncing)
	none := int64(0)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &none}); err != nil {
		t.Fatal(err)
	}
	u := r.waitUser("bwlive", addr, migration.StateSynced)
	if u.ItemsSynced != 8 || u.BytesTransferred < 1<<20 {
		t.Fatalf("synced %d items, %d bytes", u.ItemsSynced, u.BytesTransferred)
	}
	t.Logf("%d bytes in %s; under the first cap at least %s", u.BytesTransferred, u.InitialSyncDuration,
		time.Duration(float64(u.BytesTransferred-replication.ThrottleBurst)/capBPS*float64(time.Second)).Round(time.Second))
}

// TestCompletionsHaveTheirOwnQueue (issue 13 item 4): on a node with one
// migration worker, busy with a long initial pass (a bandwidth cap slows
// it), another user's completion still runs at once, on the completion
// queue: that user is Completed while the long pass is still syncing.
func TestCompletionsHaveTheirOwnQueue(t *testing.T) {
	r := newRigWith(t, scenario.Options{}, func(c *scenario.Config) { c.MigrationWorkers, c.CompletionWorkers = 1, 1 })
	quick := r.source("quick", 3, false, true)
	r.stamp(quick, nil)
	aq := r.addr("quick")
	r.batch("q", r.tr.Endpoint, aq)
	r.waitUser("q", aq, migration.StateSynced)

	bps := int64(128 << 10)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &bps}); err != nil {
		t.Fatal(err)
	}
	r.bigSource("slow", 6)
	as := r.addr("slow")
	r.batch("s", r.tr.Endpoint, as)
	scenario.Eventually(t, 30*time.Second, "the slow pass running", func() error {
		if u := r.user("s", as); u.Status != migration.StateSyncing {
			return fmt.Errorf("%s", u.Status)
		}
		return nil
	})
	r.cmd("q", admin.BatchComplete, false)
	r.waitUser("q", aq, migration.StateCompleted)
	if u := r.user("s", as); u.Status != migration.StateSyncing {
		t.Fatalf("the completion waited for the slow pass: it is %s", u.Status)
	}
	r.waitUser("s", as, migration.StateSynced)
}

// bigSource creates a stamped source mailbox in scope with n messages of
// 128 KiB in its inbox.
func (r *rig) bigSource(alias string, n int) *directory.Recipient {
	r.t.Helper()
	src := r.source(alias, 0, false, true)
	var big []scenario.Item
	for i := range n {
		big = append(big, scenario.Item{Folder: "Inbox", Date: time.Date(2024, 5, 1, 9, i, 0, 0, time.UTC),
			Data: scenario.Message("sender@example.net", alias+"@contoso.tenantferry.test", fmt.Sprintf("%s %d", alias, i), strings.Repeat("0123456789abcdef\r\n", (128<<10)/18))})
	}
	scenario.Fill(r.t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, big)
	r.stamp(src, nil)
	return src
}
