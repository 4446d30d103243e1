package migration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestLargeBatch (issue 13 item 6): a batch CSV of 5,000 users is
// validated and created, started (5,000 initial passes queued
// round-robin) and stopped, and every user ends Stopped — the durations
// are logged, not asserted. A CSV over MaxCSVRows is refused with
// InvalidCsv naming the limit, and nothing is created.
func TestLargeBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000-user batch")
	}
	r := newRigWith(t, scenario.Options{}, func(c *scenario.Config) { c.MigrationWorkers = 2 })
	const n = 5000
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("user%05d@%s", i, r.tr.TargetTenant.InitialDomain)
	}
	start := time.Now()
	v := r.batchSpec(migration.BatchSpec{Name: "big", Endpoint: r.tr.Endpoint, CSV: csvOf(addrs...)})
	created := time.Since(start)
	if v.TotalCount != n {
		t.Fatalf("the batch holds %d users, want %d", v.TotalCount, n)
	}
	start = time.Now()
	r.cmd("big", admin.BatchStart, false)
	started := time.Since(start)
	r.cmd("big", admin.BatchStop, false)
	scenario.Eventually(t, 5*time.Minute, "every user stopped", func() error {
		bv, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "big")
		if err != nil {
			return err
		}
		if bv.Status != migration.StateStopped {
			return fmt.Errorf("batch %s", bv.Status)
		}
		return nil
	})
	t.Logf("5,000-user batch: created (CSV validated, users inserted) in %s, started (passes queued) in %s, stopped after %s",
		created.Round(time.Millisecond), started.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	tooMany := make([]string, migration.MaxCSVRows+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("x%05d@%s", i, r.tr.TargetTenant.InitialDomain)
	}
	_, err := r.tgt.Admin.CreateBatch(r.ctx, r.tgt.Op, tgtName, migration.BatchSpec{Name: "too-big", Endpoint: r.tr.Endpoint,
		CSV: csvOf(tooMany...), TargetDeliveryDomain: r.tr.TargetDelivery})
	if !isCode(err, "InvalidCsv") || !strings.Contains(err.Error(), "10000") {
		t.Fatalf("a CSV of %d rows: %v", len(tooMany), err)
	}
	if _, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "too-big"); err == nil {
		t.Fatal("the refused batch exists")
	}
}
