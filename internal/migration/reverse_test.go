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

// TestSameServerMoveAndBack moves a mailbox between two tenants of one
// server and then back again, with the objects configured in both
// directions (Inbound,RemoteOutbound on both sides).
func TestSameServerMoveAndBack(t *testing.T) {
	if testing.Short() {
		t.Skip("scenario test")
	}
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	src := s.Mailbox("contoso", "user01", "pw-user01", true)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 7, Count: 300, Owner: "user01@contoso.tenantferry.test", Median: 3000, AttachKB: 40}))
	scenario.Fill(t, s.Store, s.Content("contoso", src.ArchiveGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 8, Count: 50, Owner: "user01@contoso.tenantferry.test", Median: 3000, AttachKB: 40}))
	original := scenario.Take(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID)
	originalArchive := scenario.Take(t, s.Store, s.Content("contoso", src.ArchiveGuid).ID)

	// There: contoso → fabrikam on the same server.
	there := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	there.AddToScope(t, s, "user01")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\n")
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", there.Endpoint, csv, there.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "there", Endpoint: there.Endpoint, CSV: csv,
		TargetDeliveryDomain: there.TargetDelivery, AutoStart: true, AutoComplete: true}); err != nil {
		t.Fatal(err)
	}
	us := waitUsers(t, s, "fabrikam", "there", 2*time.Minute, migration.StateCompleted)
	if us[0].DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("score %s", us[0].DataConsistencyScore)
	}
	got := scenario.Take(t, s.Store, s.Content("fabrikam", src.ExchangeGuid).ID)
	if d := scenario.Diff(original, got); d != "" {
		t.Fatalf("same-server move differs:\n%s", d)
	}
	if d := scenario.Diff(originalArchive, scenario.Take(t, s.Store, s.Content("fabrikam", src.ArchiveGuid).ID)); d != "" {
		t.Fatalf("archive differs:\n%s", d)
	}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "there", admin.BatchRemove, false); err != nil {
		t.Fatal(err)
	}

	// Back: fabrikam → contoso. The old source (now a MailUser with the
	// same GUIDs and the target's X500) is the new target.
	back := scenario.SetupTrust(t, s, "fabrikam", s, "contoso")
	back.AddToScope(t, s, "user01")
	rec, err := s.Dir.GetRecipient(ctx, back.TargetTenant.ID, "user01")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != directory.MailUser {
		t.Fatalf("contoso user01 is %s", rec.Type)
	}
	csvBack := []byte("EmailAddress\nuser01@contoso.tenantferry.test\n")
	res, err := s.Admin.TestEndpoint(ctx, s.Op, "contoso", back.Endpoint, "user01@contoso.tenantferry.test", back.TargetDelivery)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "Success" {
		t.Fatalf("endpoint test for the move back: %+v", res)
	}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "contoso", migration.BatchSpec{Name: "back", Endpoint: back.Endpoint, CSV: csvBack,
		TargetDeliveryDomain: back.TargetDelivery, AutoStart: true, AutoComplete: true}); err != nil {
		t.Fatal(err)
	}
	us = waitUsers(t, s, "contoso", "back", 2*time.Minute, migration.StateCompleted)
	if us[0].DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("score back %s", us[0].DataConsistencyScore)
	}
	if d := scenario.Diff(original, scenario.Take(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID)); d != "" {
		t.Fatalf("move back differs:\n%s", d)
	}
	if d := scenario.Diff(originalArchive, scenario.Take(t, s.Store, s.Content("contoso", src.ArchiveGuid).ID)); d != "" {
		t.Fatalf("archive back differs:\n%s", d)
	}
	c, _ := s.Dir.GetRecipient(ctx, back.TargetTenant.ID, "user01")
	f, _ := s.Dir.GetRecipient(ctx, back.SourceTenant.ID, "user01")
	if c.Type != directory.UserMailbox || f.Type != directory.MailUser || f.ExternalEmailAddress != "user01@contoso.tenantferry.test" {
		t.Fatalf("after the move back: contoso %s, fabrikam %s → %s", c.Type, f.Type, f.ExternalEmailAddress)
	}
}
