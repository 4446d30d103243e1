package migration

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/riverqueue/river/rivertype"
	"golang.org/x/time/rate"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Concurrency slots of an endpoint (move_slots, move_slot_waiters): a
// move holds one while a pass runs, and an endpoint runs at most its
// limit of passes at once — MaxConcurrentMigrations for initial syncs,
// MaxConcurrentIncrementalSyncs for incremental ones, each compared with
// every pass the endpoint runs — on every node sharing the database.
//
// Invariants:
//   - Taking a slot counts and inserts in one transaction serialized per
//     endpoint (an advisory lock on PostgreSQL; SQLite has one writer),
//     so two nodes can never both take the last slot.
//   - A slot is leased: its holder renews it every slotRenew; a slot past
//     its lease belonged to a dead node and is dropped by the next count.
//     A move taken over after its node died re-takes its own slot.
//   - A move that finds no slot is recorded as a waiter with its job and
//     snoozes; releasing a slot hands it to the oldest waiter in the same
//     transaction (its slot row, reserved for handoverLease, and its job
//     made available at the head of its queue), so a freed slot starts
//     the next move at the next fetch and no other move can take it
//     meanwhile. The snooze (slotFallback) is only a safety net.

// Slot timing.
const (
	slotLease    = 20 * time.Second
	slotRenew    = 5 * time.Second
	slotFallback = 30 * time.Second
)

// heldSlot is a slot a pass holds; release it when the pass ends.
type heldSlot struct {
	s                            *Service
	moveID, endpointID, tenantID string
	stop                         chan struct{}
	done                         chan struct{}
	// limiter is the pass's share of the endpoint's bandwidth cap: the
	// cap divided by the slots held on every node (rate.Inf without a
	// cap). Each lease renewal recounts the holders and re-reads the cap,
	// so a cap an administrator sets, changes or lifts reaches running
	// passes within slotRenew.
	limiter  *rate.Limiter
	capacity int64
}

// lockEndpointSlots serializes slot changes of one endpoint in tx.
func lockEndpointSlots(ctx context.Context, tx *db.Tx, d *db.DB, endpointID string) error {
	if d.Dialect != db.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, "move_slots:"+endpointID)
	return err
}

