package migration_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

func timePtr(t time.Time) *time.Time { return &t }

// TestSetBatch (issue 11 item 1, Set-MigrationBatch): bad values are
// refused with their codes and change nothing; a created batch is given a
// StartAfter in the past and the scheduler starts it; once synced, a
// CompleteAfter in the past makes the scheduler complete it; a completing
// batch cannot be rescheduled.
func TestSetBatch(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { setBatch(t, dbtest.DSN(t, dialect)) })
}

func setBatch(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	src := r.source("setb", 4, false, true)
	r.stamp(src, nil)
	addr := r.addr("setb")
	r.batchSpec(migration.BatchSpec{Name: "setb", Endpoint: r.tr.Endpoint, CSV: csvOf(addr)}) // not started
	before, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "setb")
	if err != nil {
		t.Fatal(err)
	}
	neg, short, bad, zero := int64(-5), time.Second, "not-an-address", int64(0)
	for _, c := range []struct {
		name string
		u    migration.BatchUpdate
		code string
	}{
		{"nothing", migration.BatchUpdate{}, "NothingToChange"},
		{"negative limit", migration.BatchUpdate{LargeItemLimit: &neg}, "InvalidItemLimit"},
		{"negative bad item limit", migration.BatchUpdate{BadItemLimit: &neg}, "InvalidItemLimit"},
		{"zero size cap", migration.BatchUpdate{MaxItemSize: &zero}, "InvalidMaxItemSize"},
		{"short report interval", migration.BatchUpdate{ReportInterval: &short}, "InvalidReportInterval"},
		{"short interval", migration.BatchUpdate{IncrementalSyncInterval: &short}, "InvalidInterval"},
		{"bad address", migration.BatchUpdate{NotificationEmails: &bad}, "InvalidSmtpAddress"},
		{"complete before start", migration.BatchUpdate{StartAfter: timePtr(time.Now().Add(2 * time.Hour)), CompleteAfter: timePtr(time.Now().Add(time.Hour))}, "InvalidSchedule"},
	} {
		if _, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", c.u); !isCode(err, c.code) {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "nosuchbatch", migration.BatchUpdate{LargeItemLimit: &short2}); !isCode(err, "BatchNotFound") {
		t.Errorf("unknown batch: %v", err)
	}
	after, _ := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "setb")
	if !reflect.DeepEqual(after, before) {
		t.Fatalf("refused updates changed the batch:\n%+v\n%+v", before, after)
	}

	// StartAfter in the past: the scheduler starts the batch.
	mis, lil, bil, emails, ri := int64(64<<20), int64(3), int64(0), "it@fabrikam.example, ops@fabrikam.example", 6*time.Hour
	v, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", migration.BatchUpdate{StartAfter: timePtr(time.Now().Add(-time.Minute)),
		MaxItemSize: &mis, LargeItemLimit: &lil, BadItemLimit: &bil, NotificationEmails: &emails, ReportInterval: &ri})
	if err != nil {
		t.Fatal(err)
	}
	if v.MaxItemSize != mis || v.LargeItemLimit != lil || v.BadItemLimit != bil || v.ReportInterval != "6h0m0s" || v.NotificationEmails != emails || v.StartAfter == nil {
		t.Fatalf("after set: %+v", v)
	}
	r.waitUser("setb", addr, migration.StateSynced)
	if _, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", migration.BatchUpdate{StartAfter: timePtr(time.Now())}); !isCode(err, "BatchAlreadyStarted") {
		t.Errorf("StartAfter of a started batch: %v", err)
	}
	// CompleteAfter in the past (batch complete --complete-after): the
	// scheduler completes the synced user.
	if _, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", migration.BatchUpdate{CompleteAfter: timePtr(time.Now().Add(-time.Second))}); err != nil {
		t.Fatal(err)
	}
	r.waitUser("setb", addr, migration.StateCompleted)
	if _, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", migration.BatchUpdate{CompleteAfter: timePtr(time.Now().Add(time.Hour))}); !isCode(err, "BatchCompleting") {
		t.Errorf("rescheduling a completing batch: %v", err)
	}
	r.sameContent(src)
}

