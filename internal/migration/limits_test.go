package migration_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestLargeItemLimit: a user with two items over the batch's MaxItemSize
// and a LargeItemLimit of 1 fails with LargeItemLimitExceeded after its
// pass (both items recorded as skipped); `migrationuser set
// --large-item-limit 2` and `migrationuser start` alone let it sync and
// complete, the batch's limit unchanged. Invalid settings change nothing.
func TestLargeItemLimit(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { largeItemLimit(t, dbtest.DSN(t, dialect)) })
}

func largeItemLimit(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	const size = 16 << 10
	src := r.source("lim", 40, false, true)
	var big []scenario.Item
	for i, subj := range []string{"Big plans one", "Big plans two"} {
		big = append(big, scenario.Item{Folder: "Projects", Date: time.Date(2023, 7, 14, 10, 30+i, 0, 0, time.UTC),
			Data: scenario.Message("sender@example.net", "lim@contoso.tenantferry.test", subj, strings.Repeat("0123456789abcdef\r\n", 2*size/18))})
	}
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, big)
	r.stamp(src, nil)
	addr := r.addr("lim")
	one := int64(1)
	bv := r.batchSpec(migration.BatchSpec{Name: "lim", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true, MaxItemSize: size, LargeItemLimit: &one})
	if bv.MaxItemSize != size || bv.LargeItemLimit != 1 || bv.BadItemLimit != migration.LimitUnlimited {
		t.Fatalf("batch limits: %+v", bv)
	}
	u := r.waitUser("lim", addr, migration.StateFailed)
	if u.Error == nil || u.Error.Code != "LargeItemLimitExceeded" || !strings.Contains(u.Error.Message, "2 skipped large items") || u.ItemsSkipped != 2 {
		t.Fatalf("over the limit: %+v %+v", u, u.Error)
	}

	set := func(u migration.UserUpdate) (*migration.UserView, error) {
		return r.tgt.Admin.SetMigrationUser(r.ctx, r.tgt.Op, tgtName, addr, u)
	}
	before := r.user("lim", addr)
	neg, zero := int64(-7), time.Time{}
	for _, c := range []struct {
		name string
		u    migration.UserUpdate
		code string
	}{
		{"nothing", migration.UserUpdate{}, "NothingToChange"},
		{"negative limit", migration.UserUpdate{LargeItemLimit: &neg}, "InvalidItemLimit"},
		{"negative bad limit", migration.UserUpdate{BadItemLimit: &neg, CompleteAfter: &zero}, "InvalidItemLimit"},
	} {
		if _, err := set(c.u); !isCode(err, c.code) {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := r.tgt.Admin.SetMigrationUser(r.ctx, r.tgt.Op, tgtName, "nobody@"+r.tr.TargetTenant.InitialDomain, migration.UserUpdate{LargeItemLimit: &one}); !isCode(err, "MigrationUserNotFound") {
		t.Errorf("unknown user: %v", err)
	}
	if after := r.user("lim", addr); after.LargeItemLimit != nil || after.Status != before.Status {
		t.Fatalf("refused settings changed the user: %+v", after)
	}

	two := int64(2)
	v, err := set(migration.UserUpdate{LargeItemLimit: &two})
	if err != nil || v.LargeItemLimit == nil || *v.LargeItemLimit != 2 {
		t.Fatalf("migrationuser set: %+v %v", v, err)
	}
	if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, addr, admin.UserStart, false); err != nil {
		t.Fatal(err)
	}
	if u := r.waitUser("lim", addr, migration.StateSynced); u.ItemsSkipped != 2 || u.Error != nil {
		t.Fatalf("after raising the limit: %+v", u)
	}
	if b, _ := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, "lim"); b.LargeItemLimit != 1 {
		t.Fatalf("the batch's limit changed: %d", b.LargeItemLimit)
	}
	if _, err := r.tgt.Admin.MigrationUserCommand(r.ctx, r.tgt.Op, tgtName, addr, admin.UserComplete, true); err != nil {
		t.Fatal(err)
	}
	if u := r.waitUser("lim", addr, migration.StateCompletedWithWarnings); u.DataConsistencyScore != migration.ScoreInvestigate {
		t.Fatalf("completed: %+v", u)
	}
}

// TestUserCompleteAfter: a user's own CompleteAfter wins over its batch's
// schedule both ways: one in the past completes that user alone; one in
// the future holds the user back from `batch complete` until it is
// cleared (back to the batch's schedule), which completes it.
func TestUserCompleteAfter(t *testing.T) {
	r := newRig(t)
	a, b := r.source("cua", 5, false, true), r.source("cub", 5, false, true)
	r.stamp(a, nil)
	r.stamp(b, nil)
	aa, ab := r.addr("cua"), r.addr("cub")
	r.batch("cu", r.tr.Endpoint, aa, ab)
	r.waitUser("cu", aa, migration.StateSynced)
	r.waitUser("cu", ab, migration.StateSynced)
	set := func(addr string, at time.Time) {
		t.Helper()
		if _, err := r.tgt.Admin.SetMigrationUser(r.ctx, r.tgt.Op, tgtName, addr, migration.UserUpdate{CompleteAfter: &at}); err != nil {
			t.Fatal(err)
		}
	}
	set(aa, time.Now().Add(-time.Second))
	r.waitUser("cu", aa, migration.StateCompleted)
	if u := r.user("cu", ab); u.Status != migration.StateSynced {
		t.Fatalf("the other user: %s", u.Status)
	}
	later := time.Now().Add(time.Hour)
	set(ab, later)
	if u := r.user("cu", ab); u.CompleteAfter == nil || !u.CompleteAfter.Equal(later.Truncate(time.Millisecond)) {
		t.Fatalf("CompleteAfter: %v", u.CompleteAfter)
	}
	r.cmd("cu", admin.BatchComplete, false)
	r.s.Migration.Tick(r.ctx, time.Now())
	if u := r.user("cu", ab); u.Status != migration.StateSynced || u.StatusDetail == "CompletionQueued" {
		t.Fatalf("a user scheduled later completed with its batch: %s %s", u.Status, u.StatusDetail)
	}
	set(ab, time.Time{})
	r.waitUser("cu", ab, migration.StateCompleted)
	if _, err := r.tgt.Admin.SetMigrationUser(r.ctx, r.tgt.Op, tgtName, ab, migration.UserUpdate{CompleteAfter: &later}); !isCode(err, "MigrationUserNotFound") && !isCode(err, "MigrationUserCompleted") {
		t.Fatalf("scheduling a completed user: %v", err)
	}
}
