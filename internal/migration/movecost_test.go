package migration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestSmallMoveCost counts what the initial passes of a batch of small
// users cost the node's database (statements through db's Tx and Reader,
// committed write transactions), from the batch's creation to the last
// Synced, per user. The source is the same server, so its reads count
// too; the figures are for comparing builds and bounding regressions
// (commits are bounded below; statements are logged).
func TestSmallMoveCost(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		r := newRigWith(t, scenario.Options{DB: dbtest.DSN(t, dialect)}, func(c *scenario.Config) { c.MigrationWorkers = 1 })
		const users = 10
		var addrs []string
		for i := range users {
			alias := fmt.Sprintf("cost%02d", i)
			r.stamp(r.source(alias, 24, false, true), nil)
			addrs = append(addrs, r.addr(alias))
		}
		d := r.tgt.DB
		st0, c0 := d.Statements(), d.Commits()
		r.batch("cost", r.tr.Endpoint, addrs...)
		polls := 0
		scenario.Eventually(t, 60*time.Second, "every user Synced", func() error {
			polls++
			var n int
			if err := d.Read().QueryRowContext(r.ctx, `SELECT count(*) FROM moves WHERE state = 'Synced'`).Scan(&n); err != nil {
				return err
			}
			if n < users {
				return fmt.Errorf("%d of %d Synced", n, users)
			}
			return nil
		})
		st, c := d.Statements()-st0-int64(polls), d.Commits()-c0
		t.Logf("%s: per user %.1f statements, %.1f commits (%d users, %d polls not counted)",
			dialect, float64(st)/users, float64(c)/users, users, polls)
		// Measured 10.3–10.6 commits per user, 12.4–13.0 before the staging
		// mailbox and its watermark reset went into the Syncing
		// transaction (two commits fewer per move).
		if perUser := float64(c) / users; perUser > 11.5 {
			t.Errorf("%.1f commits per small user, want at most 11.5", perUser)
		}
	})
}
