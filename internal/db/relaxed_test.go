package db_test

import (
	"context"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// syncSetting is the writer's durability setting as seen inside a write
// transaction: synchronous_commit on PostgreSQL, PRAGMA synchronous on
// SQLite (1 NORMAL, 2 FULL).
func syncSetting(ctx context.Context, t *testing.T, d *db.DB) string {
	t.Helper()
	var v string
	err := d.Write(ctx, func(tx *db.Tx) error {
		q := `SHOW synchronous_commit`
		if d.Dialect == db.SQLite {
			q = `PRAGMA synchronous`
		}
		return tx.QueryRowContext(ctx, q).Scan(&v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRelaxedCommit: a write under RelaxedCommit commits (and is read
// back) without waiting for durability, and only it: the writes after it,
// and those under DurableCommit, are durable again.
func TestRelaxedCommit(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		durable, relaxed := "on", "off"
		if d.Dialect == db.SQLite {
			durable, relaxed = "2", "1"
		}
		rctx := db.RelaxedCommit(ctx)
		if got := syncSetting(rctx, t, d); got != relaxed {
			t.Fatalf("inside a relaxed write: %s, want %s", got, relaxed)
		}
		if got := syncSetting(ctx, t, d); got != durable {
			t.Fatalf("the write after a relaxed one: %s, want %s", got, durable)
		}
		if got := syncSetting(db.DurableCommit(rctx), t, d); got != durable {
			t.Fatalf("under DurableCommit: %s, want %s", got, durable)
		}
		if err := d.Write(rctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(rctx, `INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`, "t1", "contoso", "contoso.tenantferry.test", db.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := d.Read().QueryRowContext(ctx, `SELECT name FROM tenants WHERE id = ?`, "t1").Scan(&name); err != nil || name != "contoso" {
			t.Fatalf("relaxed write read back: %q, %v", name, err)
		}
		// A relaxed transaction that fails rolls back like any other.
		err := d.Write(rctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(rctx, `INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`, "t1", "again", "x", db.Now())
			return err
		})
		if !db.IsUnique(err) {
			t.Fatalf("want a unique violation, got %v", err)
		}
		if got := syncSetting(ctx, t, d); got != durable {
			t.Fatalf("after a failed relaxed write: %s, want %s", got, durable)
		}
	})
}
