package migration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestAutoCompleteStatistics moves a mailbox with an archive in an
// AutoComplete batch and checks the statistics `batch users` reports
// (PercentComplete, items, bytes, times, lock window) and that the report
// log is timestamped and lists every transition and completion step.
func TestAutoCompleteStatistics(t *testing.T) {
	r := newRig(t)
	src := r.source("stat", 12, true, true)
	r.stamp(src, nil)
	addr := r.addr("stat")
	r.batchSpec(migration.BatchSpec{Name: "auto", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true, AutoComplete: true})
	u := r.waitUser("auto", addr, migration.StateCompleted)

	var bytes int64
	for _, g := range []string{src.ExchangeGuid, src.ArchiveGuid} {
		st, err := r.s.Store.Stats(r.ctx, r.s.Content(srcName, g).ID)
		if err != nil {
			t.Fatal(err)
		}
		bytes += st.Total.Bytes
	}
	switch {
	case u.PercentComplete != 100, u.ItemsTotal != 14, u.ItemsSynced != 14, u.ItemsSkipped != 0:
		t.Fatalf("items: %+v", u)
	case u.BytesTotal != bytes || u.BytesTransferred != bytes:
		t.Fatalf("bytes: total %d, transferred %d, source %d", u.BytesTotal, u.BytesTransferred, bytes)
	case u.DataConsistencyScore != migration.ScorePerfect || u.Error != nil:
		t.Fatalf("score %s, error %+v", u.DataConsistencyScore, u.Error)
	case u.ExchangeGuid != src.ExchangeGuid || u.ArchiveGuid != src.ArchiveGuid || u.SourceAddress != src.PrimarySmtpAddress:
		t.Fatalf("identity: %+v", u)
	case u.LockWindow == "" || u.LockWindowMs < 0:
		t.Fatalf("no lock window: %+v", u)
	case u.AverageBytesPerSecond <= 0 || u.InitialSyncDuration == "":
		t.Fatalf("no rate or duration: %+v", u)
	}
	times := []*time.Time{u.QueuedTime, u.StartTime, u.InitialSeedingCompletedTime, u.LastSuccessfulSyncTime, u.CompletionStartTime, u.CompletedTime}
	for i, tm := range times {
		if tm == nil {
			t.Fatalf("time %d of queued/start/seeded/last sync/completion start/completed is missing: %+v", i, u)
		}
		if i > 0 && tm.Before(*times[i-1]) {
			t.Fatalf("time %d (%s) is before time %d (%s)", i, tm, i-1, times[i-1])
		}
	}
	r.logHas("auto", addr, "created in batch auto", "Queued → Validating", "Validating → Syncing", "initial sync finished",
		"Syncing → Synced", "Synced → Completing", "completion: finalsync", "completion: verify", "verification: DataConsistencyScore Perfect",
		"completion: activate", "completion: convert", "completion: done", "completed: the source was locked for", "Completing → Completed")
	if st := r.status("auto"); st.Status != "Completed" || st.FinalizedCount != 1 {
		t.Fatalf("batch: %+v", st)
	}
	// The cutover: the target is the mailbox, the source a MailUser
	// forwarding to the target's delivery-domain address.
	tg, err := r.s.Dir.GetRecipient(r.ctx, r.tgtID(), addr)
	if err != nil || tg.Type != directory.UserMailbox {
		t.Fatalf("target after completion: %v %+v", err, tg)
	}
	sr, err := r.s.Dir.GetRecipient(r.ctx, r.srcID(), src.ID)
	if err != nil || sr.Type != directory.MailUser || sr.ExternalEmailAddress != addr {
		t.Fatalf("source after completion: %v %+v", err, sr)
	}
}

// bigItem is one message over limit bytes, in Projects/Alpha.
func bigItem(alias string, limit int) scenario.Item {
	return scenario.Item{Folder: "Projects/Alpha", Date: time.Date(2023, 7, 14, 10, 30, 0, 0, time.UTC),
		Data: scenario.Message("sender@example.net", alias+"@contoso.tenantferry.test", "Big plans "+alias, strings.Repeat("0123456789abcdef\r\n", 2*limit/18))}
}

