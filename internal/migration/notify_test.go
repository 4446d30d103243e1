package migration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestReportMails: a batch with NotificationEmails mails its report once
// when it is synced and once when it is completed.
func TestReportMails(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	src := s.Mailbox("contoso", "user01", "pw", false)
	rep := s.Mailbox("fabrikam", "reports", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID, scenario.Generated(mailgen.Options{Seed: 4, Count: 25}))
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01")
	csv := []byte("EmailAddress\nuser01@fabrikam.tenantferry.test\n")
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: csv,
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true, NotificationEmails: rep.PrimarySmtpAddress}); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, s, "fabrikam", "wave1", time.Minute, migration.StateSynced)
	mb := s.Content("fabrikam", rep.ExchangeGuid)
	subjects := func() []string {
		inbox, _ := s.Store.FolderBySpecialUse(ctx, mb.ID, mailstore.UseInbox)
		snap, err := s.Store.Select(ctx, mb.ID, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range snap.Messages {
			it, _ := s.Store.Fetch(ctx, mb.ID, inbox.ID, mailstore.UIDs(m.UID))
			out = append(out, it[0].Subject)
		}
		return out
	}
	want := func(list ...string) func() error {
		return func() error {
			got := strings.Join(subjects(), "|")
			if got != strings.Join(list, "|") {
				return fmt.Errorf("report mails %q", got)
			}
			return nil
		}
	}
	s.Migration.Tick(ctx, time.Now())
	scenario.Eventually(t, 30*time.Second, "the synced report", want("Migration batch wave1: Synced"))
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "wave1", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, s, "fabrikam", "wave1", time.Minute, migration.StateCompleted)
	s.Migration.Tick(ctx, time.Now())
	s.Migration.Tick(ctx, time.Now())
	scenario.Eventually(t, 30*time.Second, "the completed report", want("Migration batch wave1: Synced", "Migration batch wave1: Completed"))
}
