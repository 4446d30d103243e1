package mailstore

import (
	"context"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Named items are the calendar, task and contact objects of a mailbox: items
// of IPF.Appointment, IPF.Task and IPF.Contact folders that carry a resource
// name (the last segment of their CalDAV/CardDAV URL) and an object UID.
// They share everything with mail: blob store, MODSEQ, change feed and
// tombstones. A new version of an object is a new item that replaces the old
// one (which leaves a tombstone) in one mutation, so a change feed consumer
// sees a creation and a deletion, never content changing under an item id.
//
// Within a live folder, PutNamed keeps resource names and object UIDs
// unique (the mailbox row lock serialises the check and the write). The
// database does not declare them unique: replication writes an object's new
// version before it applies the deletion of the old one, so a move target
// may hold both for the length of a pass; lookups then see the newest.

// Errors of the named-item operations.
var (
	// ErrObjectUIDConflict: another object of the collection has the UID.
	ErrObjectUIDConflict = errs.Sentinel(errs.Conflict, "ObjectUIDConflict")
	// ErrSyncTokenExpired: the changes since a MODSEQ can no longer be
	// listed because the tombstones they need were purged.
	ErrSyncTokenExpired = errs.Sentinel(errs.Conflict, "SyncTokenExpired")
	// ErrInvalidObjectName: a resource name or object UID is not usable.
	ErrInvalidObjectName = errs.Sentinel(errs.Invalid, "InvalidObjectName")
)

// maxObjectKey bounds a resource name and an object UID, in bytes.
const maxObjectKey = 512

// validObjectKeys checks a resource name and an object UID ("" allowed).
func validObjectKeys(name, uid string) error {
	for _, v := range []struct{ what, s string }{{"resource name", name}, {"object UID", uid}} {
		if v.s == "" {
			continue
		}
		bad := len(v.s) > maxObjectKey || !utf8.ValidString(v.s)
		for _, r := range v.s {
			bad = bad || r < 0x20 || r == 0x7f
		}
		if v.what == "resource name" {
			bad = bad || strings.Contains(v.s, "/") || v.s == "." || v.s == ".."
		}
		if bad {
			return ErrInvalidObjectName.Newf("the %s %q is not valid", v.what, v.s).WithObject(v.s).
				WithHint("use at most %d bytes of UTF-8 text without control characters (and no '/' in a name)", maxObjectKey)
		}
	}
	return nil
}

// NamedPut is one object to store with PutNamed.
type NamedPut struct {
	FolderID  int64     // the collection's folder
	Name      string    // resource name in the folder (required)
	ObjectUID string    // the object's UID (required)
	Content   io.Reader // the raw bytes, stored exactly as read
	Subject   string    // display text (summary, contact name) for listings
	// InternalDate defaults to now.
	InternalDate time.Time
	// Check, when not nil, runs inside the write transaction with the
	// live item of that name (nil if there is none) before anything
	// changes: an error aborts the put and is returned (preconditions).
	Check func(existing *Item) error
}

// PutNamed stores an object under its resource name in a folder, replacing
// the item of that name (which leaves a tombstone), with one fsync, one
// transaction and one MODSEQ. It returns the new item and the replaced one
// (nil for a creation). Another live item of the folder with the same
// ObjectUID under another name is an ErrObjectUIDConflict whose Object is
// that item's name; nothing is written on any error.
func (s *Store) PutNamed(ctx context.Context, mailboxID int64, p NamedPut) (*Item, *Item, error) {
	if p.Name == "" || p.ObjectUID == "" {
		return nil, nil, ErrInvalidObjectName.Newf("an object needs a resource name and a UID").WithHint("give the object a UID property")
	}
	if err := validObjectKeys(p.Name, p.ObjectUID); err != nil {
		return nil, nil, err
	}
	if p.Content == nil {
		return nil, nil, errs.Invalidf("NoContent", "object %q has no content", p.Name)
	}
	internal := time.Now()
	if !p.InternalDate.IsZero() {
		internal = p.InternalDate
	}
	blobs := s.blobs.NewBatch()
	defer blobs.Close()
	ref, err := blobs.Add(&captureReader{r: p.Content, max: s.MaxItemSize})
	if err != nil {
		return nil, nil, err
	}
	if err := blobs.Sync(); err != nil {
		return nil, nil, err
	}
	var created, replaced *Item
	err = s.mutate(ctx, mailboxID, func(m *mutation) error {
		created, replaced = nil, nil
		f, err := liveFolder(ctx, m.tx, mailboxID, p.FolderID)
		if err != nil {
			return err
		}
		old, err := scanItemRows(ctx, m.tx, `SELECT `+itemRowCols+` FROM items WHERE folder_id = ? AND name = ? ORDER BY id DESC`, f.ID, p.Name)
		if err != nil {
			return err
		}
		if len(old) > 0 {
			replaced = rowItem(old[0], mailboxID)
		}
		if p.Check != nil {
			if err := p.Check(replaced); err != nil {
				return err
			}
		}
		var other string
		err = m.tx.QueryRowContext(ctx, `SELECT name FROM items WHERE folder_id = ? AND obj_uid = ? AND name <> ? LIMIT 1`, f.ID, p.ObjectUID, p.Name).Scan(&other)
		if err == nil {
			return ErrObjectUIDConflict.Newf("another object (%s) in %q already has the UID %q", other, f.Path, p.ObjectUID).WithObject(other).
				WithHint("update that object instead, or give this one a new UID")
		}
		if !db.IsNoRows(err) {
			return errs.Internalf(err, "check object UID")
		}
		if err := blobs.Commit(ctx, m.tx); err != nil {
			return err
		}
		if err := m.removeRows(old); err != nil {
			return err
		}
		first, _, err := m.allocUIDs(f.ID, 1)
		if err != nil {
			return err
		}
		row := itemRow{folderID: f.ID, uid: first, modseq: m.modseq, internalDate: internal.UnixMilli(), size: ref.Size, sha256: ref.SHA256,
			subject: p.Subject, name: p.Name, objectUID: p.ObjectUID}
		rows := []itemRow{row}
		if err := m.insertRows(rows); err != nil {
			return err
		}
		m.emitByFolder(EventAppended, rows, true)
		created = rowItem(rows[0], mailboxID)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return created, replaced, nil
}

// rowItem converts a write-path row to an Item.
func rowItem(r itemRow, mailboxID int64) *Item {
	return &Item{ID: r.id, MailboxID: mailboxID, FolderID: r.folderID, UID: r.uid, ModSeq: r.modseq, Flags: parseFlags(r.flags),
		InternalDate: db.Time(r.internalDate), Size: r.size, SHA256: r.sha256, Origin: r.origin, Subject: r.subject,
		MessageID: r.messageID, From: r.from, SentDate: db.Time(r.sentDate), Name: r.name, ObjectUID: r.objectUID}
}

// DeleteNamed removes the object with a resource name from a folder (a
// tombstone carrying the name is left). check, when not nil, runs in the
// transaction with the item first (preconditions). A name that is not
// there is ErrItemNotFound.
func (s *Store) DeleteNamed(ctx context.Context, mailboxID, folderID int64, name string, check func(existing *Item) error) error {
	return s.mutate(ctx, mailboxID, func(m *mutation) error {
		if _, err := liveFolder(ctx, m.tx, mailboxID, folderID); err != nil {
			return err
		}
		rows, err := scanItemRows(ctx, m.tx, `SELECT `+itemRowCols+` FROM items WHERE folder_id = ? AND name = ? ORDER BY id DESC`, folderID, name)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return ErrItemNotFound.Newf("object %q does not exist", name).WithObject(name).WithHint("list the collection to see its objects")
		}
		if check != nil {
			if err := check(rowItem(rows[0], mailboxID)); err != nil {
				return err
			}
		}
		return m.removeRows(rows)
	})
}

// ItemByName returns the live item with a resource name in a folder (the
// newest, should replication hold two for a moment), or ErrItemNotFound.
func (s *Store) ItemByName(ctx context.Context, mailboxID, folderID int64, name string) (*Item, error) {
	items, err := scanItems(ctx, s.d.Read(), `SELECT `+itemCols+` FROM items WHERE folder_id = ? AND mailbox_id = ? AND name = ? ORDER BY id DESC LIMIT 1`,
		folderID, mailboxID, name)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, ErrItemNotFound.Newf("object %q does not exist", name).WithObject(name).WithHint("list the collection to see its objects")
	}
	return &items[0], nil
}

// NamedItems returns the live named items of a folder ordered by name, one
// per name (the newest).
func (s *Store) NamedItems(ctx context.Context, mailboxID, folderID int64) ([]Item, error) {
	if _, err := liveFolder(ctx, s.d.Read(), mailboxID, folderID); err != nil {
		return nil, err
	}
	items, err := scanItems(ctx, s.d.Read(), `SELECT `+itemCols+` FROM items WHERE folder_id = ? AND mailbox_id = ? AND name IS NOT NULL ORDER BY name, id DESC`,
		folderID, mailboxID)
	if err != nil {
		return nil, err
	}
	return newestPerName(items), nil
}

// newestPerName keeps the first item of each run of equal names.
func newestPerName(items []Item) []Item {
	out := items[:0]
	for i, it := range items {
		if i > 0 && it.Name == items[i-1].Name {
			continue
		}
		out = append(out, it)
	}
	return out
}

// FolderSync is what changed in a folder since a MODSEQ (RFC 6578
// sync-collection).
type FolderSync struct {
	// Changed are the live named items created or changed after the
	// MODSEQ, one per name, ordered by name.
	Changed []Item
	// Removed are the names whose items were removed or moved away after
	// the MODSEQ and that no live item carries now, sorted.
	Removed []string
	// Token is the MODSEQ to pass next time: every change of the folder
	// up to it is reflected.
	Token int64
}

// SyncFolder lists the named items of a live folder that changed after
// since (0: all of them) and the names removed, from one consistent
// snapshot. A since older than the mailbox's purged tombstones, or newer
// than its MODSEQ, is ErrSyncTokenExpired (the caller starts over with 0).
func (s *Store) SyncFolder(ctx context.Context, mailboxID, folderID, since int64) (*FolderSync, error) {
	r, err := s.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer r.done()
	var purged, high int64
	if err := r.QueryRowContext(ctx, `SELECT tombstones_purged, modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&purged, &high); err != nil {
		if db.IsNoRows(err) {
			return nil, errMailboxNotFound(strconv.FormatInt(mailboxID, 10))
		}
		return nil, errs.Internalf(err, "read mailbox %d", mailboxID)
	}
	if since > 0 && (since < purged || since > high) {
		return nil, ErrSyncTokenExpired.Newf("the changes since %d are not recorded (tombstones purged up to %d, MODSEQ now %d)", since, purged, high).
			WithHint("synchronise the collection again from the start")
	}
	f, err := liveFolder(ctx, r, mailboxID, folderID)
	if err != nil {
		return nil, err
	}
	out := &FolderSync{}
	if out.Token, err = folderTop(ctx, r, f); err != nil {
		return nil, err
	}
	out.Token = max(out.Token, since)
	items, err := scanItems(ctx, r, `SELECT `+itemCols+` FROM items WHERE folder_id = ? AND modseq > ? AND name IS NOT NULL ORDER BY name, id DESC`, folderID, since)
	if err != nil {
		return nil, err
	}
	out.Changed = newestPerName(items)
	if since > 0 {
		if out.Removed, err = removedNames(ctx, r, folderID, since); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// removedNames lists the names removed from a folder after since that no
// live item has, sorted.
func removedNames(ctx context.Context, q db.Querier, folderID, since int64) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT t.name FROM tombstones t WHERE t.folder_id = ? AND t.modseq > ? AND t.name IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM items i WHERE i.folder_id = t.folder_id AND i.name = t.name)`, folderID, since)
	if err != nil {
		return nil, errs.Internalf(err, "list removed objects")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, errs.Internalf(err, "list removed objects")
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "list removed objects")
	}
	sort.Strings(out)
	return out, nil
}

