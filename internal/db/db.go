// Package db opens the tenantferry database in one of two dialects — SQLite
// (the embedded default, modernc.org/sqlite in WAL mode) or PostgreSQL (pgx) —
// applies the embedded schema migrations, and hides every dialect difference
// from the packages above it.
//
// Invariants:
//   - All SQL in tenantferry is written with '?' placeholders; the wrappers in
//     this package rebind them to '$n' for PostgreSQL. Nobody else rebinds.
//   - Timestamps are stored as INTEGER unix milliseconds, booleans as 0/1
//     (SQLite) or BOOLEAN (PostgreSQL); both scan into Go bool.
//   - On SQLite every write goes through the single-connection writer pool
//     (W), so writers never see SQLITE_BUSY; readers use a separate pool (R)
//     and see committed data only (WAL). On PostgreSQL, W and R are the same
//     pool. Code must never wait for a second writer connection while it holds
//     one (no nested Write calls).
//   - On SQLite each connection keeps its prepared statements per query
//     text (stmtcache.go): the driver would otherwise parse every call.
//   - The schema is migrated (goose, then River's own tables) before Open
//     returns.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL dialect of a database.
type Dialect string

// The two supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open tenantferry database.
type DB struct {
	Dialect Dialect
	// W is the pool for writes (one connection on SQLite).
	W *sql.DB
	// R is the pool for reads (the same as W on PostgreSQL).
	R *sql.DB
	// DSN is what the database was opened with (without secrets it is the
	// SQLite path or the PostgreSQL URL as configured).
	DSN string

	rebindCache sync.Map // string -> string (PostgreSQL only)
	// statements counts the statements run through Tx and Reader.
	statements atomic.Int64
	// commits counts the write transactions Write committed.
	commits atomic.Int64
}

// Statements returns how many statements have run through the rebinding
// methods of Tx and Reader since Open: tests measure the queries an
// operation costs (a list page, a group change) by the difference.
func (d *DB) Statements() int64 { return d.statements.Load() }

// Commits returns how many write transactions Write has committed since
// Open (each a commit record, on PostgreSQL a WAL flush unless relaxed):
// tests measure the commits an operation costs by the difference.
func (d *DB) Commits() int64 { return d.commits.Load() }

// Options configure Open.
type Options struct {
	// DSN is empty for SQLite in DataDir, "postgres://..." or
	// "postgresql://..." for PostgreSQL, or "sqlite:PATH" / a file path for an
	// explicit SQLite file.
	DSN string
	// DataDir holds the SQLite file when DSN is empty.
	DataDir string
	// SkipMigrate leaves the schema alone (tools that only read).
	SkipMigrate bool
}

// Open opens (and migrates) the database described by opts.
func Open(ctx context.Context, opts Options) (*DB, error) {
	var d *DB
	var err error
	switch {
	case strings.HasPrefix(opts.DSN, "postgres://"), strings.HasPrefix(opts.DSN, "postgresql://"):
		d, err = openPostgres(opts.DSN)
	default:
		path := strings.TrimPrefix(opts.DSN, "sqlite:")
		if path == "" {
			if opts.DataDir == "" {
				return nil, errors.New("db: no DSN and no data directory")
			}
			path = filepath.Join(opts.DataDir, "tenantferry.db")
		}
		d, err = openSQLite(path)
	}
	if err != nil {
		return nil, err
	}
	if !opts.SkipMigrate {
		if err := d.migrate(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func openSQLite(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("db: create directory for %s: %w", path, err)
	}
	if err := private(path); err != nil {
		return nil, err
	}
	base := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	registerCachedSQLite()
	w, err := sql.Open(cachedSQLite, base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	// SQLite gives the -wal and -shm files the database file's mode; set it
	// again in case they predate this start.
	if err := private(path); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open(cachedSQLite, base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open %s: %w", path, err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return &DB{Dialect: SQLite, W: w, R: r, DSN: path}, nil
}

// private makes the SQLite database file (created empty if missing) and its
// -wal and -shm companions readable by the server's user only: they hold
// every tenant's directory, hashed secrets and sealed keys.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("db: open %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("db: restrict %s to mode 0600: %w", p, err)
		}
	}
	return nil
}

func openPostgres(dsn string) (*DB, error) {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("db: open postgres: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.PingContext(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("db: connect to postgres: %w", err)
	}
	return &DB{Dialect: Postgres, W: p, R: p, DSN: dsn}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	err := d.W.Close()
	if d.R != d.W {
		if err2 := d.R.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// Rebind converts '?' placeholders to the dialect's form. Question marks
// inside single-quoted string literals are left alone.
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres {
		return q
	}
	if v, ok := d.rebindCache.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	d.rebindCache.Store(q, s)
	return s
}

// Querier is what both *Tx and the read side offer: rebinding query methods.
type Querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
	// DB returns the database the querier belongs to.
	DB() *DB
}

// Tx is a write transaction with rebinding query methods.
type Tx struct {
	*sql.Tx
	d *DB
	// after holds functions to run after a successful commit.
	after []func()
}

// DB returns the database of the transaction.
func (t *Tx) DB() *DB { return t.d }

// ExecContext runs a statement inside the transaction.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	t.d.statements.Add(1)
	return t.Tx.ExecContext(ctx, t.d.Rebind(q), args...)
}

