// Package imapsrc is the IMAP connector of the replication engine: any IMAP
// server (tested with Dovecot) as the source of a migration into a user's
// existing mailbox.
//
// An IMAP server has no change feed the engine could page through: no
// stable item ids across folders, no folder ids, UIDs that are only valid
// under a folder's UIDVALIDITY, and a MODSEQ (CONDSTORE) that is per folder
// and optional. The connector therefore keeps a per-move mirror of the
// source in the target database (imap_folders, imap_items): every folder
// and message the server showed at the last scan, each with a synthetic id
// and a synthetic MODSEQ from one per-move counter (imap_mirror). State
// scans the server and writes the differences into the mirror under a new
// MODSEQ; Folders, Items, Deletions and Manifest then read the mirror
// exactly like the native connector reads a source's change log, and the
// unchanged engine does the writing (chunks, one fsync per chunk,
// watermarks in the chunk's transaction, idempotent origin keys "imap:ID",
// bounded memory, skipped items). The Source interface fits: the engine
// only needs a totally ordered feed of item states and tombstones, which
// the mirror provides; nothing IMAP-specific leaks into the engine except
// two options (Job.AdoptFolders, Job.OriginPrefix) and the HashRecorder
// hook.
//
// A scan: LIST (with SPECIAL-USE and LIST-STATUS when offered, else STATUS
// per folder); folders matched by name, a vanished folder whose UIDVALIDITY
// reappears under a new name is a rename (same synthetic id); then per
// changed folder, read-only (EXAMINE): flag changes by UID FETCH FLAGS
// CHANGEDSINCE when CONDSTORE is offered (else UID FETCH FLAGS over the
// known UIDs, page by page), expunges by UID SEARCH ALL against the mirror,
// new messages by UID FETCH from the recorded UIDNEXT with their size,
// internal date and Message-ID/Subject header fields. A UIDVALIDITY change
// makes every message of the folder new and every old one gone. New
// messages are matched to gone ones by (Message-ID, size, internal date),
// unique on both sides: a match is a move (or a UIDVALIDITY reset) and
// keeps its synthetic id, so the target item moves instead of being copied
// again. Folders with \All or \Flagged (virtual views such as Gmail's All
// Mail) are not migrated.
//
// Invariants:
//   - The server is only read: EXAMINE, FETCH BODY.PEEK[], never a flag
//     change, so \Seen and \Recent on the source are untouched.
//   - Every mirror row written by a scan carries a MODSEQ allocated (and
//     committed) before the row; the counter only grows. A scan killed half
//     way leaves a consistent prefix: a folder's recorded UIDNEXT and
//     HIGHESTMODSEQ advance only after the rows they cover, and new
//     messages already in the mirror are not inserted twice.
//   - An item's SHA-256 is recorded in the engine's chunk transaction
//     (HashRecorder), so the mirror knows the hash of exactly the content
//     the target committed; verification compares the mirror's hashes per
//     folder with the target's items of this connector's origins.
//   - Memory is bounded by page sizes (mirror pages of pageUIDs, engine
//     pages), never by a folder or mailbox; message bodies stream from the
//     IMAP literal into the blob store.
package imapsrc

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// OriginPrefix is the origin-key prefix of items copied by this connector
// (their synthetic ids are unique across moves).
const OriginPrefix = "imap:"

// folderPrefix prefixes the synthetic folder ids (the target folders'
// origins).
const folderPrefix = "imapf:"

func folderID(id int64) string {
	if id == 0 {
		return ""
	}
	return folderPrefix + strconv.FormatInt(id, 10)
}

// Source is the IMAP connector of one move: a replication.Source over the
// move's mirror, and the IMAP connection that keeps the mirror current.
// Use it for one pass at a time; Close it afterwards.
type Source struct {
	d        *db.DB
	moveID   string
	srv      Server
	user     string
	password string
	log      *slog.Logger
	// OnScan, when set, is called after every scan with the number and
	// total size of the live messages the server holds.
	OnScan func(items, bytes int64)
	// Filter, when set, limits Manifest to the folders and dates it
	// selects (the move's selection, which verification compares).
	Filter *replication.Filter

	mu         sync.Mutex
	conn       *conn
	selected   string // folder selected (EXAMINE) on conn
	selectedUV uint32 // its UIDVALIDITY
}

