package migration_test

import (
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/tenantferry/tenantferry/internal/migration"
)

// TestMetrics: /metrics reports move requests per state and what was
// copied.
func TestMetrics(t *testing.T) {
	r := newRig(t)
	r.stamp(r.source("user01", 40, false, true), nil)
	r.batch("wave1", r.tr.Endpoint, r.addr("user01"))
	r.waitUser("wave1", r.addr("user01"), migration.StateSynced)
	resp, err := http.Get(r.s.PublicURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tenantferry_migration_moves\{state="Synced"\} 1`,
		`tenantferry_migration_items_copied_total 40`,
		`tenantferry_migration_bytes_copied_total [1-9][0-9.e+]*`,
	} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).Match(body) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
