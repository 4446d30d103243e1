package db_test

import (
	"context"
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
