package cli_test

import (
	"fmt"
	"github.com/tenantferry/tenantferry/internal/bench"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// TestEndpointLimitAcrossServeNodes (issue 11 acceptance): two `serve`
// nodes share one PostgreSQL database (and server key, behind one public
// URL) as the target of a batch of nine users from a third node, with
// MaxConcurrentMigrations 3 and a bandwidth cap that makes each initial
// pass last a while. From the users' logs (batch report: when each pass
// started and ended; peakPasses), never more than 3 initial passes ran at
// once, and passes did run in parallel; every user synced
// all its items.
func TestEndpointLimitAcrossServeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node end-to-end test")
	}
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN: the nodes share a PostgreSQL database")
	}
	dsn := dbtest.DSN(t, db.Postgres)
	nodes := newNodes(t, "A", "B", "C")
	a, b, c := nodes[0], nodes[1], nodes[2]
	b.extra = []string{"--db", dsn}
	c.extra = []string{"--db", dsn, "--public-url", b.url}
	a.start("")
	b.start("")
	shareServerKey(t, b, c) // nodes sharing a database share the server key
	c.op = b.op             // the operator token lives in the shared database
	c.start("")

	tr := setupTenants(t, a, b)
	var aliases, addrs []string
	items := map[string]int{}
	for i := range 9 {
		al := fmt.Sprintf("n%d", i+1)
		aliases, addrs = append(aliases, al), append(addrs, al+"@fabrikam.tenantferry.test")
		tr.src.run("mailbox", "create", "--tenant", "contoso", "--alias", al, "--password", "pw-"+al+"-Secret!")
		for f, p := range writeGeneratedMbox(t, mailgen.Options{Seed: int64(700 + i), Count: 60, Owner: al + "@contoso.tenantferry.test", Median: 4000}) {
			items[addrs[i]] += tr.src.importMailbox("contoso", al, "--mbox", p, "--folder", f).Messages
		}
	}
	tr.setupTrust(t, a, b, aliases...)
	tgt := tr.tgt
	// 3 passes at once, and 600 KB/s between them: ~200 KB/s each.
	tgt.run("endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--max-concurrent-migrations", "3", "--max-bytes-per-second", "600000")
	all := writeCSV(t, b.dir, "all.csv", addrs...)
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", all, "--target-delivery-domain", "fabrikam.tenantferry.test")
	// The batch is created through one node and runs on both.
	c.as(tr.tgtTenant.AdminToken).run("batch", "create", "--tenant", "fabrikam", "--name", "nodes", "--endpoint", tr.endpoint, "--csv", all,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	for _, u := range tgt.waitBatch("fabrikam", "nodes", 5*time.Minute, "Synced") {
		if u.ItemsSynced != int64(items[u.EmailAddress]) {
			t.Errorf("%s synced %d of %d items", u.EmailAddress, u.ItemsSynced, items[u.EmailAddress])
		}
	}

	peak, n := peakPasses(t, tgt, "nodes")
	t.Logf("%d initial passes, at most %d at once", n, peak)
	if peak > 3 {
		t.Fatalf("%d initial passes ran at once across the two nodes, above MaxConcurrentMigrations 3", peak)
	}
	if peak < 2 {
		t.Fatalf("the passes never overlapped (peak %d): the test did not exercise the limit", peak)
	}
}

// peakPasses reconstructs the initial passes of a batch's users from
// their logs (batch report) and returns the most that held an endpoint
// slot at once, and how many users there were. A pass holds its slot from
// "pass started on node …" until "→ Synced", "pass handed over" (it
// released the slot) or the user's next pass start (a pass whose node was
// killed keeps its slot until the move's next pass re-takes it).
func peakPasses(t *testing.T, tgt *admin, batch string) (peak, users int) {
	t.Helper()
	var rep []struct {
		EmailAddress string
		Report       []struct {
			Time    time.Time
			Message string
		}
	}
	tgt.json(&rep, "batch", "report", "--tenant", "fabrikam", batch)
	var spans []bench.Span
	for _, u := range rep {
		var open time.Time
		synced := false
		for _, l := range u.Report {
			switch {
			case synced:
			case strings.HasPrefix(l.Message, "pass started on node "):
				if !open.IsZero() {
					spans = append(spans, bench.Span{Start: open, End: l.Time})
				}
				open = l.Time
			case !open.IsZero() && (strings.HasSuffix(l.Message, "→ Synced") || strings.HasPrefix(l.Message, "pass handed over")):
				spans = append(spans, bench.Span{Start: open, End: l.Time})
				open, synced = time.Time{}, strings.HasSuffix(l.Message, "→ Synced")
			}
		}
		if !synced {
			t.Fatalf("%s: no initial pass in its history: %+v", u.EmailAddress, u.Report)
		}
	}
	return bench.PeakOverlap(spans), len(rep)
}
