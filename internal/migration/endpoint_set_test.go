package migration_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestRotateEndpointSecret: a batch whose endpoint holds a wrong secret
// fails with TokenRejected; `endpoint set --secret` fixes the endpoint in
// place and a restart of the batch syncs the user.
func TestRotateEndpointSecret(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	src := s.Mailbox("contoso", "user01", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID, scenario.Generated(mailgen.Options{Seed: 5, Count: 12}))
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\n")
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.UpdateEndpoint(ctx, s.Op, "fabrikam", tr.Endpoint, directory.EndpointUpdate{Secret: "wrong-secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: csv,
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	var u *migration.UserView
	scenario.Eventually(t, 30*time.Second, "TokenRejected", func() error {
		us, err := s.Admin.BatchUsers(ctx, s.Op, "fabrikam", "wave1")
		if err != nil {
			return err
		}
		u = us[0]
		if u.Status != migration.StateFailed {
			return context.DeadlineExceeded
		}
		return nil
	})
	if u.Error == nil || u.Error.Code != "TokenRejected" {
		t.Fatalf("with a wrong secret: %+v", u.Error)
	}
	if _, err := s.Admin.UpdateEndpoint(ctx, s.Op, "fabrikam", tr.Endpoint, directory.EndpointUpdate{Secret: tr.Secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "wave1", admin.BatchStart, false); err != nil {
		t.Fatal(err)
	}
	u = waitUsers(t, s, "fabrikam", "wave1", time.Minute, migration.StateSynced)[0]
	if u.ItemsSynced != 12 || u.Error != nil {
		t.Fatalf("after the rotation: %+v", u)
	}
}
