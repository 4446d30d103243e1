package blobstore

import (
	"context"
	"sort"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrContainerRetired is returned by a commit whose bytes went to a
// container that compaction or orphan removal retired meanwhile. Nothing
// was committed; the caller retries with a new batch.
var ErrContainerRetired = errs.Sentinel(errs.Unavailable, "BlobContainerRetired")

// Container states in blob_containers.
const (
	stateLive    = "live"    // referenced by committed rows; writers may commit into it
	stateDead    = "dead"    // fenced: no commit may reference it; deleted once empty and past the reader grace
	stateDeleted = "deleted" // its file or object is gone; the row stays as a fence
	// stateStaged: written by a compaction that has not relocated into
	// it yet. The relocation's commit promotes it to live; a later round
	// fences one older than its grace (dead), so the copies of a
	// compaction that died are deleted by the round that resumes it
	// instead of waiting for the orphan sweep.
	stateStaged = "staged"
)

// stage records a container a compaction is about to write, before the
// first byte goes to it.
func (s *Store) stage(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return s.d.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_containers (name, state, size, created_at, dead_at) VALUES (?, ?, 0, ?, 0)`,
			name, stateStaged, db.Now()); err != nil {
			return errs.Internalf(err, "stage blob container %s", name)
		}
		return nil
	})
}

// fenceStaged retires staged containers created before cutoff: their
// compaction died or gave up (a live one relocates within moments of
// writing). A relocation racing the fence finds its container dead and
// fails; its sources stay retired and the next round copies them again.
func (s *Store) fenceStaged(ctx context.Context, cutoff time.Time) error {
	return s.d.Write(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE blob_containers SET state = ?, dead_at = ? WHERE state = ? AND created_at <= ?`,
			stateDead, db.Now(), stateStaged, db.Millis(cutoff)); err != nil {
			return errs.Internalf(err, "fence abandoned compaction containers")
		}
		return nil
	})
}

// registerContainers records the containers a commit references (name →
// size written), promotes the staged ones (the commit's own compaction
// wrote them) to live, and fails if one of them is not live. On PostgreSQL the
// state is read FOR SHARE: a compaction that retires the container waits
// for this transaction, and this transaction waits for a retirement in
// progress, so one of the two always sees the other.
func (s *Store) registerContainers(ctx context.Context, tx *db.Tx, cs map[string]int64, staged map[string]bool) error {
	names := make([]string, 0, len(cs))
	for n := range cs {
		names = append(names, n)
	}
	sort.Strings(names)
	lock := ""
	if s.d.Dialect == db.Postgres {
		lock = " FOR SHARE"
	}
	now := db.Now()
	for _, n := range names {
		if staged[n] {
			if _, err := tx.ExecContext(ctx, `UPDATE blob_containers SET state = ?, size = ? WHERE name = ? AND state = ?`,
				stateLive, cs[n], n, stateStaged); err != nil {
				return errs.Internalf(err, "register blob container %s", n)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_containers (name, state, size, created_at, dead_at) VALUES (?, ?, ?, ?, 0)
			ON CONFLICT (name) DO NOTHING`, n, stateLive, cs[n], now); err != nil {
			return errs.Internalf(err, "register blob container %s", n)
		}
		var state string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM blob_containers WHERE name = ?`+lock, n).Scan(&state); err != nil {
			return errs.Internalf(err, "register blob container %s", n)
		}
		if state != stateLive {
			return ErrContainerRetired.Newf("blob container %s was retired before the write committed", n).WithObject(n).
				WithHint("the write is retried with fresh bytes; nothing was committed")
		}
	}
	return nil
}

// retire fences a live container (or re-claims a dead one whose
// compaction was interrupted): from its commit on, no writer can commit a
// row into it. It reports whether the caller holds the claim.
func (s *Store) retire(ctx context.Context, name string, interrupted bool) (bool, error) {
	var n int64
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		from := stateLive
		if interrupted {
			from = stateDead
		}
		r, err := tx.ExecContext(ctx, `UPDATE blob_containers SET state = ?, dead_at = ? WHERE name = ? AND state = ?`, stateDead, db.Now(), name, from)
		if err != nil {
			return errs.Internalf(err, "retire blob container %s", name)
		}
		n, err = r.RowsAffected()
		return err
	})
	return n == 1, err
}

// fenceOrphan claims a container that no commit has registered (bytes of
// a crashed or failed write): it inserts the container as dead, so a slow
// writer's later commit fails. It reports whether the claim succeeded
// (false: a commit registered it first, it is not an orphan).
func (s *Store) fenceOrphan(ctx context.Context, name string, size int64) (bool, error) {
	var n int64
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		now := db.Now()
		r, err := tx.ExecContext(ctx, `INSERT INTO blob_containers (name, state, size, created_at, dead_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING`, name, stateDead, size, now, now)
		if err != nil {
			return errs.Internalf(err, "fence blob container %s", name)
		}
		n, err = r.RowsAffected()
		return err
	})
	return n == 1, err
}

// relocate points the batch's blobs, all copied out of container from, at
// their new locations, in tx. Rows that left from meanwhile (deleted by
// GC) are not touched.
func (b *Batch) relocate(ctx context.Context, tx *db.Tx, from string) error {
	if err := b.precommit(ctx, tx); err != nil {
		return err
	}
	for _, it := range b.sorted() {
		if _, err := tx.ExecContext(ctx, `UPDATE blobs SET location = ?, container = ? WHERE sha256 = ? AND container = ?`,
			it.loc, containerOf(it.loc), it.ref.SHA256, from); err != nil {
			return errs.Internalf(err, "relocate blob %s", it.ref.SHA256)
		}
	}
	return nil
}
