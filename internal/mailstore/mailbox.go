package mailstore

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// NewMailbox describes a mailbox to create.
type NewMailbox struct {
	TenantID string       // owning tenant
	GUID     string       // ExchangeGuid / ArchiveGuid
	Kind     MailboxKind  // default KindPrimary
	State    MailboxState // default StateActive
	// DefaultFolders creates the Exchange default folders (see
	// DefaultFolders).
	DefaultFolders bool
}

// DefaultFolder describes one Exchange default folder.
type DefaultFolder struct {
	Name       string // folder name at the root
	Class      string // folder class
	SpecialUse string // special use or ""
}

// DefaultFolders are the folders a new mailbox gets with
// NewMailbox.DefaultFolders.
var DefaultFolders = []DefaultFolder{
	{"Inbox", ClassNote, UseInbox},
	{"Sent Items", ClassNote, UseSent},
	{"Drafts", ClassNote, UseDrafts},
	{"Deleted Items", ClassNote, UseTrash},
	{"Junk Email", ClassNote, UseJunk},
	{"Archive", ClassNote, UseArchive},
	{"Calendar", ClassAppointment, ""},
	{"Contacts", ClassContact, ""},
	{"Tasks", ClassTask, ""},
}

const mailboxCols = `id, tenant_id, guid, kind, state, modseq, created_at`

func scanMailbox(sc interface{ Scan(...any) error }) (*Mailbox, error) {
	var m Mailbox
	var created int64
	if err := sc.Scan(&m.ID, &m.TenantID, &m.GUID, &m.Kind, &m.State, &m.ModSeq, &created); err != nil {
		return nil, err
	}
	m.CreatedAt = db.Time(created)
	return &m, nil
}

// CreateMailbox creates a mailbox. A second mailbox with the same tenant and
// GUID is a MailboxExists error.
func (s *Store) CreateMailbox(ctx context.Context, nm NewMailbox) (*Mailbox, error) {
	guid, err := checkNewMailbox(&nm)
	if err != nil {
		return nil, err
	}
	var mb *Mailbox
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		mb, err = insertMailbox(ctx, tx, nm, guid)
		return err
	})
	if err != nil {
		return nil, err
	}
	return mb, nil
}

// CreateMailboxTx is CreateMailbox inside the caller's write transaction:
// the mailbox exists exactly when tx commits, together with whatever else
// the caller writes in it (a move's staging mailbox with its state). A
// MailboxExists error leaves tx unusable on PostgreSQL (the failed INSERT
// aborts it): the caller returns the error and rolls back.
func (s *Store) CreateMailboxTx(ctx context.Context, tx *db.Tx, nm NewMailbox) (*Mailbox, error) {
	guid, err := checkNewMailbox(&nm)
	if err != nil {
		return nil, err
	}
	return insertMailbox(ctx, tx, nm, guid)
}

