package migration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// slowPass starts a batch "w" of one big user whose initial pass a
// bandwidth cap makes last ≥ 12 s, and waits until it runs.
func slowPass(t *testing.T, r *rig) (*directory.Recipient, string) {
	t.Helper()
	bps := int64(128 << 10)
	if _, err := r.tgt.Admin.UpdateEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &bps}); err != nil {
		t.Fatal(err)
	}
	src := r.bigSource("slow", 12) // ~1.5 MiB at 128 KiB/s
	addr := r.addr("slow")
	r.batch("w", r.tr.Endpoint, addr)
	scenario.Eventually(t, 30*time.Second, "the pass running", func() error {
		if u := r.user("w", addr); u.Status != migration.StateSyncing {
			return fmt.Errorf("%s", u.Status)
		}
		return nil
	})
	return src, addr
}

// stoppedMidPass checks that the stopped user ended Stopped before its
// pass copied everything, with the statistics matching the target.
func stoppedMidPass(t *testing.T, r *rig, src *directory.Recipient, addr string) {
	t.Helper()
	u := r.waitUser("w", addr, migration.StateStopped)
	if u.ItemsSynced >= 12 {
		t.Fatalf("stopped with %d of 12 items: the pass ran to its end", u.ItemsSynced)
	}
	if n := r.targetCount(src.ExchangeGuid); int64(n) != u.ItemsSynced {
		t.Fatalf("the target holds %d items, the statistics say %d", n, u.ItemsSynced)
	}
	t.Logf("stopped after %d of 12 items", u.ItemsSynced)
}

// TestStopEndsPassOnThisNode: a stop on the node that runs the pass
// cancels it at once, in the middle of a chunk (here the whole mailbox is
// one chunk, so the pass calls its progress callback only at its end):
// the chunk rolls back and the user is Stopped with nothing copied.
func TestStopEndsPassOnThisNode(t *testing.T) {
	r := newRig(t)
	src, addr := slowPass(t, r)
	r.cmd("w", admin.BatchStop, false)
	stoppedMidPass(t, r, src, addr)
	r.logHas("w", addr, "Syncing → Stopping", "Stopping → Stopped")
}

// TestStopEndsPassFromAnotherNode: a stop made by another node (a second
// migration service on the same database, whose in-process cancel
// reaches none of this node's passes) ends the running pass through the
// progress callback's periodic check, after a chunk of one item and
// long before the pass would end.
func TestStopEndsPassFromAnotherNode(t *testing.T) {
	r := newRig(t)
	r.tgt.Migration.Engine.ChunkItems = 1
	src, addr := slowPass(t, r)
	other := migration.New(r.tgt.DB, r.tgt.Dir, r.tgt.Store, "", nil)
	if _, err := other.StopBatch(r.ctx, r.tgtID(), "w"); err != nil {
		t.Fatal(err)
	}
	stoppedMidPass(t, r, src, addr)
}
