package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/db"
)

// deliverWorker runs DeliverArgs jobs.
type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

// Work delivers one recipient row. It returns nil once the row is final
// or held, and an error (River retries it) for a temporary failure before
// the message's expiry.
func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(ctx, job.Args.Recipient)
}

// Timeout bounds one attempt (an outbound SMTP transaction included).
func (w *deliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 15 * time.Minute }

// NextRetry doubles the delay from RetryBase up to RetryMax, and never
// schedules past the message's expiry, so the bounce comes on time.
func (w *deliverWorker) NextRetry(job *river.Job[DeliverArgs]) time.Time {
	return w.s.nextRetry(job.Attempt, job.Args.Expires, time.Now())
}

func (s *Service) nextRetry(attempt int, expires int64, now time.Time) time.Time {
	d := s.RetryBase
	for i := 1; i < attempt && d < s.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.RetryMax)
	t := now.Add(d)
	if exp := time.UnixMilli(expires); expires > 0 && t.After(exp) {
		t = exp
		if t.Before(now) {
			t = now
		}
	}
	return t
}

// errRetryNow asks deliver to route again at once (the state it acted on
// changed under it).
var errRetryNow = errors.New("delivery: route again")

// errHeld reports that the row was held for a locked mailbox.
var errHeld = errors.New("delivery: held")

// deliver runs one delivery attempt of a recipient row.
func (s *Service) deliver(ctx context.Context, rid int64) error {
	var err error
	for range 3 {
		err = s.attempt(ctx, rid)
		if !errors.Is(err, errRetryNow) {
			break
		}
	}
	if errors.Is(err, errRetryNow) {
		err = errTemporary.withCause(err)
	}
	if errors.Is(err, errHeld) {
		return nil
	}
	return err
}

// attempt loads, routes and delivers the row once.
func (s *Service) attempt(ctx context.Context, rid int64) error {
	r, m, err := s.load(ctx, rid)
	if err != nil {
		return internal(err, "load queue row")
	}
	if r == nil || (r.state != StateQueued && r.state != StateHeld) {
		return nil // purged or final: a re-run of a finished job
	}
	if m.hops > s.MaxHops {
		return s.bounce(ctx, r, m, errLoop)
	}
	t, err := s.route(ctx, r.rcpt, m.relay, r.depth)
	if err == nil {
		switch t.kind {
		case targetLocal:
			err = s.deliverLocal(ctx, r, m, t)
		case targetGroup:
			err = s.expand(ctx, r, m, t)
		case targetRemote:
			err = s.deliverRemote(ctx, r, m, t)
		}
	}
	if err == nil || errors.Is(err, errRetryNow) || errors.Is(err, errHeld) {
		return err
	}
	return s.failed(ctx, r, m, err)
}

// failed handles a failed attempt: permanent errors and temporary ones past
// the expiry bounce; other temporary ones are recorded and returned so River
// retries them.
func (s *Service) failed(ctx context.Context, r *rcptRow, m *msgRow, err error) error {
	de := AsError(err)
	if !de.Temporary() {
		s.log.Info("delivery failed permanently", "id", m.uid, "rcpt", r.rcpt, "err", de)
		return s.bounce(ctx, r, m, de)
	}
	if time.Now().UnixMilli() >= m.expiresAt {
		s.log.Info("delivery expired", "id", m.uid, "rcpt", r.rcpt, "err", de)
		exp := *errExpired
		exp.Message = "delivery time expired; last error: " + sanitize(de.Message, 300)
		exp.Cause = de
		return s.bounce(ctx, r, m, &exp)
	}
	s.m.result("deferred")
	s.log.Warn("delivery deferred", "id", m.uid, "rcpt", r.rcpt, "attempt", r.attempts+1, "err", de)
	werr := s.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE queue_recipients SET attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND state IN `+openStates,
			sanitize(de.Reply(), 500), db.Now(), r.id)
		return err
	})
	if werr != nil {
		s.log.Warn("recording a deferral failed", "id", m.uid, "err", werr)
	}
	return de
}
