package cli_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestTwoNodesShareABatch (issue 13 acceptance): two target `serve` nodes
// B and C share one PostgreSQL database and one S3 bucket (SeaweedFS) and
// run a 50-user batch from a third node A, with MaxConcurrentMigrations 4
// and a bandwidth cap that makes the batch last a minute or so (each user
// is ~256 KB, four times a pass's limiter burst, and a pass gets a quarter
// of the 150 KB/s cap), so that it is still running when C comes back:
//   - both nodes run passes (each move's log names the node of each pass);
//   - C is stopped with SIGTERM while it runs passes: it hands them over
//     (its log says so) and another node carries them on (B, or C once
//     restarted);
//   - C is restarted, runs passes again, and is killed with SIGKILL
//     mid-sync; B, with the cap lifted, completes every user Perfect, each
//     with exactly its source's item count;
//   - the endpoint's 4 slots, sampled every 50 ms in the shared database,
//     and the passes reconstructed from the users' histories never exceed
//     the limit.
func TestTwoNodesShareABatch(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node end-to-end test")
	}
	if os.Getenv(dbtest.EnvPostgres) == "" {
		t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN: the nodes share a PostgreSQL database")
	}
	began := time.Now()
	dsn := dbtest.DSN(t, db.Postgres)
	w := blobtest.Start(t)
	bucket := w.Bucket(t)
	cred := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(cred, []byte("[default]\naws_access_key_id = "+blobtest.AccessKey+"\naws_secret_access_key = "+blobtest.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nodes := newNodes(t, "A", "B", "C")
	a, b, c := nodes[0], nodes[1], nodes[2]
	shared := []string{"--db", dsn, "--blob-backend", "s3", "--s3-endpoint", w.Endpoint, "--s3-bucket", bucket, "--s3-credentials-file", cred,
		"--pass-slice", "10m"} // no yields: a pass holds its slot from start to end, which the interval check below relies on
	b.extra = shared
	c.extra = append(append([]string{}, shared...), "--public-url", b.url)
	a.start("")
	b.start("")
	shareServerKey(t, b, c)
	c.op = b.op
	c.start("")

	tr := setupTenants(t, a, b)
	const users = 50
	var aliases, addrs []string
	for i := range users {
		al := fmt.Sprintf("s%02d", i+1)
		aliases, addrs = append(aliases, al), append(addrs, al+"@fabrikam.tenantferry.test")
	}
	items := seedSources(t, tr.src, aliases)
	tr.setupTrust(t, a, b, aliases...)
	tgt := tr.tgt
	tgt.run("endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--max-concurrent-migrations", "4", "--max-bytes-per-second", "150000")
	all := writeCSV(t, b.dir, "all.csv", addrs...)
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", all, "--target-delivery-domain", "fabrikam.tenantferry.test")

	pg, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	peak := sampleSlots(t, pg)
	t.Logf("%d source users set up in %s", users, time.Since(began).Round(time.Second))
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "shared", "--endpoint", tr.endpoint, "--csv", all,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")

	// Drain: C, while it runs passes, stops with SIGTERM and hands them over.
	cNode := waitPassesOn(t, pg, c, 5*time.Minute)
	start := time.Now()
	if err := c.cur.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-c.cur.exited
	if c.cur.waitErr != nil {
		t.Fatalf("C did not stop cleanly on SIGTERM: %v", c.cur.waitErr)
	}
	if !strings.Contains(c.cur.stderr.String(), "pass handed over") {
		t.Fatalf("C stopped without handing its passes over:\n%s", c.cur.stderr)
	}
	t.Logf("C drained in %s", time.Since(start).Round(time.Millisecond))
	drained := handedOver(c.cur.stderr.String())

	// Kill: C again, once it has run passes, mid-sync, with SIGKILL. The
	// batch must still have users to sync for the restarted C to take one.
	if left := unsynced(t, pg); left == 0 {
		t.Fatalf("every user was Synced before C restarted: the users are too small for the bandwidth cap to keep the batch running (%s)", slotState(pg))
	}
	c.start("")
	cNode2 := waitPassesOn(t, pg, c, 5*time.Minute)
	sc.Eventually(t, 5*time.Minute, "a pass of the restarted C in a user's log", func() error {
		for _, h := range passHistory(t, tgt) {
			if h.after(cNode2, cNode2) {
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	waitPassesOn(t, pg, c, 5*time.Minute)
	c.kill9()
	killedAt := time.Now()
	// The rest needs no cap: lifted, it reaches B's running passes at their
	// next lease renewal.
	tgt.run("endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--max-bytes-per-second", "0")

	us := tgt.waitBatch("fabrikam", "shared", 10*time.Minute, "Synced")
	t.Logf("every user Synced %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	tgt.run("batch", "complete", "--tenant", "fabrikam", "shared", "--yes")
	us = tgt.waitBatch("fabrikam", "shared", 10*time.Minute, "Completed")
	for _, u := range us {
		if u.DataConsistencyScore != "Perfect" || u.ItemsSynced != items[u.EmailAddress] || u.Error != nil {
			t.Errorf("%s: %s, %d of %d items, error %+v", u.EmailAddress, u.DataConsistencyScore, u.ItemsSynced, items[u.EmailAddress], u.Error)
		}
	}

	// Every pass C had when it drained went on, on another node; both nodes
	// ran passes.
	history := passHistory(t, tgt)
	bNode := ""
	perNode := map[string]int{}
	for _, h := range history {
		for _, n := range h.nodes {
			perNode[n]++
			if n != cNode && n != cNode2 {
				bNode = n
			}
		}
	}
	for _, addr := range drained {
		h := history[addr]
		if !h.resumedAfter(cNode) {
			t.Errorf("%s was handed over by C but never resumed on another node: %v", addr, h.nodes)
		}
	}
	t.Logf("passes per node: %v (C before the drain %s, after its restart %s); %d passes handed over; B completed the batch %s after the kill",
		perNode, cNode, cNode2, len(drained), time.Since(killedAt).Round(time.Second))
	if perNode[bNode] == 0 || perNode[cNode] == 0 || perNode[cNode2] == 0 {
		t.Fatalf("the nodes did not share the batch: %v", perNode)
	}
	sampled, passes := peak(), 0
	passes, _ = peakPasses(t, tgt, "shared")
	t.Logf("at most %d slots held at once (sampled), %d passes at once (from the logs); limit 4", sampled, passes)
	if sampled > 4 || sampled == 0 || passes > 4 {
		t.Fatalf("the endpoint limit of 4 was not kept across the nodes: %d slots, %d passes at once", sampled, passes)
	}
}

// seedSources creates a contoso mailbox per alias on the source, with 16
// generated messages of ~16 KB in its Inbox, four at a time, and returns the item
// count per target address.
func seedSources(t *testing.T, src *admin, aliases []string) map[string]int64 {
	t.Helper()
	items := map[string]int64{}
	var mu sync.Mutex
	var failures []string
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, al := range aliases {
		mbox := writeGeneratedMbox(t, mailgen.Options{Seed: int64(900 + i), Count: 16, Owner: al + "@contoso.tenantferry.test", Median: 16000,
			AttachKB: 4, Folders: []string{"Inbox"}})["Inbox"]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fail := func(r result) { mu.Lock(); failures = append(failures, r.stderr); mu.Unlock() }
			if r := src.try("mailbox", "create", "--tenant", "contoso", "--alias", al, "--password", "pw-"+al+"-Secret!"); r.code != 0 {
				fail(r)
				return
			}
			r := src.try("mailbox", "import", "--tenant", "contoso", al, "--mbox", mbox, "--folder", "Inbox", "-o", "json")
			var res importResult
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
				fail(r)
				return
			}
			mu.Lock()
			items[al+"@fabrikam.tenantferry.test"] = int64(res.Messages)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("seeding the sources: %s", strings.Join(failures, "\n"))
	}
	return items
}

// shareServerKey copies from's server key to to's data directory: nodes
// sharing a database share the key.
func shareServerKey(t *testing.T, from, to *node) {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(from.dir, "tenantferry-data", identity.ServerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(to.dir, "tenantferry-data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to.dir, "tenantferry-data", identity.ServerKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sampleSlots samples the number of held move slots every 50 ms until the
// test ends; the returned function gives the peak so far.
func sampleSlots(t *testing.T, pg *sql.DB) func() int {
	var mu sync.Mutex
	peak := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var n int
			if pg.QueryRow(`SELECT COUNT(*) FROM move_slots WHERE expires_at >= $1`, time.Now().UnixMilli()).Scan(&n) == nil {
				mu.Lock()
				peak = max(peak, n)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return func() int { mu.Lock(); defer mu.Unlock(); return peak }
}

// waitPassesOn waits until node n (found by its process id in the nodes
// table) holds a move slot, and returns its node id.
func waitPassesOn(t *testing.T, pg *sql.DB, n *node, timeout time.Duration) string {
	t.Helper()
	var id string
	sc.Eventually(t, timeout, n.name+" running passes", func() error {
		var held int
		err := pg.QueryRow(`SELECT n.id, (SELECT COUNT(*) FROM move_slots s WHERE s.node_id = n.id) FROM nodes n WHERE n.pid = $1`,
			n.cur.cmd.Process.Pid).Scan(&id, &held)
		if err != nil {
			return err
		}
		if held == 0 {
			return fmt.Errorf("node %s holds no slot (%s)", id, slotState(pg))
		}
		return nil
	})
	return id
}

// unsynced counts the moves that have not finished their initial sync.
func unsynced(t *testing.T, pg *sql.DB) int {
	t.Helper()
	var n int
	if err := pg.QueryRow(`SELECT COUNT(*) FROM moves WHERE state IN ('Queued', 'Validating', 'Syncing')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// slotState describes the moves' states, the held slots per node and the
// waiters, for a failure message.
func slotState(pg *sql.DB) string {
	var parts []string
	for _, q := range []string{`SELECT state, COUNT(*) FROM moves GROUP BY state ORDER BY state`,
		`SELECT 'slots@' || node_id, COUNT(*) FROM move_slots GROUP BY node_id ORDER BY node_id`,
		`SELECT 'waiters', COUNT(*) FROM move_slot_waiters`,
		`SELECT 'job ' || state, COUNT(*) FROM river_job WHERE queue = 'migration' GROUP BY state ORDER BY state`} {
		rows, err := pg.Query(q)
		if err != nil {
			parts = append(parts, err.Error())
			continue
		}
		for rows.Next() {
			var k string
			var n int
			if rows.Scan(&k, &n) == nil {
				parts = append(parts, fmt.Sprintf("%s=%d", k, n))
			}
		}
		rows.Close()
	}
	return strings.Join(parts, " ")
}

// nodeHistory is the sequence of nodes that ran a user's passes.
type nodeHistory struct{ nodes []string }

// after reports whether a pass on node second followed one on first.
func (h nodeHistory) after(first, second string) bool {
	seen := false
	for _, n := range h.nodes {
		seen = seen || n == first
		if seen && n == second {
			return true
		}
	}
	return false
}

// resumedAfter reports whether a pass on another node followed one on
// node first (a handed-over pass resumes on whichever node takes it: B, or
// the restarted C).
func (h nodeHistory) resumedAfter(first string) bool {
	seen := false
	for _, n := range h.nodes {
		if seen && n != first {
			return true
		}
		seen = seen || n == first
	}
	return false
}

// passHistory reads every user's pass starts ("pass started on node X")
// from the batch report.
func passHistory(t *testing.T, tgt *admin) map[string]nodeHistory {
	t.Helper()
	var rep []struct {
		EmailAddress string
		Report       []struct{ Message string }
	}
	tgt.json(&rep, "batch", "report", "--tenant", "fabrikam", "shared")
	out := map[string]nodeHistory{}
	for _, u := range rep {
		var h nodeHistory
		for _, l := range u.Report {
			if n, ok := strings.CutPrefix(l.Message, "pass started on node "); ok {
				h.nodes = append(h.nodes, n)
			}
		}
		out[u.EmailAddress] = h
	}
	return out
}

// handedOver returns the users of the "pass handed over" lines of a
// node's log.
func handedOver(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "pass handed over") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if u, ok := strings.CutPrefix(f, "user="); ok {
				out = append(out, u)
			}
		}
	}
	return out
}
