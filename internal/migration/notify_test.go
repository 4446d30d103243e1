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
	want := inboxSubjects(t, r, rep.ExchangeGuid)
	s.Migration.Tick(ctx, time.Now())
	scenario.Eventually(t, 30*time.Second, "the synced report", want("Migration batch wave1: Synced"))
	r.cmd("wave1", admin.BatchComplete, false)
	r.waitUser("wave1", r.addr("user01"), migration.StateCompleted)
	s.Migration.Tick(ctx, time.Now())
	s.Migration.Tick(ctx, time.Now())
	scenario.Eventually(t, 30*time.Second, "the completed report", want("Migration batch wave1: Synced", "Migration batch wave1: Completed"))
}

// inboxSubjects returns a check that the inbox of the target mailbox
// guid holds messages with exactly these subjects, in order.
func inboxSubjects(t *testing.T, r *rig, guid string) func(list ...string) func() error {
	s, ctx := r.s, r.ctx
	mb := s.Content(tgtName, guid)
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
	return func(list ...string) func() error {
		return func() error {
			got := strings.Join(subjects(), "|")
			if got != strings.Join(list, "|") {
				return fmt.Errorf("report mails %q", got)
			}
			return nil
		}
	}
}

// TestReportInterval: a started batch with a ReportInterval mails its
// report once per interval (ticks in between send nothing, however
// many), beside the Synced report, and none once it is completed.
func TestReportInterval(t *testing.T) {
	r := newRig(t)
	s, ctx := r.s, r.ctx
	r.stamp(r.source("ri01", 5, false, true), nil)
	rep := s.Mailbox(tgtName, "reports", "pw", false)
	r.batchSpec(migration.BatchSpec{Name: "ri", Endpoint: r.tr.Endpoint, CSV: csvOf(r.addr("ri01")), AutoStart: true,
		NotificationEmails: rep.PrimarySmtpAddress, ReportInterval: time.Hour})
	r.waitUser("ri", r.addr("ri01"), migration.StateSynced)
	want := inboxSubjects(t, r, rep.ExchangeGuid)
	now := time.Now()
	s.Migration.Tick(ctx, now)
	s.Migration.Tick(ctx, now.Add(30*time.Minute))
	scenario.Eventually(t, 30*time.Second, "the synced report only", want("Migration batch ri: Synced"))
	for _, at := range []time.Duration{61 * time.Minute, 62 * time.Minute, 90 * time.Minute, 122 * time.Minute} {
		s.Migration.Tick(ctx, now.Add(at))
	}
	scenario.Eventually(t, 30*time.Second, "two interval reports", want("Migration batch ri: Synced", "Migration batch ri: Synced", "Migration batch ri: Synced"))
	r.cmd("ri", admin.BatchComplete, false)
	r.waitUser("ri", r.addr("ri01"), migration.StateCompleted)
	s.Migration.Tick(ctx, now.Add(5*time.Hour))
	s.Migration.Tick(ctx, now.Add(10*time.Hour))
	scenario.Eventually(t, 30*time.Second, "the completed report, no interval report after it",
		want("Migration batch ri: Synced", "Migration batch ri: Synced", "Migration batch ri: Synced", "Migration batch ri: Completed"))
}
