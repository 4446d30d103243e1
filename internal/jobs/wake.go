package jobs

import (
	"context"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
)

// wakeTag is the scheduled_at a woken job gets: before every fair
// position tag (fairEpoch onwards), so it is the next job its queue
// hands out.
var wakeTag = fairEpoch.Add(-time.Hour)

// WakeTx makes a snoozed job available inside tx, at the head of its
// queue (before the fair backlog), so the next fetch of any node runs it;
// the caller has reserved what the job waited for (a concurrency slot) in
// the same transaction. It reports false when the job is not snoozed (it
// is still running, about to snooze, or gone): the caller then falls back
// to River's JobRetry after the commit.
func WakeTx(ctx context.Context, tx *db.Tx, id int64) (bool, error) {
	var tag any = wakeTag
	if tx.DB().Dialect == db.SQLite {
		tag = wakeTag.UTC().Format(sqliteTime)
	}
	res, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = ? WHERE id = ? AND state = 'scheduled'`, tag, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
