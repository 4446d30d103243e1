package db

import (
	"context"
	"testing"
)

// preparedOn returns how many statements the cache of one pool connection
// has prepared so far.
func preparedOn(t *testing.T, ctx context.Context, d *DB, write bool) int64 {
	t.Helper()
	pool := d.R
	if write {
		pool = d.W
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int64 = -1
	if err := conn.Raw(func(dc any) error {
		if c, ok := dc.(*stmtCacheConn); ok {
			n = c.prepared.Load()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n < 0 {
		t.Fatal("the SQLite connection has no statement cache")
	}
	return n
}

// TestSQLiteStatementCache: a statement run many times on SQLite is
// prepared once per connection (counted, not timed), and a query nested in
// the open rows of the same text in one transaction still reads right.
func TestSQLiteStatementCache(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Write(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE cache_t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
			return err
		}
		for i := 1; i <= 3; i++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cache_t (id, v) VALUES (?, ?)`, i, "x"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := preparedOn(t, ctx, d, true)
	for i := 0; i < 50; i++ {
		if err := d.Write(ctx, func(tx *Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE cache_t SET v = ? WHERE id = ?`, "y", 1+i%3)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// BEGIN/COMMIT go through the driver's own calls; the UPDATE is one
	// prepared statement on the single writer connection.
	if got := preparedOn(t, ctx, d, true) - before; got != 1 {
		t.Fatalf("50 runs of one UPDATE prepared %d statements on the writer, want 1", got)
	}

	// Nested: the same query while its rows are open, in one transaction.
	const q = `SELECT id FROM cache_t WHERE id >= ? ORDER BY id`
	if err := d.Write(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, q, 1)
		if err != nil {
			return err
		}
		defer rows.Close()
		var outer, inner int
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				return err
			}
			outer++
			r2, err := tx.QueryContext(ctx, q, id)
			if err != nil {
				return err
			}
			for r2.Next() {
				inner++
			}
			if err := r2.Close(); err != nil {
				return err
			}
		}
		if outer != 3 || inner != 3+2+1 {
			t.Errorf("nested reads saw %d outer and %d inner rows, want 3 and 6", outer, inner)
		}
		return rows.Err()
	}); err != nil {
		t.Fatal(err)
	}

	// Reads: the same query many times costs at most one prepare per
	// reader connection.
	for i := 0; i < 40; i++ {
		var n int
		if err := d.Read().QueryRowContext(ctx, `SELECT count(*) FROM cache_t WHERE v = ?`, "y").Scan(&n); err != nil || n != 3 {
			t.Fatalf("count = %d, %v; want 3", n, err)
		}
	}
	if err := d.Read().QueryRowContext(ctx, `SELECT nope FROM cache_t`).Scan(new(int)); err == nil {
		t.Fatal("a bad statement ran")
	}
}
