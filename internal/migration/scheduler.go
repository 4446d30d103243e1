package migration

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/tenantferry/tenantferry/internal/db"
)

// tickWorker is the scheduler: it starts batches whose StartAfter passed,
// completes batches whose CompleteAfter passed, queues incremental syncs
// whose interval elapsed, and queues completions that are due.
type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	s *Service
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	return w.s.Tick(ctx, time.Now())
}

// Tick runs one round of the scheduler at the given time.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	rows, err := s.D.Read().QueryContext(ctx, `SELECT `+batchCols+` FROM batches WHERE control IN (?, ?)`, ControlCreated, ControlStarted)
	if err != nil {
		return err
	}
	var batches []*Batch
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			rows.Close()
			return err
		}
		batches = append(batches, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range batches {
		if err := s.tickBatch(ctx, b, now); err != nil {
			s.Log.Warn("migration scheduler", "batch", b.Name, "err", err)
		}
	}
	return nil
}

func (s *Service) tickBatch(ctx context.Context, b *Batch, now time.Time) error {
	if b.Control == ControlCreated {
		if (b.AutoStart || !b.StartAfter.IsZero()) && !b.StartAfter.After(now) {
			_, err := s.StartBatch(ctx, b.TenantID, b.ID)
			return err
		}
		return nil
	}
	if !b.CompleteAfter.IsZero() && !b.CompleteAfter.After(now) && b.CompletionRequested.IsZero() {
		_, err := s.CompleteBatch(ctx, b.TenantID, b.ID, false)
		return err
	}
	ms, err := s.activeMoves(ctx, s.D.Read(), b.ID)
	if err != nil {
		return err
	}
	status := batchStatus(b, ms)
	if err := s.notifyBatch(ctx, b, status, ms); err != nil {
		s.Log.Warn("batch report mail", "batch", b.Name, "err", err)
	}
	if err := s.intervalReport(ctx, b, status, ms, now); err != nil {
		s.Log.Warn("batch interval report mail", "batch", b.Name, "err", err)
	}
	for _, m := range ms {
		if m.State == StateSynced && b.NotifyUsers && m.ErrorCode == "" {
			if err := s.notifyUser(ctx, b, m, TemplateBefore); err != nil {
				s.Log.Warn("before-cutover mail", "user", m.Email, "err", err)
			}
		}
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		for _, m := range ms {
			switch {
			case m.State == StateSynced && s.completionDue(b, m) && m.ErrorCode == "":
				if err := s.enqueueComplete(ctx, tx, m.ID); err != nil {
					return err
				}
			case m.State == StateSynced && m.SyncedGen >= m.SyncGen && !m.LastSyncAt.IsZero() && now.Sub(m.LastSyncAt) >= b.IncrementalInterval:
				if err := s.enqueueSync(ctx, tx, m.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
