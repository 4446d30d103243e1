package migration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestBigPassYieldsToSmallMoves (issue 13 items 4 and 6): on a node with
// one migration worker busy with a big mailbox's long initial pass (a
// bandwidth cap slows it), a batch of small users started later is not
// blocked behind it: at the end of its time slice the big pass yields
// its worker, the small users sync while the big one is still Syncing,
// and the big pass then resumes and syncs every item exactly once. With
// the pass running to its end (the old behaviour) the small users would
// wait for the whole big pass.
func TestBigPassYieldsToSmallMoves(t *testing.T) {
	r := newRigWith(t, scenario.Options{}, func(c *scenario.Config) {
		c.MigrationWorkers, c.PassSlice = 1, time.Second
	})
	bps := int64(128 << 10)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &bps}); err != nil {
		t.Fatal(err)
	}
	src := r.bigSource("huge", 12) // ~1.5 MiB at 128 KiB/s: at least 12 s
	ah := r.addr("huge")
	r.batch("big", r.tr.Endpoint, ah)
	scenario.Eventually(t, 30*time.Second, "the big pass running", func() error {
		if u := r.user("big", ah); u.Status != migration.StateSyncing {
			return fmt.Errorf("%s", u.Status)
		}
		return nil
	})
	small := []string{"tiny1", "tiny2"}
	for _, u := range small {
		r.stamp(r.source(u, 3, false, true), nil)
	}
	r.batch("small", r.tr.Endpoint, r.addr(small[0]), r.addr(small[1]))
	for _, u := range small {
		if v := r.waitUser("small", r.addr(u), migration.StateSynced); v.ItemsSynced != 3 {
			t.Fatalf("%s: %d of 3 items", u, v.ItemsSynced)
		}
	}
	if u := r.user("big", ah); u.Status == migration.StateSynced {
		t.Fatalf("the small users waited for the whole big pass (big is %s)", u.Status)
	}
	if n := counter(t, r, "tenantferry_migration_pass_yields_total"); n == 0 {
		t.Fatal("no pass yielded")
	}
	v := r.waitUser("big", ah, migration.StateSynced)
	if v.ItemsSynced != 12 || r.targetCount(src.ExchangeGuid) != 12 {
		t.Fatalf("the resumed big pass synced %d of 12 items; the target holds %d", v.ItemsSynced, r.targetCount(src.ExchangeGuid))
	}
	// A resumed pass copies what the target lacks, not the whole mailbox
	// again (at most the chunk in flight at the yield is read twice).
	if v.BytesTransferred > 2*12*(128<<10) {
		t.Fatalf("the big user transferred %d bytes for a ~%d-byte mailbox", v.BytesTransferred, 12*(128<<10))
	}
	t.Logf("big user: %d bytes transferred, %v yields", v.BytesTransferred, counter(t, r, "tenantferry_migration_pass_yields_total"))
}
