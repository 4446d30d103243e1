package mailstore

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Store is the mailbox store. It is safe for concurrent use.
type Store struct {
	d     *db.DB
	blobs *blobstore.Store
	hub   *Hub
	// MaxItemSize is the largest message Append accepts (ItemTooLarge
	// above). Set it before use; the default is DefaultMaxItemSize.
	MaxItemSize int64
}

// New returns a store over the database and blob store, and registers
// its items as references with the blob store's GC.
func New(d *db.DB, blobs *blobstore.Store) *Store {
	s := &Store{d: d, blobs: blobs, hub: NewHub(), MaxItemSize: DefaultMaxItemSize}
	if blobs != nil {
		blobs.AddReferrer("mailstore items", s.ReferencedBlobs)
	}
	return s
}

// DB returns the database the store uses.
func (s *Store) DB() *db.DB { return s.d }

// Blobs returns the blob store holding the raw bytes.
func (s *Store) Blobs() *blobstore.Store { return s.blobs }

// Hub returns the store's event hub.
func (s *Store) Hub() *Hub { return s.hub }

// Subscribe returns the committed change events of a mailbox; call cancel
// when done. See Hub.Subscribe.
func (s *Store) Subscribe(mailboxID int64) (<-chan Event, func()) {
	return s.hub.Subscribe(mailboxID)
}

// mutation is the state of one mutating operation: its transaction, the
// MODSEQ it stamps, and the events to publish after commit.
type mutation struct {
	ctx     context.Context
	tx      *db.Tx
	mb      int64
	modseq  int64
	events  []Event
	changed bool // something in the mailbox changed: keep the MODSEQ
	keep    bool // commit even if nothing changed (a caller hook ran)
}

var errNoChange = errors.New("mailstore: no change")

// mutate runs f in a write transaction holding the mailbox row (which
// serialises the mailbox's mutations) with a freshly raised MODSEQ. It
// refuses locked and retired mailboxes. If f reports no change the MODSEQ
// increment is undone.
func (s *Store) mutate(ctx context.Context, mailboxID int64, f func(m *mutation) error) error {
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		m, _, err := beginMutation(ctx, tx, mailboxID)
		if err != nil {
			return err
		}
		if err := f(m); err != nil {
			return err
		}
		return s.finishMutation(m, false)
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// beginMutation raises the MODSEQ of a mailbox in tx (holding its row until
// the transaction ends) and returns the mutation and the mailbox's tenant.
// It refuses locked and retired mailboxes.
func beginMutation(ctx context.Context, tx *db.Tx, mailboxID int64) (*mutation, string, error) {
	m := &mutation{ctx: ctx, tx: tx, mb: mailboxID}
	var state MailboxState
	var guid, tenant string
	err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET modseq = modseq + 1, updated_at = ? WHERE id = ? RETURNING modseq, state, guid, tenant_id`,
		db.Now(), mailboxID).Scan(&m.modseq, &state, &guid, &tenant)
	if db.IsNoRows(err) {
		return nil, "", errMailboxNotFound(strconv.FormatInt(mailboxID, 10))
	}
	if err != nil {
		return nil, "", errs.Internalf(err, "lock mailbox %d", mailboxID)
	}
	if state == StateLocked || state == StateRetired {
		return nil, "", lockedError(guid, state)
	}
	return m, tenant, nil
}

// finishMutation ends a mutation inside its transaction: with changes, its
// events are published after commit; without, the MODSEQ increment is
// undone, and errNoChange is returned (which rolls back the transaction)
// unless the mutation must be kept or quiet is set (another mutation of the
// same transaction changed something).
func (s *Store) finishMutation(m *mutation, quiet bool) error {
	if !m.changed {
		if !m.keep && !quiet {
			return errNoChange
		}
		if _, err := m.tx.ExecContext(m.ctx, `UPDATE mailboxes SET modseq = modseq - 1 WHERE id = ?`, m.mb); err != nil {
			return errs.Internalf(err, "update mailbox %d", m.mb)
		}
		return nil
	}
	evs := m.events
	m.tx.AfterCommit(func() {
		for _, e := range evs {
			s.hub.Publish(e)
		}
	})
	return nil
}

// emit records an event for publication after commit.
func (m *mutation) emit(e Event) {
	e.MailboxID, e.ModSeq = m.mb, m.modseq
	m.events = append(m.events, e)
}

// readTx is a read-only transaction on the reader pool, so several queries
// see one consistent snapshot. It implements db.Querier.
type readTx struct {
	tx *sql.Tx
	d  *db.DB
}

func (s *Store) beginRead(ctx context.Context) (*readTx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.d.Dialect == db.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.d.R.BeginTx(ctx, opts)
	if err != nil {
		return nil, errs.Internalf(err, "begin read")
	}
	return &readTx{tx: tx, d: s.d}, nil
}

func (r *readTx) DB() *db.DB { return r.d }

func (r *readTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return r.tx.ExecContext(ctx, r.d.Rebind(q), args...)
}

func (r *readTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return r.tx.QueryContext(ctx, r.d.Rebind(q), args...)
}

func (r *readTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return r.tx.QueryRowContext(ctx, r.d.Rebind(q), args...)
}

func (r *readTx) done() { r.tx.Rollback() }

// int64Args converts ids for an IN list.
func int64Args(ids []int64) []any {
	out := make([]any, len(ids))
	for i, v := range ids {
		out[i] = v
	}
	return out
}

// nullString maps "" to NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}