var short2 = int64(1 << 20)

// TestAddUsers (issue 11 item 1, batch add-users): a user in another
// active batch, or a bad CSV, is refused and adds nobody; new users of a
// started batch sync at once; a completing batch takes nobody.
func TestAddUsers(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { addUsers(t, dbtest.DSN(t, dialect)) })
}

func addUsers(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	a, b, c := r.source("adda", 3, false, true), r.source("addb", 2, false, true), r.source("addc", 2, false, true)
	for _, src := range []*directory.Recipient{a, b, c} {
		r.stamp(src, nil)
	}
	r.batch("first", r.tr.Endpoint, r.addr("adda"))
	r.batch("other", r.tr.Endpoint, r.addr("addc"))
	r.waitUser("first", r.addr("adda"), migration.StateSynced)
	for _, bad := range []struct {
		csv  string
		code string
	}{
		{"Email\n" + r.addr("addb") + "\n", "InvalidCsv"},
		{"EmailAddress\n" + r.addr("addb") + "\n" + r.addr("addc") + "\n", "UserInAnotherBatch"},
		{"EmailAddress\n" + r.addr("adda") + "\n", "UserInAnotherBatch"},
	} {
		if _, err := r.tgt.Admin.AddBatchUsers(r.ctx, r.tgt.Op, tgtName, "first", []byte(bad.csv)); !isCode(err, bad.code) {
			t.Errorf("add-users %q: %v, want %s", bad.csv, err, bad.code)
		}
	}
	if us, _ := r.tgt.Admin.BatchUsers(r.ctx, r.tgt.Op, tgtName, "first"); len(us) != 1 {
		t.Fatalf("refused add-users changed the batch: %d users", len(us))
	}
	v, err := r.tgt.Admin.AddBatchUsers(r.ctx, r.tgt.Op, tgtName, "first", []byte("EmailAddress\n"+r.addr("addb")+"\n"))
	if err != nil || v.TotalCount != 2 {
		t.Fatalf("add-users: %+v %v", v, err)
	}
	u := r.waitUser("first", r.addr("addb"), migration.StateSynced)
	if u.ItemsSynced != 2 {
		t.Fatalf("added user synced %d items", u.ItemsSynced)
	}
	r.cmd("first", admin.BatchComplete, false)
	r.waitUser("first", r.addr("addb"), migration.StateCompleted)
	if _, err := r.tgt.Admin.AddBatchUsers(r.ctx, r.tgt.Op, tgtName, "first", []byte("EmailAddress\nlate@"+r.tr.TargetTenant.InitialDomain+"\n")); !isCode(err, "BatchCompleting") {
		t.Errorf("add-users to a completing batch: %v", err)
	}
	r.sameContent(b)
}

// TestMigrationUserControl (issue 11 item 2, Stop/Start/Remove-MigrationUser):
// one user of a batch is stopped, resumed and removed alone; the other
// user is untouched; a removed user's staged content is gone, it leaves
// the batch's users and counts, and it may join another batch; unknown
// users and actions get their codes.
func TestMigrationUserControl(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { migrationUserControl(t, dbtest.DSN(t, dialect)) })
}

