package migration_test

import (
	"context"
	"testing"

	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestPrepareDryRunPredictsRefusals: a dry run reports the rows the real
// run would refuse (a target address outside the accepted domains) and
// changes nothing.
func TestPrepareDryRunPredictsRefusals(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	s.Mailbox("contoso", "user01", "pw", false)
	s.Mailbox("contoso", "user02", "pw", false)
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01", "user02")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\nuser02@not-accepted.example\n")
	rows, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, true)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Action != migration.PrepareWouldDo || rows[1].Action != migration.PrepareFailed || rows[1].Error.Code != "NotAcceptedDomain" {
		t.Fatalf("dry run: %+v / %+v %+v", rows[0], rows[1], rows[1].Error)
	}
	if _, err := s.Dir.GetRecipient(ctx, tr.TargetTenant.ID, "user01@fabrikam.tenantferry.test"); err == nil {
		t.Fatal("the dry run created a recipient")
	}
	rows, err = s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false)
	if err != nil {
		t.Fatal(err)
	}
	if rows[0].Action != migration.PrepareCreated || rows[1].Error == nil || rows[1].Error.Code != "NotAcceptedDomain" {
		t.Fatalf("real run: %+v / %+v", rows[0], rows[1])
	}
}
