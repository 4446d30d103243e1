package migration_test

import (
	"reflect"
	"testing"
	"time"

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