func migrationUserControl(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	one, two := r.source("ctla", 3, false, true), r.source("ctlb", 2, false, true)
	r.stamp(one, nil)
	r.stamp(two, nil)
	a1, a2 := r.addr("ctla"), r.addr("ctlb")
	r.batch("ctl", r.tr.Endpoint, a1, a2)
	r.waitUser("ctl", a1, migration.StateSynced)
	r.waitUser("ctl", a2, migration.StateSynced)
	cmd := func(addr string, a admin.MigrationUserAction) *migration.UserView {
		t.Helper()
		v, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, addr, a, false)
		if err != nil {
			t.Fatalf("migrationuser %s %s: %v", a, addr, err)
		}
		return v
	}
	if v := cmd(a1, admin.UserStop); v.Status != migration.StateStopped || v.Batch != "ctl" {
		t.Fatalf("after stop: %+v", v)
	}
	if u := r.user("ctl", a2); u.Status != migration.StateSynced {
		t.Fatalf("the other user: %s", u.Status)
	}
	cmd(a1, admin.UserStart)
	r.waitUser("ctl", a1, migration.StateSynced)

	users, err := r.tgt.Admin.MigrationUsers(r.ctx, r.tgt.Op, tgtName)
	if err != nil || len(users) != 2 {
		t.Fatalf("migrationuser list: %d users, %v", len(users), err)
	}
	cmd(a2, admin.UserRemove)
	if _, err := r.tgt.Admin.MigrationUser(r.ctx, r.tgt.Op, tgtName, a2); !isCode(err, "MigrationUserNotFound") {
		t.Fatalf("a removed user is still shown: %v", err)
	}
	if _, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), two.ExchangeGuid); err == nil {
		t.Fatal("the removed user's staged content is still there")
	}
	// A removed user is no longer one of the batch's: not in its users,
	// counts or status (so the batch can still reach Completed).
	if us, err := r.tgt.Admin.BatchUsers(r.ctx, r.tgt.Op, tgtName, "ctl"); err != nil || len(us) != 1 || us[0].EmailAddress != a1 {
		t.Fatalf("batch users after remove: %d %v", len(us), err)
	}
	if b := r.status("ctl"); b.TotalCount != 1 || b.SyncedCount != 1 {
		t.Fatalf("batch counts after remove: %+v", b)
	}
	for _, c := range []struct {
		addr   string
		action admin.MigrationUserAction
		code   string
	}{{"nobody@" + r.tr.TargetTenant.InitialDomain, admin.UserStop, "MigrationUserNotFound"}, {a1, "bogus", "InvalidAction"}} {
		if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, c.addr, c.action, false); !isCode(err, c.code) {
			t.Errorf("%s %s: %v, want %s", c.action, c.addr, err, c.code)
		}
	}
	// The removed user joins another batch and moves there.
	r.batch("again", r.tr.Endpoint, a2)
	r.waitUser("again", a2, migration.StateSynced)
	r.sameContent(two)
}

// TestMigrationUserCompleteAndApprove (issue 11 item 2): one user of a
// batch is completed alone; its skipped items (1 of 31: Investigate)
// stop the completion until `migrationuser approve-skipped-items`, which
// lets it go on; the batch's other user stays Synced, and the batch
// records no approval.
func TestMigrationUserCompleteAndApprove(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { migrationUserCompleteAndApprove(t, dbtest.DSN(t, dialect)) })
}

func migrationUserCompleteAndApprove(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	const limit = 16 << 10
	inv, stay := r.source("invu", 30, false, true), r.source("stayu", 3, false, true)
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, inv.ExchangeGuid).ID, []scenario.Item{bigItem("invu", limit)})
	r.stamp(inv, nil)
	r.stamp(stay, nil)
	ai, as := r.addr("invu"), r.addr("stayu")
	r.batchSpec(migration.BatchSpec{Name: "one", Endpoint: r.tr.Endpoint, CSV: csvOf(ai, as), AutoStart: true, MaxItemSize: limit})
	r.waitUser("one", ai, migration.StateSynced)
	r.waitUser("one", as, migration.StateSynced)
	cmd := func(a admin.MigrationUserAction) {
		t.Helper()
		if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, ai, a, false); err != nil {
			t.Fatalf("migrationuser %s: %v", a, err)
		}
	}
	cmd(admin.UserComplete)
	scenario.Eventually(t, 30*time.Second, "the completion stopped for approval", func() error {
		v := r.user("one", ai)
		if v.Status != migration.StateSynced || v.Error == nil || v.Error.Code != "SkippedItemsNeedApproval" {
			return fmt.Errorf("%s %+v", v.Status, v.Error)
		}
		return nil
	})
	cmd(admin.UserApprove)
	v := r.waitUser("one", ai, migration.StateCompletedWithWarnings)
	if v.DataConsistencyScore != migration.ScoreInvestigate || v.ItemsSkipped != 1 || v.Error != nil {
		t.Fatalf("after approval: %+v", v)
	}
	if u := r.user("one", as); u.Status != migration.StateSynced {
		t.Fatalf("the other user of the batch: %s", u.Status)
	}
	if r.status("one").ApproveSkippedItems || r.status("one").CompletionRequested != nil {
		t.Fatal("the user's completion and approval changed the batch")
	}
	if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, ai, admin.UserComplete, false); !isCode(err, "MigrationUserNotFound") && !isCode(err, "MigrationUserCompleted") {
		t.Errorf("completing a completed user: %v", err)
	}
}