var (
	_ replication.Source       = (*Source)(nil)
	_ replication.HashRecorder = (*Source)(nil)
)

// New returns the connector of a move reading srv as user.
func New(d *db.DB, moveID string, srv Server, user, password string, log *slog.Logger) *Source {
	if log == nil {
		log = slog.Default()
	}
	return &Source{d: d, moveID: moveID, srv: srv, user: user, password: password, log: log}
}

// client returns the logged-in connection, connecting on first use and
// after a broken one.
func (s *Source) client(ctx context.Context) (*conn, error) {
	if s.conn != nil {
		select {
		case <-s.conn.c.Closed():
			s.conn, s.selected = nil, ""
		default:
			return s.conn, nil
		}
	}
	c, err := dial(ctx, s.srv)
	if err != nil {
		return nil, err
	}
	if err := c.login(ctx, s.user, s.password); err != nil {
		c.c.Close()
		return nil, err
	}
	s.conn, s.selected = c, ""
	return c, nil
}

// broken turns an IMAP failure into a coded error and drops the
// connection, so the next call reconnects.
func (s *Source) broken(ctx context.Context, what string, err error) error {
	if s.conn != nil {
		s.conn.c.Close()
		s.conn, s.selected = nil, ""
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if e := errs.As(err); e != nil {
		return e
	}
	return unreachable(s.srv.URL, "%s on %s for %s failed", what, s.srv.URL, s.user).WithCause(err)
}

// Close logs out.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	c := s.conn
	s.conn = nil
	done := make(chan struct{})
	go func() {
		c.c.Logout().Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-c.c.Closed():
	}
	return c.c.Close()
}

