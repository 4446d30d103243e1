// Package dbtest opens fresh test databases in every available dialect, so
// one test suite runs against SQLite and, when TENANTFERRY_TEST_POSTGRES
// holds a DSN, against PostgreSQL too.
//
// Invariant: each call returns an empty, migrated database that no other test
// shares (a temp dir for SQLite, a fresh schema for PostgreSQL).
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
)

// EnvPostgres names the environment variable with the PostgreSQL test DSN.
const EnvPostgres = "TENANTFERRY_TEST_POSTGRES"

// Dialects runs f once per available dialect as a subtest.
func Dialects(t *testing.T, f func(t *testing.T, d *db.DB)) {
	t.Run("sqlite", func(t *testing.T) { f(t, Open(t, db.SQLite)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(EnvPostgres) == "" {
			t.Skip("set " + EnvPostgres + " to a PostgreSQL DSN to run the PostgreSQL variant")
		}
		f(t, Open(t, db.Postgres))
	})
}

// EachDialect runs f once per dialect as a subtest, for tests that start
// whole servers (each on its own DSN(t, dialect)); the PostgreSQL variant
// skips without EnvPostgres.
func EachDialect(t *testing.T, f func(t *testing.T, dialect db.Dialect)) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			if dialect == db.Postgres && os.Getenv(EnvPostgres) == "" {
				t.Skip("set " + EnvPostgres + " to run the PostgreSQL variant")
			}
			f(t, dialect)
		})
	}
}

// Open returns a fresh migrated database of the given dialect, closed when
// the test ends.
func Open(t testing.TB, dialect db.Dialect) *db.DB {
	t.Helper()
	dsn := DSN(t, dialect)
	d, err := db.Open(context.Background(), db.Options{DSN: dsn, DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// DSN returns a DSN for a fresh, empty database of the dialect: "" (SQLite
// in the caller's data dir) or a PostgreSQL URL whose search_path is a new
// schema dropped when the test ends.
func DSN(t testing.TB, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.SQLite {
		return ""
	}
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip("set " + EnvPostgres + " to run against PostgreSQL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "tft_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// ServerDialects runs f once per available dialect as a subtest, with the
// DSN a server under test opens: "" (SQLite in its data directory) or a
// fresh PostgreSQL schema.
func ServerDialects(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, "") })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(EnvPostgres) == "" {
			t.Skip("set " + EnvPostgres + " to a PostgreSQL DSN to run the PostgreSQL variant")
		}
		f(t, DSN(t, db.Postgres))
	})
}
