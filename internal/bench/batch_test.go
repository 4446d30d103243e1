package bench

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// checkBatch checks that a batch run produced every figure and attributed
// every move to a node (not the figures' values: no timing assertions).
func checkBatch(t *testing.T, o BatchOptions, res *BatchResult) {
	t.Helper()
	if res.Items < int64(o.Mailboxes) || res.Bytes == 0 || res.ItemsPerSec <= 0 || res.MBps <= 0 || res.Consistency != "Perfect" {
		t.Errorf("incomplete result: %+v", res)
	}
	if res.MaxConcurrent < 1 || res.LockWindowMs.Max < res.LockWindowMs.Min || len(res.NodeStats) != o.Nodes {
		t.Errorf("concurrency %d, lock windows %+v, %d node lines", res.MaxConcurrent, res.LockWindowMs, len(res.NodeStats))
	}
	moves, completions := 0, 0
	for _, n := range res.NodeStats {
		moves, completions = moves+n.Moves, completions+n.Completions
		if n.PeakRSSMB <= 0 {
			t.Errorf("%s: no peak RSS", n.Name)
		}
	}
	if moves != o.Mailboxes || completions != o.Mailboxes {
		t.Errorf("nodes ran %d initial passes and %d completions of %d moves: %+v", moves, completions, o.Mailboxes, res.NodeStats)
	}
}

// TestRunBatchSmall runs the batch benchmark with three tiny mailboxes of
// seven messages each (--messages) on one in-process node on SQLite, with
// the one-big-mailbox reference.
func TestRunBatchSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := BatchOptions{Mailboxes: 3, Messages: 7, Median: 2 << 10, Reference: true}
	res, err := RunBatch(ctx, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, BatchOptions{Mailboxes: 3, Nodes: 1}, res)
	if res.Items != 3*7 {
		t.Errorf("%d items generated, want 3 mailboxes of 7 messages", res.Items)
	}
	if res.NodeMode != "in-process" || res.DB != "sqlite" {
		t.Errorf("mode %s on %s", res.NodeMode, res.DB)
	}
	if res.RefItems != res.Items || res.RefItemsPerSec <= 0 || res.RatioToRef <= 0 {
		t.Errorf("reference: %d of %d items, %.0f items/s", res.RefItems, res.Items, res.RefItemsPerSec)
	}
}

// TestRunBatchNeedsPostgres: several nodes cannot share SQLite.
func TestRunBatchNeedsPostgres(t *testing.T) {
	if _, err := RunBatch(context.Background(), BatchOptions{Mailboxes: 2, Nodes: 2}, io.Discard); err == nil {
		t.Fatal("two nodes on SQLite: no error")
	}
}

// TestRunBatchTwoNodes runs the batch benchmark on two `tenantferry serve`
// child processes sharing a PostgreSQL schema and a blob directory, with
// an endpoint limit of 2: never more than 2 initial passes at once.
func TestRunBatchTwoNodes(t *testing.T) {
	base := os.Getenv(dbtest.EnvPostgres)
	if base == "" {
		t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN: the nodes share a PostgreSQL database")
	}
	if testing.Short() {
		t.Skip("builds the binary and starts two serve processes")
	}
	bin := filepath.Join(t.TempDir(), "tenantferry")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tenantferry/tenantferry/cmd/tenantferry").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := BatchOptions{Mailboxes: 5, Size: 12 << 10, Median: 2 << 10, Nodes: 2, DB: base, NodeBinary: bin, EndpointLimit: 2}
	res, err := RunBatch(ctx, o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, o, res)
	if res.NodeMode != "processes" || res.DB != "postgres" || res.EndpointLimit != 2 {
		t.Errorf("mode %s on %s, limit %d", res.NodeMode, res.DB, res.EndpointLimit)
	}
	if res.MaxConcurrent > 2 || res.MaxSampled > 2 {
		t.Errorf("%d initial passes at once (%d sampled) above MaxConcurrentMigrations 2", res.MaxConcurrent, res.MaxSampled)
	}
	for _, n := range res.NodeStats {
		if n.PID == 0 {
			t.Errorf("%s: no process id", n.Name)
		}
	}
}

// TestPeakOverlapAndPhases checks the history arithmetic on a hand-made
// report: two passes overlap, a third starts when the first ends.
func TestPeakOverlapAndPhases(t *testing.T) {
	at := func(ms int) time.Time { return time.UnixMilli(int64(ms)) }
	user := func(start, syncing, end int) *migration.ReportView {
		return &migration.ReportView{Report: []migration.LogLine{{Time: at(start), Message: "Queued → Validating"},
			{Time: at(syncing), Message: "Validating → Syncing"}, {Time: at(end), Message: "Syncing → Synced"}}}
	}
	rep := []*migration.ReportView{user(0, 10, 100), user(50, 60, 150), user(100, 130, 200)}
	if got, busy := peakOverlap(rep); got != 2 || busy != 300*time.Millisecond {
		t.Errorf("peak %d, want 2; busy %v, want 300ms", got, busy)
	}
	v, c := phases(rep)
	if v != (Spread{10, 10, 30}) || c != (Spread{70, 90, 90}) {
		t.Errorf("validating %+v, copying %+v", v, c)
	}
}