// State scans the server into the mirror and returns the mirror's state.
func (s *Source) State(ctx context.Context, guid string) (*replication.StateReply, error) {
	s.mu.Lock()
	err := s.scan(ctx)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	st := &replication.StateReply{Guid: guid, Kind: string(mailstore.KindPrimary)}
	q := s.d.Read()
	err = q.QueryRowContext(ctx, `SELECT modseq FROM imap_mirror WHERE move_id = ?`, s.moveID).Scan(&st.HighestModSeq)
	if err != nil && !db.IsNoRows(err) {
		return nil, errs.Internalf(err, "read the IMAP mirror of move %s", s.moveID)
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM imap_items WHERE move_id = ? AND deleted = ?`,
		s.moveID, false).Scan(&st.Items, &st.Bytes); err != nil {
		return nil, errs.Internalf(err, "count the IMAP mirror of move %s", s.moveID)
	}
	if s.OnScan != nil {
		s.OnScan(st.Items, st.Bytes)
	}
	return st, nil
}

// Folders returns the mirror's folders whose hierarchy record changed
// after since, deleted ones included.
func (s *Source) Folders(ctx context.Context, guid string, since int64) (*replication.FoldersReply, error) {
	out := &replication.FoldersReply{Folders: []replication.FolderInfo{}}
	q := s.d.Read()
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(modseq), 0) FROM imap_mirror WHERE move_id = ?`, s.moveID).Scan(&out.State); err != nil {
		return nil, errs.Internalf(err, "read the IMAP mirror of move %s", s.moveID)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, parent_id, leaf, special_use, deleted, modseq FROM imap_folders
		WHERE move_id = ? AND modseq > ? ORDER BY modseq, id`, s.moveID, since)
	if err != nil {
		return nil, errs.Internalf(err, "list the IMAP mirror's folders")
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent int64
		f := replication.FolderInfo{Class: mailstore.ClassNote}
		if err := rows.Scan(&id, &parent, &f.Name, &f.SpecialUse, &f.Deleted, &f.ModSeq); err != nil {
			return nil, errs.Internalf(err, "list the IMAP mirror's folders")
		}
		f.Id, f.ParentId = folderID(id), folderID(parent)
		out.Folders = append(out.Folders, f)
	}
	return out, rows.Err()
}

// after returns the (modseq, id) bound strictly after a cursor (an id of 0
// means every change up to the MODSEQ).
func after(c replication.Cursor) (int64, int64) {
	if c.Id == 0 {
		return c.ModSeq, math.MaxInt64
	}
	return c.ModSeq, c.Id
}

func uptoOrMax(upto int64) int64 {
	if upto <= 0 {
		return math.MaxInt64
	}
	return upto
}

// Items returns a page of live mirror items changed after the cursor, up to
// a MODSEQ, in (MODSEQ, id) order.
func (s *Source) Items(ctx context.Context, guid string, cur replication.Cursor, upto int64, limit int, detailOver int64) (*replication.ItemsReply, error) {
	am, aid := after(cur)
	rows, err := s.d.Read().QueryContext(ctx, `SELECT id, folder_id, flags, internal_date, size, sha256, modseq, subject FROM imap_items
		WHERE move_id = ? AND deleted = ? AND (modseq > ? OR (modseq = ? AND id > ?)) AND modseq <= ? ORDER BY modseq, id LIMIT ?`,
		s.moveID, false, am, am, aid, uptoOrMax(upto), limit)
	if err != nil {
		return nil, errs.Internalf(err, "list the IMAP mirror's items")
	}
	defer rows.Close()
	out := &replication.ItemsReply{Items: []replication.ItemInfo{}, Next: cur}
	for rows.Next() {
		var it replication.ItemInfo
		var folder int64
		var flags, subject string
		if err := rows.Scan(&it.Id, &folder, &flags, &it.InternalDate, &it.Size, &it.Sha256, &it.ModSeq, &subject); err != nil {
			return nil, errs.Internalf(err, "list the IMAP mirror's items")
		}
		it.Folder = folderID(folder)
		if flags != "" {
			it.Flags = strings.Split(flags, " ")
		}
		if detailOver > 0 && it.Size > detailOver {
			it.Subject = subject
		}
		out.Items = append(out.Items, it)
		out.Next = replication.Cursor{ModSeq: it.ModSeq, Id: it.Id}
	}
	out.More = len(out.Items) == limit
	return out, rows.Err()
}

// Deletions returns a page of ids of mirror items expunged after the
// cursor, up to a MODSEQ.
func (s *Source) Deletions(ctx context.Context, guid string, cur replication.Cursor, upto int64, limit int) (*replication.DeletionsReply, error) {
	am, aid := after(cur)
	rows, err := s.d.Read().QueryContext(ctx, `SELECT id, modseq FROM imap_items
		WHERE move_id = ? AND deleted = ? AND (modseq > ? OR (modseq = ? AND id > ?)) AND modseq <= ? ORDER BY modseq, id LIMIT ?`,
		s.moveID, true, am, am, aid, uptoOrMax(upto), limit)
	if err != nil {
		return nil, errs.Internalf(err, "list the IMAP mirror's deletions")
	}
	defer rows.Close()
	out := &replication.DeletionsReply{Ids: []int64{}, Next: cur}
	for rows.Next() {
		var id, m int64
		if err := rows.Scan(&id, &m); err != nil {
			return nil, errs.Internalf(err, "list the IMAP mirror's deletions")
		}
		out.Ids = append(out.Ids, id)
		out.Next = replication.Cursor{ModSeq: m, Id: id}
	}
	out.More = len(out.Ids) == limit
	return out, rows.Err()
}

// Manifest summarises the mirror per live folder: message count, bytes and
// the digest of the recorded content hashes (a message whose content was
// never copied counts with an empty hash).
func (s *Source) Manifest(ctx context.Context, guid string) (*replication.ManifestReply, error) {
	q := s.d.Read()
	out := &replication.ManifestReply{Folders: []replication.FolderManifest{}}
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(modseq), 0) FROM imap_mirror WHERE move_id = ?`, s.moveID).Scan(&out.HighestModSeq); err != nil {
		return nil, errs.Internalf(err, "read the IMAP mirror of move %s", s.moveID)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM imap_folders WHERE move_id = ? AND deleted = ? ORDER BY id`, s.moveID, false)
	if err != nil {
		return nil, errs.Internalf(err, "list the IMAP mirror's folders")
	}
	type folder struct {
		id   int64
		name string
	}
	var fs []folder
	for rows.Next() {
		var f folder
		if err := rows.Scan(&f.id, &f.name); err != nil {
			rows.Close()
			return nil, errs.Internalf(err, "list the IMAP mirror's folders")
		}
		fs = append(fs, f)
	}
	rows.Close()
	selected, err := s.selectedFolders(ctx, guid)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if selected != nil && !selected[folderID(f.id)] {
			continue
		}
		rows, err := q.QueryContext(ctx, `SELECT sha256, size, internal_date FROM imap_items WHERE folder_id = ? AND deleted = ?`, f.id, false)
		if err != nil {
			return nil, errs.Internalf(err, "list the IMAP mirror's items")
		}
		fm := replication.FolderManifest{Folder: folderID(f.id), Path: f.name}
		var hs []string
		for rows.Next() {
			var h string
			var size, date int64
			if err := rows.Scan(&h, &size, &date); err != nil {
				rows.Close()
				return nil, errs.Internalf(err, "list the IMAP mirror's items")
			}
			if !s.Filter.DateOK(db.Time(date)) {
				continue
			}
			hs = append(hs, h)
			fm.Count++
			fm.Bytes += size
		}
		rows.Close()
		fm.Digest = replication.Digest(hs)
		out.Folders = append(out.Folders, fm)
	}
	return out, nil
}

// selectedFolders returns the ids of the folders the Filter selects, nil
// for all.
func (s *Source) selectedFolders(ctx context.Context, guid string) (map[string]bool, error) {
	if s.Filter.Empty() {
		return nil, nil
	}
	fr, err := s.Folders(ctx, guid, 0)
	if err != nil {
		return nil, err
	}
	var live []replication.FolderInfo
	for _, f := range fr.Folders {
		if !f.Deleted {
			live = append(live, f)
		}
	}
	return s.Filter.ItemFolders(live), nil
}

// RecordHashes records the SHA-256 of copied content in the mirror, in the
// engine's chunk transaction.
func (s *Source) RecordHashes(tx *db.Tx, guid string, hashes map[int64]string) error {
	ctx := context.Background()
	for id, h := range hashes {
		if _, err := tx.ExecContext(ctx, `UPDATE imap_items SET sha256 = ? WHERE id = ? AND move_id = ?`, h, id, s.moveID); err != nil {
			return errs.Internalf(err, "record the hash of IMAP item %d", id)
		}
	}
	return nil
}

// Forget removes a move's mirror (after completion or removal of its
// batch); the move's report keeps what it did.
func Forget(ctx context.Context, tx *db.Tx, moveID string) error {
	for _, t := range []string{"imap_items", "imap_folders", "imap_mirror"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE move_id = ?`, moveID); err != nil {
			return errs.Internalf(err, "remove the IMAP mirror of move %s", moveID)
		}
	}
	return nil
}

// Mirrored reports whether the move has mirror state (folders seen on the
// IMAP source), through q.
func Mirrored(ctx context.Context, q db.Querier, moveID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM imap_mirror WHERE move_id = ?`, moveID).Scan(&n); err != nil {
		return false, errs.Internalf(err, "read the IMAP mirror of move %s", moveID)
	}
	return n > 0, nil
}

// LiveOrigins returns the target origin keys (OriginPrefix + item id) of
// the move's items the IMAP source still has, through q.
func LiveOrigins(ctx context.Context, q db.Querier, moveID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM imap_items WHERE move_id = ? AND deleted = ?`, moveID, false)
	if err != nil {
		return nil, errs.Internalf(err, "read the IMAP items of move %s", moveID)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, errs.Internalf(err, "read the IMAP items of move %s", moveID)
		}
		out = append(out, OriginPrefix+strconv.FormatInt(id, 10))
	}
	return out, rows.Err()
}