// folderTop is the MODSEQ of a folder's latest change: its own record, an
// item in it, or a removal from it.
func folderTop(ctx context.Context, q db.Querier, f *Folder) (int64, error) {
	var a, b int64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(modseq), 0) FROM items WHERE folder_id = ?`, f.ID).Scan(&a); err != nil {
		return 0, errs.Internalf(err, "read folder %q", f.Path)
	}
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(modseq), 0) FROM tombstones WHERE folder_id = ?`, f.ID).Scan(&b); err != nil {
		return 0, errs.Internalf(err, "read folder %q", f.Path)
	}
	return max(f.ModSeq, a, b), nil
}

// FolderToken returns the MODSEQ of a live folder's latest change: its
// own record, an item in it, or a removal from it (a CalDAV/CardDAV
// collection's sync token and CTag).
func (s *Store) FolderToken(ctx context.Context, mailboxID, folderID int64) (int64, error) {
	r, err := s.beginRead(ctx)
	if err != nil {
		return 0, err
	}
	defer r.done()
	f, err := liveFolder(ctx, r, mailboxID, folderID)
	if err != nil {
		return 0, err
	}
	return folderTop(ctx, r, f)
}

// PurgeMailboxTombstones deletes the mailbox's tombstones with a MODSEQ up to
// upto and records that it did: SyncFolder answers ErrSyncTokenExpired for
// an older MODSEQ from then on. It does not raise the MODSEQ.
func (s *Store) PurgeMailboxTombstones(ctx context.Context, mailboxID, upto int64) (int64, error) {
	var n int64
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE mailbox_id = ? AND modseq <= ?`, mailboxID, upto)
		if err != nil {
			return errs.Internalf(err, "purge tombstones of mailbox %d", mailboxID)
		}
		n, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET tombstones_purged = ? WHERE id = ? AND tombstones_purged < ?`, upto, mailboxID, upto); err != nil {
			return errs.Internalf(err, "purge tombstones of mailbox %d", mailboxID)
		}
		return nil
	})
	return n, err
}