// TestPoorUserFixedWithMigrationUser (issue 11 acceptance): a user whose
// staged copy lost items (deleted on the target behind the engine's back)
// is refused at completion as Poor (`migrationuser complete`);
// `migrationuser resync` repairs it (the next pass compares the whole
// source and copies what is missing), and the completion it asked for
// goes on: Completed, Perfect, the batch untouched. On SQLite and
// PostgreSQL.
func TestPoorUserFixedWithMigrationUser(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		r := newRigOn(t, scenario.Options{DB: dbtest.DSN(t, dialect)})
		src := r.source("poorfix", 10, false, true)
		r.stamp(src, nil)
		addr := r.addr("poorfix")
		r.batch("pf", r.tr.Endpoint, addr)
		r.waitUser("pf", addr, migration.StateSynced)
		mb, err := r.s.Store.Mailbox(r.ctx, r.tgtID(), src.ExchangeGuid)
		if err != nil {
			t.Fatal(err)
		}
		cs, _, err := r.s.Store.ItemChanges(r.ctx, mb.ID, mailstore.Cursor{}, 0, 100)
		if err != nil || len(cs) != 10 {
			t.Fatalf("staged items: %d %v", len(cs), err)
		}
		if _, err := r.s.Store.UpdateItems(r.ctx, mb.ID, []mailstore.ItemUpdate{{ItemID: cs[2].ItemID, Delete: true}, {ItemID: cs[7].ItemID, Delete: true}}, nil); err != nil {
			t.Fatal(err)
		}
		cmd := func(a admin.MigrationUserAction) {
			t.Helper()
			if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, addr, a, false); err != nil {
				t.Fatalf("migrationuser %s: %v", a, err)
			}
		}
		cmd(admin.UserComplete)
		scenario.Eventually(t, 30*time.Second, "the completion refused as Poor", func() error {
			u := r.user("pf", addr)
			if u.Status != migration.StateSynced || u.Error == nil || u.Error.Code != "DataConsistencyPoor" || u.DataConsistencyScore != migration.ScorePoor {
				return fmt.Errorf("%s %s %+v", u.Status, u.DataConsistencyScore, u.Error)
			}
			if !strings.Contains(u.Error.Message, "unexplained") {
				return fmt.Errorf("message: %s", u.Error.Message)
			}
			return nil
		})
		cmd(admin.UserResync)
		// The completion the Poor score stopped was requested for this
		// user: once the resync repaired the copy, it goes on by itself.
		if u := r.waitUser("pf", addr, migration.StateCompleted); u.DataConsistencyScore != migration.ScorePerfect || u.ItemsSynced != 10 {
			t.Fatalf("after the resync: %s, %d items", u.DataConsistencyScore, u.ItemsSynced)
		}
		rep, err := r.tgt.Admin.BatchReport(r.ctx, r.tgt.Op, tgtName, "pf", addr)
		if err != nil {
			t.Fatal(err)
		}
		var repaired bool
		for _, l := range rep[0].Report {
			repaired = repaired || strings.Contains(l.Message, "resync done")
		}
		if !repaired {
			t.Fatalf("no resync in the report: %+v", rep[0].Report)
		}
		r.sameContent(src)
		if b := r.status("pf"); b.CompletionRequested != nil || b.ApproveSkippedItems {
			t.Fatalf("the batch was touched: %+v", b)
		}
	})
}
