package delivery

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/jobs"
)

// PurgeArgs is the periodic job that removes queue messages whose every
// recipient is final and that are older than the retention. Their bytes
// stay in the blob store (delivered copies share them).
type PurgeArgs struct{}

// Kind implements river.JobArgs.
func (PurgeArgs) Kind() string { return "delivery.purge" }

// InsertOpts puts the purge on the control queue, once per period.
func (PurgeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueControl, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	s *Service
}

// Work deletes finished queue messages past the retention.
func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[PurgeArgs]) error {
	_, err := w.s.Purge(ctx, time.Now().Add(-w.s.Retention))
	return err
}

// Purge deletes the queue messages created before cutoff whose recipients
// are all final, with their recipient rows, and returns how many.
func (s *Service) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM queue_recipients WHERE message_id IN (
				SELECT m.id FROM queue_messages m WHERE m.created_at < ? AND NOT EXISTS
					(SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id AND r.state IN `+openStates+`))`, cutoff.UnixMilli()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE created_at < ? AND NOT EXISTS
			(SELECT 1 FROM queue_recipients r WHERE r.message_id = queue_messages.id)`, cutoff.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, internal(err, "purge queue")
	}
	return n, nil
}
