package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
)

// cachedSQLite is the name SQLite connections are opened under: the
// modernc.org/sqlite driver with a per-connection cache of prepared
// statements (stmtCacheConn).
//
// Why: modernc's database/sql path prepares (parses and compiles) every
// statement on every call. A CPU profile of a 200-mailbox batch (the
// source server on SQLite) spent ~22% of the process's CPU in
// sqlite3Prepare, for the same few dozen statement texts over and over
// (docs/benchmarks.md, "Prepared statements on SQLite").
const cachedSQLite = "tenantferry-sqlite"

// stmtCacheMax bounds the statements cached per connection; past it an
// idle one is finalized to make room.
const stmtCacheMax = 512

var registerCached sync.Once

// registerCachedSQLite registers cachedSQLite once, wrapping the driver
// modernc.org/sqlite registered as "sqlite".
func registerCachedSQLite() {
	registerCached.Do(func() {
		d, err := sql.Open("sqlite", ":memory:") // does not connect
		if err != nil {
			panic(err)
		}
		inner := d.Driver()
		d.Close()
		sql.Register(cachedSQLite, cachingDriver{inner})
	})
}

// cachingDriver opens stmtCacheConn connections.
type cachingDriver struct{ inner driver.Driver }

// Open opens a connection of the inner driver with a statement cache.
func (d cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &stmtCacheConn{Conn: c, stmts: map[string]*cachedStmt{}}, nil
}

// stmtCacheConn runs ExecContext and QueryContext through prepared
// statements it keeps per query text. database/sql serializes the calls on
// one connection (and the Close of their Rows), so the map needs no lock.
//
// Invariants:
//   - a cached statement serves one call at a time: while the Rows of a
//     query on it are open it is busy, and another query with the same
//     text on this connection (nested, in a transaction) gets a statement
//     of its own, prepared and finalized as without the cache;
//   - only single statements are cached (a text with an inner ';' runs
//     uncached: the driver re-parses scripts anyway);
//   - errors are those of the uncached path: a text that fails to
//     prepare is not cached and fails the same way.
type stmtCacheConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
	// prepared counts statements prepared for the cache (tests).
	prepared atomic.Int64
}

type cachedStmt struct {
	ds   driver.Stmt
	busy atomic.Bool
}

// cacheable reports whether q is a single statement worth caching.
func cacheable(q string) bool {
	return !strings.Contains(strings.TrimRight(q, "; \t\r\n"), ";")
}

// get returns an idle cached statement for q, preparing it if needed, or
// nil when q must run uncached.
func (c *stmtCacheConn) get(ctx context.Context, q string) *cachedStmt {
	if s, ok := c.stmts[q]; ok {
		if s.busy.Load() {
			return nil
		}
		return s
	}
	if !cacheable(q) {
		return nil
	}
	if len(c.stmts) >= stmtCacheMax && !c.evict() {
		return nil
	}
	pc, ok := c.Conn.(driver.ConnPrepareContext)
	if !ok {
		return nil
	}
	ds, err := pc.PrepareContext(ctx, q)
	if err != nil {
		return nil // the uncached call reports it
	}
	c.prepared.Add(1)
	s := &cachedStmt{ds: ds}
	c.stmts[q] = s
	return s
}

// evict finalizes one idle cached statement; false if all are busy.
func (c *stmtCacheConn) evict() bool {
	for q, s := range c.stmts {
		if !s.busy.Load() {
			s.ds.Close()
			delete(c.stmts, q)
			return true
		}
	}
	return false
}

// ExecContext runs q on its cached statement.
func (c *stmtCacheConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if s := c.get(ctx, q); s != nil {
		if se, ok := s.ds.(driver.StmtExecContext); ok {
			return se.ExecContext(ctx, args)
		}
	}
	if ec, ok := c.Conn.(driver.ExecerContext); ok {
		return ec.ExecContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

// QueryContext runs q on its cached statement; the statement is busy
// until the returned Rows close.
func (c *stmtCacheConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if s := c.get(ctx, q); s != nil {
		if sq, ok := s.ds.(driver.StmtQueryContext); ok {
			s.busy.Store(true)
			r, err := sq.QueryContext(ctx, args)
			if err != nil {
				s.busy.Store(false)
				return nil, err
			}
			return &cachedRows{Rows: r, s: s}, nil
		}
	}
	if qc, ok := c.Conn.(driver.QueryerContext); ok {
		return qc.QueryContext(ctx, q, args)
	}
	return nil, driver.ErrSkip
}

// Close finalizes the cached statements and closes the connection.
func (c *stmtCacheConn) Close() error {
	for q, s := range c.stmts {
		s.ds.Close()
		delete(c.stmts, q)
	}
	return c.Conn.Close()
}

// PrepareContext forwards to the inner connection.
func (c *stmtCacheConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	if pc, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return pc.PrepareContext(ctx, q)
	}
	return c.Conn.Prepare(q)
}

// BeginTx forwards to the inner connection.
func (c *stmtCacheConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if bc, ok := c.Conn.(driver.ConnBeginTx); ok {
		return bc.BeginTx(ctx, opts)
	}
	return nil, errors.New("db: the SQLite driver cannot begin a transaction with options")
}

// Ping forwards to the inner connection.
func (c *stmtCacheConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession forwards to the inner connection.
func (c *stmtCacheConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid forwards to the inner connection.
func (c *stmtCacheConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// cachedRows marks its statement idle again when closed.
type cachedRows struct {
	driver.Rows
	s    *cachedStmt
	done bool
}

// Close closes the rows (the driver resets the statement for reuse).
func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if !r.done {
		r.done = true
		r.s.busy.Store(false)
	}
	return err
}

// columnTyper is what the SQLite driver's rows tell about their columns
// (database/sql's Rows.ColumnTypes); cachedRows passes it through.
type columnTyper interface {
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// ColumnTypeDatabaseTypeName forwards to the driver's rows.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength forwards to the driver's rows.
func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable forwards to the driver's rows.
func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale forwards to the driver's rows.
func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// ColumnTypeScanType forwards to the driver's rows.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(columnTyper); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