// QueryContext runs a query inside the transaction.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	t.d.statements.Add(1)
	return t.Tx.QueryContext(ctx, t.d.Rebind(q), args...)
}

// QueryRowContext runs a single-row query inside the transaction.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	t.d.statements.Add(1)
	return t.Tx.QueryRowContext(ctx, t.d.Rebind(q), args...)
}

// AfterCommit registers f to run once the transaction has committed (for
// notifications that must not fire for rolled-back changes).
func (t *Tx) AfterCommit(f func()) { t.after = append(t.after, f) }

// Snapshot begins a read-only transaction on the reader pool that sees one
// consistent state (repeatable read) through its rebinding methods; end it
// with Rollback. Consistency checks read several packages' tables in it.
func (d *DB) Snapshot(ctx context.Context) (*Tx, error) {
	tx, err := d.R.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, d: d}, nil
}

// Reader is the read side of the database as a Querier.
type Reader struct{ d *DB }

// Read returns the read side of the database.
func (d *DB) Read() Reader { return Reader{d} }

// DB returns the database.
func (r Reader) DB() *DB { return r.d }

// ExecContext runs a statement on the writer pool (a Reader may still need to
// run an occasional write outside a transaction, e.g. a touch).
func (r Reader) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	r.d.statements.Add(1)
	return r.d.W.ExecContext(ctx, r.d.Rebind(q), args...)
}

// QueryContext runs a query on the reader pool.
func (r Reader) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r.d.statements.Add(1)
	return r.d.R.QueryContext(ctx, r.d.Rebind(q), args...)
}

// QueryRowContext runs a single-row query on the reader pool.
func (r Reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	r.d.statements.Add(1)
	return r.d.R.QueryRowContext(ctx, r.d.Rebind(q), args...)
}

// Write runs f in a write transaction and commits it when f returns nil. On
// PostgreSQL a serialization failure or deadlock is retried a few times.
func (d *DB) Write(ctx context.Context, f func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := d.writeOnce(ctx, f)
		if err != nil && attempt < 5 && d.retryable(err) {
			time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
			continue
		}
		return err
	}
}

func (d *DB) writeOnce(ctx context.Context, f func(tx *Tx) error) (err error) {
	var stx *sql.Tx
	done := func() {}
	if IsRelaxed(ctx) {
		stx, done, err = d.beginRelaxed(ctx)
	} else {
		stx, err = d.W.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("db: begin: %w", err)
	}
	tx := &Tx{Tx: stx, d: d}
	defer func() {
		if p := recover(); p != nil {
			stx.Rollback()
			done()
			panic(p)
		}
		if err != nil {
			stx.Rollback()
		}
		done()
	}()
	if err = f(tx); err != nil {
		return err
	}
	if err = stx.Commit(); err != nil {
		return fmt.Errorf("db: commit: %w", err)
	}
	d.commits.Add(1)
	for _, a := range tx.after {
		a()
	}
	return nil
}

func (d *DB) retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
	}
	return false
}

// IsUnique reports whether err is a unique-constraint violation.
func IsUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKey reports whether err is a foreign-key violation.
func IsForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// IsNoRows reports whether err is sql.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Now returns the current time in the storage unit (unix milliseconds).
func Now() int64 { return time.Now().UnixMilli() }

// Time converts a stored timestamp to time.Time (zero for 0).
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Millis converts a time to the storage unit (0 for the zero time).
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// InList returns "?,?,?" with n placeholders for an IN clause.
func InList(n int) string {
	if n <= 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
