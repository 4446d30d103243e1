package migration_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
)

func timePtr(t time.Time) *time.Time { return &t }

// TestSetBatch (issue 11 item 1, Set-MigrationBatch): bad values are
// refused with their codes and change nothing; a created batch is given a
// StartAfter in the past and the scheduler starts it; once synced, a
// CompleteAfter in the past makes the scheduler complete it; a completing
// batch cannot be rescheduled.
func TestSetBatch(t *testing.T) {
	r := newRig(t)
	src := r.source("setb", 4, false, true)
	r.stamp(src, nil)
	addr := r.addr("setb")
	r.batchSpec(migration.BatchSpec{Name: "setb", Endpoint: r.tr.Endpoint, CSV: csvOf(addr)}) // not started
	before, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "setb")
	if err != nil {
		t.Fatal(err)
	}
	neg, short, bad := int64(-1), time.Second, "not-an-address"
	for _, c := range []struct {
		name string
		u    migration.BatchUpdate
		code string
	}{
		{"nothing", migration.BatchUpdate{}, "NothingToChange"},
		{"negative limit", migration.BatchUpdate{LargeItemLimit: &neg}, "InvalidLargeItemLimit"},
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
	lil, emails := int64(64<<20), "it@fabrikam.example, ops@fabrikam.example"
	v, err := r.tgt.Admin.SetBatch(r.ctx, r.tgt.Op, tgtName, "setb", migration.BatchUpdate{StartAfter: timePtr(time.Now().Add(-time.Minute)),
		LargeItemLimit: &lil, NotificationEmails: &emails})
	if err != nil {
		t.Fatal(err)
	}
	if v.LargeItemLimit != lil || v.NotificationEmails != emails || v.StartAfter == nil {
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
	r := newRig(t)
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