// SetFolderProps sets (value ≠ "") or removes (value "") collection
// properties of a live folder. The folder's MODSEQ is raised when something
// changes, so replication carries the change.
func (s *Store) SetFolderProps(ctx context.Context, mailboxID, folderID int64, set map[string]string) (*Folder, error) {
	var out *Folder
	err := s.mutate(ctx, mailboxID, func(m *mutation) error {
		f, err := liveFolder(ctx, m.tx, mailboxID, folderID)
		if err != nil {
			return err
		}
		out = f
		next := map[string]string{}
		for k, v := range f.Props {
			next[k] = v
		}
		for k, v := range set {
			if v == "" {
				delete(next, k)
			} else {
				next[k] = v
			}
		}
		if err := validProps(next); err != nil {
			return err
		}
		ns := propString(next)
		if ns == propString(f.Props) {
			return nil
		}
		if _, err := m.tx.ExecContext(ctx, `UPDATE folders SET props = ?, modseq = ? WHERE id = ?`, ns, m.modseq, folderID); err != nil {
			return errs.Internalf(err, "set properties of folder %q", f.Path)
		}
		m.changed = true
		m.emit(Event{Kind: EventFolders, FolderID: folderID})
		out.Props, out.ModSeq = parseProps(ns), m.modseq
		return nil
	})
	return out, err
}

