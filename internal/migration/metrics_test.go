package migration_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestMetrics: /metrics reports move requests per state and what was
// copied.
func TestMetrics(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	src := s.Mailbox("contoso", "user01", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID, scenario.Generated(mailgen.Options{Seed: 9, Count: 40}))
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\n")
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: csv,
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, s, "fabrikam", "wave1", time.Minute, migration.StateSynced)
	resp, err := http.Get(s.PublicURL + "/metrics")
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
