package migration_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestItemsSyncedNeverExceedsTotal delivers mail to the source after the
// last incremental pass, so the completion's final sync copies more items
// than the last pass counted: ItemsTotal follows, and no view shows more
// items synced than there are (once 64/63 in `batch users` and the
// completion mail). On SQLite and PostgreSQL.
func TestItemsSyncedNeverExceedsTotal(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { itemsSyncedNeverExceedsTotal(t, dbtest.DSN(t, dialect)) })
}

func itemsSyncedNeverExceedsTotal(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	src := r.source("late", 10, false, true)
	r.stamp(src, nil)
	addr := r.addr("late")
	r.batch("late", r.tr.Endpoint, addr)
	r.cmd("late", admin.BatchStart, false)
	u := r.waitUser("late", addr, migration.StateSynced)
	if u.ItemsTotal != 10 || u.ItemsSynced != 10 {
		t.Fatalf("after the initial sync: %d/%d items", u.ItemsSynced, u.ItemsTotal)
	}
	// Three messages arrive after the last pass, before the cutover.
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, items("late-extra", 3))
	r.cmd("late", admin.BatchComplete, false)
	u = r.waitUser("late", addr, migration.StateCompleted)
	if u.ItemsSynced != 13 || u.ItemsTotal != 13 || u.PercentComplete != 100 {
		t.Fatalf("after completion: %d/%d items, %d%%; want 13/13, 100%%", u.ItemsSynced, u.ItemsTotal, u.PercentComplete)
	}
	if u.BytesTransferred > u.BytesTotal {
		t.Fatalf("after completion: %d of %d bytes", u.BytesTransferred, u.BytesTotal)
	}
}