// maxProps bounds the stored properties of one folder (bytes of JSON).
const maxProps = 64 << 10

func validProps(p map[string]string) error {
	size := 0
	for k, v := range p {
		size += len(k) + len(v)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return errs.Invalidf("InvalidFolderProps", "folder property %q is not valid UTF-8 text", k).WithHint("send UTF-8 property names and values")
		}
	}
	if size > maxProps {
		return errs.New(errs.TooLarge, "FolderPropsTooLarge", "the folder's properties exceed %d bytes", maxProps).
			WithHint("store shorter property values")
	}
	return nil
}

// propString renders properties canonically ("" for none): JSON with
// sorted keys.
func propString(p map[string]string) string {
	if len(p) == 0 {
		return ""
	}
	b, _ := json.Marshal(p) // map keys are sorted
	return string(b)
}

func parseProps(s string) map[string]string {
	if s == "" {
		return nil
	}
	var p map[string]string
	if json.Unmarshal([]byte(s), &p) != nil || len(p) == 0 {
		return nil
	}
	return p
}

// CountByClass counts the items of a tenant's mailboxes with the given
// GUIDs per folder class (ClassNote, ClassAppointment, ...), through q (a
// caller's transaction, or the reader). Unknown GUIDs count nothing.
func CountByClass(ctx context.Context, q db.Querier, tenantID string, guids ...string) (map[string]int64, error) {
	out := map[string]int64{}
	if len(guids) == 0 {
		return out, nil
	}
	args := []any{tenantID}
	for _, g := range guids {
		args = append(args, normalizeGUID(g))
	}
	rows, err := q.QueryContext(ctx, `SELECT f.class, COUNT(*) FROM items i JOIN mailboxes b ON b.id = i.mailbox_id JOIN folders f ON f.id = i.folder_id
		WHERE b.tenant_id = ? AND b.guid IN (`+db.InList(len(guids))+`) GROUP BY f.class`, args...)
	if err != nil {
		return nil, errs.Internalf(err, "count items by class")
	}
	defer rows.Close()
	for rows.Next() {
		var class string
		var n int64
		if err := rows.Scan(&class, &n); err != nil {
			return nil, errs.Internalf(err, "count items by class")
		}
		out[class] = n
	}
	return out, rows.Err()
}