// checkNewMailbox validates nm, fills its defaults and returns its
// normalized GUID.
func checkNewMailbox(nm *NewMailbox) (string, error) {
	if strings.TrimSpace(nm.TenantID) == "" {
		return "", errs.Invalidf("InvalidTenant", "a mailbox needs a tenant id").WithHint("pass the tenant's id")
	}
	u, err := uuid.Parse(normalizeGUID(nm.GUID))
	if err != nil {
		return "", errs.Invalidf("InvalidMailboxGuid", "%q is not a GUID", nm.GUID).WithObject(nm.GUID).
			WithHint("use the recipient's ExchangeGuid or ArchiveGuid, e.g. 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
	}
	if nm.Kind == "" {
		nm.Kind = KindPrimary
	}
	if nm.State == "" {
		nm.State = StateActive
	}
	if nm.Kind != KindPrimary && nm.Kind != KindArchive {
		return "", errs.Invalidf("InvalidMailboxKind", "mailbox kind %q is not primary or archive", nm.Kind)
	}
	if err := validState(nm.State); err != nil {
		return "", err
	}
	return u.String(), nil
}

// insertMailbox writes a new mailbox (and its default folders) in tx.
func insertMailbox(ctx context.Context, tx *db.Tx, nm NewMailbox, guid string) (*Mailbox, error) {
	now := db.Now()
	var modseq int64
	if nm.DefaultFolders {
		modseq = 1
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO mailboxes (tenant_id, guid, kind, state, modseq, next_uidvalidity, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		nm.TenantID, guid, nm.Kind, nm.State, modseq, max(time.Now().Unix(), 1), now, now).Scan(&id)
	if db.IsUnique(err) {
		return nil, errs.Conflictf("MailboxExists", "tenant %s already has a mailbox %s", nm.TenantID, guid).WithObject(guid).
			WithHint("use the existing mailbox, or delete it first")
	}
	if err != nil {
		return nil, errs.Internalf(err, "create mailbox %s", guid)
	}
	if nm.DefaultFolders {
		m := &mutation{ctx: ctx, tx: tx, mb: id, modseq: modseq}
		for _, df := range DefaultFolders {
			if _, err := m.insertFolder("", df.Name, df.Name, FolderOptions{Class: df.Class, SpecialUse: df.SpecialUse}); err != nil {
				return nil, err
			}
		}
	}
	return &Mailbox{ID: id, TenantID: nm.TenantID, GUID: guid, Kind: nm.Kind, State: nm.State, ModSeq: modseq, CreatedAt: db.Time(now)}, nil
}

// EnsureMailboxes is EnsureMailbox for many mailboxes of a tenant (a bulk
// creation): the missing ones are created with the default folders, the
// same rows CreateMailbox writes, ensureChunk per transaction with one
// INSERT per mailbox and one for all their folders.
func (s *Store) EnsureMailboxes(ctx context.Context, tenantID string, guids []string, kind MailboxKind) error {
	norm := make([]string, len(guids))
	for i, g := range guids {
		u, err := uuid.Parse(normalizeGUID(g))
		if err != nil {
			return errs.Invalidf("InvalidMailboxGuid", "%q is not a GUID", g).WithObject(g)
		}
		norm[i] = u.String()
	}
	for lo := 0; lo < len(norm); lo += ensureChunk {
		chunk := norm[lo:min(lo+ensureChunk, len(norm))]
		if err := s.d.Write(ctx, func(tx *db.Tx) error { return ensureMailboxes(ctx, tx, tenantID, chunk, kind) }); err != nil {
			return err
		}
	}
	return nil
}

// ensureChunk is the number of mailboxes EnsureMailboxes writes per
// transaction (their folders stay under the databases' bind-variable
// limits in one INSERT).
const ensureChunk = 100

// ensureMailboxes creates the missing mailboxes of guids in tx: one query
// for the existing ones, one INSERT for the mailboxes, one for their
// folders.
func ensureMailboxes(ctx context.Context, tx *db.Tx, tenantID string, guids []string, kind MailboxKind) error {
	args := []any{tenantID}
	for _, g := range guids {
		args = append(args, g)
	}
	rows, err := tx.QueryContext(ctx, `SELECT guid FROM mailboxes WHERE tenant_id = ? AND guid IN (`+db.InList(len(guids))+`)`, args...)
	if err != nil {
		return errs.Internalf(err, "read mailboxes")
	}
	exists := map[string]bool{}
	for rows.Next() {
		var g string
		if err := rows.Scan(&g); err != nil {
			rows.Close()
			return err
		}
		exists[g] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := db.Now()
	// Folder k of a new mailbox gets UIDVALIDITY first+k, as insertFolder
	// allocates them one by one.
	first := max(time.Now().Unix(), 1)
	var mvals []string
	var margs []any
	for _, g := range guids {
		if !exists[g] {
			mvals = append(mvals, "(?, ?, ?, ?, 1, ?, ?, ?)")
			margs = append(margs, tenantID, g, kind, StateActive, first+int64(len(DefaultFolders)), now, now)
		}
	}
	if len(mvals) == 0 {
		return nil
	}
	ids, err := insertReturningIDs(ctx, tx, `INSERT INTO mailboxes (tenant_id, guid, kind, state, modseq, next_uidvalidity, created_at, updated_at)
		VALUES `+strings.Join(mvals, ", ")+` RETURNING id`, margs...)
	if err != nil {
		return errs.Internalf(err, "create mailboxes")
	}
	var vals []string
	var fargs []any
	for _, id := range ids {
		for k, df := range DefaultFolders {
			vals = append(vals, "(?, ?, '', ?, ?, ?, ?, ?, ?, ?, 1, 1, ?, ?, NULL, ?, '')")
			fargs = append(fargs, id, uuid.NewString(), df.Name, strings.ToLower(df.Name), df.Name, strings.ToLower(df.Name), df.Class, df.SpecialUse,
				first+int64(k), false, true, now)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO folders (mailbox_id, stable_id, parent_id, name, name_key, path, path_key, class, special_use,
		uidvalidity, uidnext, modseq, deleted, subscribed, origin, created_at, props) VALUES `+strings.Join(vals, ", "), fargs...)
	if err != nil {
		return errs.Internalf(err, "create default folders")
	}
	return nil
}

// insertReturningIDs runs a multi-row INSERT ... RETURNING id and returns
// the ids.
func insertReturningIDs(ctx context.Context, tx *db.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// EnsureMailbox returns the active content of a mailbox, creating it with
// the Exchange default folders when the tenant has no mailbox with that
// GUID yet (a new UserMailbox's first login, its first use as a move's
// source, its provisioning). A concurrent creation is not an error: the
// mailbox one of them created is returned. An existing mailbox is
// returned whatever its state.
func (s *Store) EnsureMailbox(ctx context.Context, tenantID, guid string, kind MailboxKind) (*Mailbox, error) {
	mb, err := s.Mailbox(ctx, tenantID, guid)
	if !errors.Is(err, ErrMailboxNotFound) {
		return mb, err
	}
	mb, err = s.CreateMailbox(ctx, NewMailbox{TenantID: tenantID, GUID: guid, Kind: kind, DefaultFolders: true})
	if errors.Is(err, ErrMailboxExists) {
		return s.Mailbox(ctx, tenantID, guid)
	}
	return mb, err
}

func validState(st MailboxState) error {
	switch st {
	case StateActive, StateLocked, StateStaging, StateRetired:
		return nil
	}
	return errs.Invalidf("InvalidMailboxState", "mailbox state %q is not active, locked, staging or retired", st)
}

// Mailbox returns the mailbox of a tenant with the given GUID.
func (s *Store) Mailbox(ctx context.Context, tenantID, guid string) (*Mailbox, error) {
	g := normalizeGUID(guid)
	if u, err := uuid.Parse(g); err == nil {
		g = u.String()
	}
	m, err := scanMailbox(s.d.Read().QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE tenant_id = ? AND guid = ?`, tenantID, g))
	if db.IsNoRows(err) {
		return nil, errMailboxNotFound(guid)
	}
	if err != nil {
		return nil, errs.Internalf(err, "read mailbox %s", guid)
	}
	return m, nil
}

// MailboxByID returns a mailbox by its internal id.
func (s *Store) MailboxByID(ctx context.Context, id int64) (*Mailbox, error) {
	m, err := scanMailbox(s.d.Read().QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id = ?`, id))
	if db.IsNoRows(err) {
		return nil, errMailboxNotFound(strconv.FormatInt(id, 10))
	}
	if err != nil {
		return nil, errs.Internalf(err, "read mailbox %d", id)
	}
	return m, nil
}

// SetMailboxState changes the state of a mailbox (locking it for a move's
// completion, activating a staged target, retiring a source). It works in
// every state and does not raise the MODSEQ; subscribers get EventMailbox.
func (s *Store) SetMailboxState(ctx context.Context, id int64, state MailboxState) error {
	if err := validState(state); err != nil {
		return err
	}
	return s.d.Write(ctx, func(tx *db.Tx) error {
		var modseq int64
		err := tx.QueryRowContext(ctx, `UPDATE mailboxes SET state = ?, updated_at = ? WHERE id = ? RETURNING modseq`, state, db.Now(), id).Scan(&modseq)
		if db.IsNoRows(err) {
			return errMailboxNotFound(strconv.FormatInt(id, 10))
		}
		if err != nil {
			return errs.Internalf(err, "set state of mailbox %d", id)
		}
		tx.AfterCommit(func() { s.hub.Publish(Event{MailboxID: id, Kind: EventMailbox, ModSeq: modseq}) })
		return nil
	})
}

// DeleteMailbox removes a mailbox with all its folders, items and
// tombstones (retention after a move). It works in every state. The blobs
// stay (they may be shared); a blob garbage collector reclaims them.
func (s *Store) DeleteMailbox(ctx context.Context, id int64) error {
	return s.d.Write(ctx, func(tx *db.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE id = ?`, id).Scan(&one)
		if db.IsNoRows(err) {
			return errMailboxNotFound(strconv.FormatInt(id, 10))
		}
		if err != nil {
			return errs.Internalf(err, "delete mailbox %d", id)
		}
		for _, q := range []string{
			`DELETE FROM tombstones WHERE mailbox_id = ?`,
			`DELETE FROM items WHERE mailbox_id = ?`,
			`DELETE FROM folders WHERE mailbox_id = ?`,
			`DELETE FROM mailboxes WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return errs.Internalf(err, "delete mailbox %d", id)
			}
		}
		tx.AfterCommit(func() { s.hub.Publish(Event{MailboxID: id, Kind: EventMailbox}) })
		return nil
	})
}

// Stats are a mailbox's totals and per-folder counts.
type Stats struct {
	MailboxID int64 // the mailbox
	ModSeq    int64 // highest MODSEQ at the snapshot
	// Folders are the live folders with Counts filled, ordered by path.
	Folders []Folder
	Total   Counts // sums over all folders
}

// Stats returns the mailbox's counts per folder and in total, from one
// consistent snapshot.
func (s *Store) Stats(ctx context.Context, mailboxID int64) (*Stats, error) {
	r, err := s.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer r.done()
	st := &Stats{MailboxID: mailboxID}
	if err := r.QueryRowContext(ctx, `SELECT modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&st.ModSeq); err != nil {
		if db.IsNoRows(err) {
			return nil, errMailboxNotFound(strconv.FormatInt(mailboxID, 10))
		}
		return nil, errs.Internalf(err, "read mailbox %d", mailboxID)
	}
	fs, err := listFolders(ctx, r, mailboxID, true)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		st.Total.Messages += f.Counts.Messages
		st.Total.Bytes += f.Counts.Bytes
		st.Total.Unseen += f.Counts.Unseen
	}
	st.Folders = fs
	return st, nil
}

// folderCounts computes per-folder counts of a mailbox (or of one folder
// when folderID is not 0), grouped by flag string so few rows come back.
func folderCounts(ctx context.Context, q db.Querier, mailboxID, folderID int64) (map[int64]Counts, error) {
	query := `SELECT folder_id, flags, COUNT(*), COALESCE(SUM(size), 0) FROM items WHERE mailbox_id = ?`
	args := []any{mailboxID}
	if folderID != 0 {
		query += ` AND folder_id = ?`
		args = append(args, folderID)
	}
	rows, err := q.QueryContext(ctx, query+` GROUP BY folder_id, flags`, args...)
	if err != nil {
		return nil, errs.Internalf(err, "count items of mailbox %d", mailboxID)
	}
	defer rows.Close()
	out := map[int64]Counts{}
	for rows.Next() {
		var fid, n, bytes int64
		var flags string
		if err := rows.Scan(&fid, &flags, &n, &bytes); err != nil {
			return nil, errs.Internalf(err, "count items of mailbox %d", mailboxID)
		}
		c := out[fid]
		c.Messages += n
		c.Bytes += bytes
		if !HasFlag(parseFlags(flags), FlagSeen) {
			c.Unseen += n
		}
		out[fid] = c
	}
	return out, rows.Err()
}

func sortFolders(fs []Folder) {
	// Children sort right after their parent: compare paths with the
	// delimiter as the smallest character.
	key := func(p string) string { return strings.ReplaceAll(strings.ToLower(p), Delimiter, "\x00") }
	sort.Slice(fs, func(i, j int) bool {
		a, b := key(fs[i].Path), key(fs[j].Path)
		if a != b {
			return a < b
		}
		return fs[i].ID < fs[j].ID
	})
}
