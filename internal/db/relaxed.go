package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
)

// Relaxed commits: writes whose loss in a crash of the database server
// (or of the machine) costs only work that is redone, never a promise
// made to someone else, may commit without waiting for their log record to
// reach the disk. A small mailbox's sync pass is dozens of such
// bookkeeping commits, and with a WAL flush each (~1.2 ms, queued behind
// every other committer) the flushes, not the copying, bound a batch of
// small moves (docs/benchmarks.md, "Where the time goes").
//
// What a relaxed commit keeps:
//   - A crash of our process loses nothing: the commit is in the
//     database server's memory and log buffer, written within ~0.6 s
//     (PostgreSQL's wal_writer_delay × 3) or at the next durable commit.
//   - The log is a prefix: a crash of the database server loses only the
//     last relaxed commits, whole, and never one that a durable commit
//     acknowledged after it (a durable commit flushes the log up to
//     itself, relaxed commits before it included). State never goes back
//     to something that was not committed at some moment.
//
// What it gives up: after a crash of the database server or the machine,
// the last relaxed commits (under a second) may be gone although Write
// returned nil. So a relaxed write must never precede, unflushed, an
// action outside the database that depends on it (a reply to a client, a
// request to a move's source, deleting what the write superseded), and
// nothing may be shown to a client that a rollback would contradict.
// Callers state their argument where they use RelaxedCommit.

// relaxedKey marks a context whose Write calls commit relaxed.
type relaxedKey struct{}

// RelaxedCommit returns a context under which Write commits without
// waiting for durability: on PostgreSQL the transaction runs with
// synchronous_commit off, on SQLite with synchronous NORMAL (WAL mode:
// no fsync at commit, the log is synced at checkpoints). See the package's
// Relaxed commits note for when that is allowed.
func RelaxedCommit(ctx context.Context) context.Context {
	return context.WithValue(ctx, relaxedKey{}, true)
}

// DurableCommit returns ctx without the RelaxedCommit mark: Write under
// it waits for durability again (the default).
func DurableCommit(ctx context.Context) context.Context {
	if !IsRelaxed(ctx) {
		return ctx
	}
	return context.WithValue(ctx, relaxedKey{}, false)
}

// IsRelaxed reports whether Write under ctx commits relaxed.
func IsRelaxed(ctx context.Context) bool {
	v, _ := ctx.Value(relaxedKey{}).(bool)
	return v
}

// beginRelaxed begins a relaxed write transaction. On PostgreSQL it is a
// transaction with SET LOCAL synchronous_commit = off; on SQLite the
// writer connection is taken for the transaction and set to synchronous
// NORMAL until it ends (done restores FULL, and discards the connection
// if it cannot).
func (d *DB) beginRelaxed(ctx context.Context) (stx *sql.Tx, done func(), err error) {
	if d.Dialect == Postgres {
		stx, err := d.W.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		if _, err := stx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			stx.Rollback()
			return nil, nil, err
		}
		return stx, func() {}, nil
	}
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	restore := func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			// Never hand a connection on that commits without syncing.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		restore()
		return nil, nil, fmt.Errorf("set synchronous: %w", err)
	}
	stx, err = conn.BeginTx(ctx, nil)
	if err != nil {
		restore()
		return nil, nil, err
	}
	return stx, restore, nil
}