// acquireEndpointSlot takes a slot of endpoint ep for the move if fewer
// than limit passes hold one (nil, nil when none is free: the move is
// recorded as a waiter for jobID, which the caller snoozes). The slot's
// limiter shares out ep's bandwidth cap (MaxBytesPerSecond, 0: none).
func (s *Service) acquireEndpointSlot(ctx context.Context, ep *directory.Endpoint, moveID string, limit int, jobID int64) (*heldSlot, error) {
	endpointID, node := ep.ID, s.nodeID()
	got := false
	var holders int
	err := s.D.Write(ctx, func(tx *db.Tx) error {
		got = false
		if err := lockEndpointSlots(ctx, tx, s.D, endpointID); err != nil {
			return err
		}
		now := db.Now()
		if _, err := tx.ExecContext(ctx, `DELETE FROM move_slots WHERE endpoint_id = ? AND expires_at < ?`, endpointID, now); err != nil {
			return err
		}
		var held int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM move_slots WHERE endpoint_id = ? AND move_id <> ?`, endpointID, moveID).Scan(&held); err != nil {
			return err
		}
		if held >= limit {
			_, err := tx.ExecContext(ctx, `INSERT INTO move_slot_waiters (move_id, endpoint_id, job_id, since) VALUES (?, ?, ?, ?)
				ON CONFLICT (move_id) DO UPDATE SET job_id = excluded.job_id, endpoint_id = excluded.endpoint_id`, moveID, endpointID, jobID, now)
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO move_slots (move_id, endpoint_id, node_id, expires_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (move_id) DO UPDATE SET endpoint_id = excluded.endpoint_id, node_id = excluded.node_id, expires_at = excluded.expires_at`,
			moveID, endpointID, node, now+slotLease.Milliseconds()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM move_slot_waiters WHERE move_id = ?`, moveID); err != nil {
			return err
		}
		got, holders = true, held+1
		return nil
	})
	if err != nil {
		return nil, errs.Internalf(err, "take a concurrency slot of endpoint %s", endpointID)
	}
	if !got {
		s.slotWaits.Inc()
		return nil, nil
	}
	h := &heldSlot{s: s, moveID: moveID, endpointID: endpointID, tenantID: ep.TenantID, stop: make(chan struct{}), done: make(chan struct{}),
		capacity: ep.MaxBytesPerSecond}
	h.limiter = rate.NewLimiter(share(h.capacity, holders), replication.ThrottleBurst)
	go h.renew()
	return h, nil
}

// share is one pass's part of a bandwidth cap held by holders passes
// (rate.Inf without a cap).
func share(capacity int64, holders int) rate.Limit {
	if capacity <= 0 {
		return rate.Inf
	}
	return rate.Limit(float64(capacity) / float64(max(holders, 1)))
}

// renew extends the slot's lease until release.
func (h *heldSlot) renew() {
	defer close(h.done)
	t := time.NewTicker(slotRenew)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.renewOnce()
		}
	}
}

// renewOnce extends the slot's lease, recounts the endpoint's holders and
// re-reads its bandwidth cap, and sets the pass's share of it.
func (h *heldSlot) renewOnce() {
	ctx, cancel := context.WithTimeout(context.Background(), slotRenew)
	defer cancel()
	holders := 0
	err := h.s.D.Write(ctx, func(tx *db.Tx) error {
		now := db.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE move_slots SET expires_at = ? WHERE move_id = ?`, now+slotLease.Milliseconds(), h.moveID); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM move_slots WHERE endpoint_id = ? AND expires_at >= ?`, h.endpointID, now).Scan(&holders)
	})
	if err != nil {
		h.s.Log.Warn("migration: renew concurrency slot", "move", h.moveID, "err", err)
		return
	}
	if h.s.Dir != nil && h.tenantID != "" {
		// A failed read keeps the cap the pass has: the next renewal tries again.
		if ep, err := h.s.Dir.GetEndpoint(ctx, h.tenantID, h.endpointID); err == nil {
			h.capacity = ep.MaxBytesPerSecond
		}
	}
	h.limiter.SetLimit(share(h.capacity, holders))
}

// release frees the slot and hands it to the oldest move waiting for one
// of the endpoint's slots, in one transaction: the waiter's slot row is
// inserted (a reservation with handoverLease, which its pass takes over
// when it acquires) and its snoozed job is made available at the head of
// its queue, so the slot is never free for a third move to take and the
// waiter runs at the next fetch of any node. A waiter whose job is still
// running (between recording itself and snoozing) is woken by JobRetry
// after the commit.
//
// The transaction commits relaxed (db.RelaxedCommit): lost in a crash of
// the database server, the released slot stays held until its lease ends
// and the waiter keeps its row and its snooze (slotFallback) — later, never
// more passes than the limit.
func (h *heldSlot) release() {
	close(h.stop)
	<-h.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var waiter string
	var jobID int64
	woken := false
	err := h.s.D.Write(db.RelaxedCommit(ctx), func(tx *db.Tx) error {
		waiter, jobID, woken = "", 0, false
		if err := lockEndpointSlots(ctx, tx, h.s.D, h.endpointID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM move_slots WHERE move_id = ?`, h.moveID); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT move_id, job_id FROM move_slot_waiters WHERE endpoint_id = ? ORDER BY since, move_id LIMIT 1`,
			h.endpointID).Scan(&waiter, &jobID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		return h.s.handOver(ctx, tx, h.endpointID, waiter, jobID, &woken)
	})
	if err != nil {
		h.s.Log.Warn("migration: release concurrency slot", "move", h.moveID, "err", err)
		return
	}
	if woken {
		h.s.slotWakeups.Inc()
	} else if jobID != 0 {
		h.s.wake(ctx, waiter, jobID)
	}
}

// handoverLease is how long a slot handed to a waiting move stays
// reserved for it: its job runs at the next fetch, and a reservation its
// job does not take (the move was stopped meanwhile) expires.
const handoverLease = 10 * time.Second

// handOver reserves the endpoint's slot for the waiting move in tx, drops
// its waiter row and, when its job is snoozed, makes the job available at
// the head of its queue (woken).
func (s *Service) handOver(ctx context.Context, tx *db.Tx, endpointID, waiter string, jobID int64, woken *bool) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO move_slots (move_id, endpoint_id, node_id, expires_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (move_id) DO UPDATE SET endpoint_id = excluded.endpoint_id, node_id = excluded.node_id, expires_at = excluded.expires_at`,
		waiter, endpointID, handoverNode, db.Now()+handoverLease.Milliseconds()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM move_slot_waiters WHERE move_id = ?`, waiter); err != nil {
		return err
	}
	if s.Jobs == nil {
		return nil
	}
	var err error
	*woken, err = jobs.WakeTx(ctx, tx, jobID)
	return err
}

// handoverNode is the node_id of a slot reserved for a waiting move until
// its pass takes it.
const handoverNode = "handover"

// wake makes a waiting move's snoozed job available now. A job still
// running (it is between recording itself as a waiter and snoozing) is
// retried for a moment; a job that is gone leaves its waiter row, which
// the move's next attempt replaces or removes.
func (s *Service) wake(ctx context.Context, moveID string, jobID int64) {
	if s.Jobs == nil {
		return
	}
	for i := 0; i < 20; i++ {
		row, err := s.Jobs.Client.JobRetry(ctx, jobID)
		if err != nil {
			s.Log.Debug("migration: wake a move waiting for a slot", "move", moveID, "job", jobID, "err", err)
			return
		}
		if row.State != rivertype.JobStateRunning {
			s.slotWakeups.Inc()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// nodeID names this process in move_slots.
func (s *Service) nodeID() string {
	if s.Jobs != nil {
		return s.Jobs.NodeID
	}
	return "local"
}

// throttleKey carries a pass's bandwidth limiter in its context.
type throttleKey struct{}

// withThrottle attaches a pass's limiter (nil: none) to ctx.
func withThrottle(ctx context.Context, l *rate.Limiter) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, throttleKey{}, l)
}

// throttleOf is the limiter of the pass running under ctx, or nil.
func throttleOf(ctx context.Context) *rate.Limiter {
	l, _ := ctx.Value(throttleKey{}).(*rate.Limiter)
	return l
}