// CountOrigins counts the items of the tenant's mailbox guid whose origin
// key is one of origins, through q (the items_origin index; origins are
// looked up 500 at a time).
func CountOrigins(ctx context.Context, q db.Querier, tenantID, guid string, origins []string) (int64, error) {
	var mbID int64
	err := q.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE tenant_id = ? AND guid = ?`, tenantID, normalizeGUID(guid)).Scan(&mbID)
	if db.IsNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, errs.Internalf(err, "count items by origin")
	}
	var total int64
	for start := 0; start < len(origins); start += 500 {
		chunk := origins[start:min(start+500, len(origins))]
		args := []any{mbID}
		for _, o := range chunk {
			args = append(args, o)
		}
		var n int64
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE mailbox_id = ? AND origin IN (`+db.InList(len(chunk))+`)`, args...).Scan(&n); err != nil {
			return 0, errs.Internalf(err, "count items by origin")
		}
		total += n
	}
	return total, nil
}

// LockedState reads the state of the tenant's mailbox guid inside the
// caller's transaction, locking its row on PostgreSQL (SELECT ... FOR
// UPDATE) so that a state change waits for the transaction. found is
// false when there is no such mailbox.
func LockedState(ctx context.Context, tx *db.Tx, tenantID, guid string) (st MailboxState, found bool, err error) {
	q := `SELECT state FROM mailboxes WHERE tenant_id = ? AND guid = ?`
	if tx.DB().Dialect == db.Postgres {
		q += ` FOR UPDATE`
	}
	var s string
	err = tx.QueryRowContext(ctx, q, tenantID, normalizeGUID(guid)).Scan(&s)
	if db.IsNoRows(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, errs.Internalf(err, "read mailbox state")
	}
	return MailboxState(s), true, nil
}