// TestSkippedItems moves three users with one item over the batch's
// MaxItemSize each: the items are skipped and reported (folder,
// subject, date, size, reason) and counted; completion scores them per the
// thresholds of verify.go: 1 of 1,001 items is Good (completes, with
// warnings), 1 of 31 is Investigate (needs --approve-skipped-items: until
// then the user is back to Synced with SkippedItemsNeedApproval and the
// source is unlocked and receives mail), 1 of 6 is Poor (never completes).
func TestSkippedItems(t *testing.T) {
	r := newRig(t)
	const limit = 16 << 10
	type user struct {
		alias string
		small int
		score string
		src   *directory.Recipient
	}
	users := []*user{{alias: "good", small: 1000, score: migration.ScoreGood}, {alias: "investigate", small: 30, score: migration.ScoreInvestigate},
		{alias: "poor", small: 5, score: migration.ScorePoor}}
	var addrs []string
	for _, u := range users {
		u.src = r.source(u.alias, u.small, false, true)
		scenario.Fill(t, r.s.Store, r.s.Content(srcName, u.src.ExchangeGuid).ID, []scenario.Item{bigItem(u.alias, limit)})
		r.stamp(u.src, nil)
		addrs = append(addrs, r.addr(u.alias))
	}
	r.batchSpec(migration.BatchSpec{Name: "skip", Endpoint: r.tr.Endpoint, CSV: csvOf(addrs...), AutoStart: true, MaxItemSize: limit})
	for _, u := range users {
		v := r.waitUser("skip", r.addr(u.alias), migration.StateSynced)
		if v.ItemsSkipped != 1 || v.ItemsTotal != int64(u.small+1) || v.ItemsSynced != int64(u.small) {
			t.Fatalf("%s: %d of %d items synced, %d skipped", u.alias, v.ItemsSynced, v.ItemsTotal, v.ItemsSkipped)
		}
		rep := r.logHas("skip", r.addr(u.alias), "skipped item", "1 skipped")
		if len(rep.SkippedItems) != 1 {
			t.Fatalf("%s: skipped items %+v", u.alias, rep.SkippedItems)
		}
		sk := rep.SkippedItems[0]
		if sk.Folder != "Projects/Alpha" || sk.Subject != "Big plans "+u.alias || !sk.Date.Equal(time.Date(2023, 7, 14, 10, 30, 0, 0, time.UTC)) ||
			sk.Size <= limit || !strings.HasPrefix(sk.Reason, "LargeItem") || sk.Mailbox != string(mailstore.KindPrimary) {
			t.Fatalf("%s: skipped item %+v", u.alias, sk)
		}
	}

	r.cmd("skip", admin.BatchComplete, false)
	good := r.waitUser("skip", r.addr("good"), migration.StateCompletedWithWarnings)
	if good.DataConsistencyScore != migration.ScoreGood || good.ItemsSkipped != 1 {
		t.Fatalf("good: %+v", good)
	}
	blocked := func(alias, code, score string, n int) {
		t.Helper()
		scenario.Eventually(t, 30*time.Second, alias+" blocked with "+code, func() error {
			v := r.user("skip", r.addr(alias))
			if v.Status != migration.StateSynced || v.Error == nil || v.Error.Code != code || v.DataConsistencyScore != score {
				return fmt.Errorf("%s %s %+v %s", v.Status, v.StatusDetail, v.Error, v.DataConsistencyScore)
			}
			lines := 0
			for _, l := range r.report("skip", r.addr(alias)).Report {
				if strings.Contains(l.Message, code) && l.Level == "error" {
					lines++
				}
			}
			if lines < n {
				return fmt.Errorf("%d blocked completions logged", lines)
			}
			return nil
		})
		u := r.user("skip", r.addr(alias))
		if u.LockWindow != "" || u.CompletedTime != nil {
			t.Fatalf("%s was not given back: %+v", alias, u)
		}
		// The source is unlocked, still the mailbox, and takes mail.
		mb := r.s.Content(srcName, r.srcOf(alias).ExchangeGuid)
		if mb.State != mailstore.StateActive {
			t.Fatalf("%s: source mailbox %s", alias, mb.State)
		}
		subject := fmt.Sprintf("while blocked %s %d", alias, n)
		if err := scenario.Send(r.s.Cfg.SMTP, "partner@example.net", []string{alias + "@contoso.tenantferry.test"},
			scenario.Message("partner@example.net", alias+"@contoso.tenantferry.test", subject, "still here")); err != nil {
			t.Fatalf("mail to %s while blocked: %v", alias, err)
		}
		scenario.Eventually(t, 30*time.Second, "delivery to "+alias, func() error {
			inbox, err := r.s.Store.FolderBySpecialUse(r.ctx, mb.ID, mailstore.UseInbox)
			if err != nil {
				return err
			}
			st, err := r.s.Store.Select(r.ctx, mb.ID, inbox.ID)
			if err != nil {
				return err
			}
			for _, m := range st.Messages {
				if it, _ := r.s.Store.Fetch(r.ctx, mb.ID, inbox.ID, mailstore.UIDs(m.UID)); len(it) == 1 && it[0].Subject == subject {
					return nil
				}
			}
			return fmt.Errorf("not delivered")
		})
	}
	blocked("investigate", "SkippedItemsNeedApproval", migration.ScoreInvestigate, 1)
	blocked("poor", "DataConsistencyPoor", migration.ScorePoor, 1)
	if st := r.status("skip"); st.Status != "SyncedWithErrors" {
		t.Fatalf("batch with blocked users: %s", st.Status)
	}

	// With approval: Investigate completes with warnings, Poor does not.
	r.cmd("skip", admin.BatchComplete, true)
	inv := r.waitUser("skip", r.addr("investigate"), migration.StateCompletedWithWarnings)
	if inv.DataConsistencyScore != migration.ScoreInvestigate || inv.Error != nil || inv.ItemsSkipped != 1 || inv.LockWindow == "" {
		t.Fatalf("investigate after approval: %+v", inv)
	}
	r.logHas("skip", r.addr("investigate"), "SkippedItemsNeedApproval", "verification: DataConsistencyScore Investigate", "Completing → CompletedWithWarnings")
	blocked("poor", "DataConsistencyPoor", migration.ScorePoor, 2)
	if !r.status("skip").ApproveSkippedItems {
		t.Fatal("the approval is not recorded on the batch")
	}
}

// srcOf returns the source recipient of an alias.
func (r *rig) srcOf(alias string) *directory.Recipient {
	r.t.Helper()
	rec, err := r.s.Dir.GetRecipient(r.ctx, r.srcID(), alias)
	if err != nil {
		r.t.Fatal(err)
	}
	return rec
}
