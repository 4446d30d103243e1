package migration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestReportMails: a batch with NotificationEmails mails its report once
// when it is synced and once when it is completed.
func TestReportMails(t *testing.T) {
	r := newRig(t)
	s, ctx := r.s, r.ctx
	r.stamp(r.source("user01", 25, false, true), nil)
	rep := s.Mailbox(tgtName, "reports", "pw", false)
	r.batchSpec(migration.BatchSpec{Name: "wave1", Endpoint: r.tr.Endpoint, CSV: csvOf(r.addr("user01")), AutoStart: true,
		NotificationEmails: rep.PrimarySmtpAddress})
	r.waitUser("wave1", r.addr("user01"), migration.StateSynced)
	mb := s.Content(tgtName, rep.ExchangeGuid)
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
	r.cmd("wave1", admin.BatchComplete, false)
	r.waitUser("wave1", r.addr("user01"), migration.StateCompleted)
	s.Migration.Tick(ctx, time.Now())
	s.Migration.Tick(ctx, time.Now())
	scenario.Eventually(t, 30*time.Second, "the completed report", want("Migration batch wave1: Synced", "Migration batch wave1: Completed"))
}
