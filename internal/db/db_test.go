package db_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

func TestOpenMigrateRebind(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		err := d.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`, "t1", "contoso", "contoso.tenantferry.test", db.Now())
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO domains (domain, tenant_id, is_initial, created_at) VALUES (?, ?, ?, ?)`, "contoso.tenantferry.test", "t1", true, db.Now())
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var initial bool
		var name string
		if err := d.Read().QueryRowContext(ctx, `SELECT t.name, d.is_initial FROM tenants t JOIN domains d ON d.tenant_id = t.id WHERE d.domain = ? AND '?' = '?'`, "contoso.tenantferry.test").Scan(&name, &initial); err != nil {
			t.Fatal(err)
		}
		if name != "contoso" || !initial {
			t.Fatalf("got %q %v", name, initial)
		}
		err = d.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`, "t2", "contoso", "x", db.Now())
			return err
		})
		if !db.IsUnique(err) {
			t.Fatalf("want unique violation, got %v", err)
		}
	})
}

// TestSQLiteFilesPrivate (issue 7, hole 6): the SQLite database and its
// -wal and -shm files are mode 0600 whatever the umask, and a database
// left readable by an older version is tightened on open.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "tenantferry.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s: %s has mode %v, want 0600", when, filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	d, err := db.Open(ctx, db.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	check("fresh database")
	d.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Chmod(p, 0o644)
	}
	d, err = db.Open(ctx, db.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(new(int))
	check("reopened 0644 database")
}
