package mailstore

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// DefaultChangeLimit is the page size ItemChanges and Tombstones use when
// given a limit ≤ 0.
const DefaultChangeLimit = 1000

// HighestModSeq returns the mailbox's current MODSEQ. Every change with a
// MODSEQ up to it is committed and visible.
func (s *Store) HighestModSeq(ctx context.Context, mailboxID int64) (int64, error) {
	var m int64
	err := s.d.Read().QueryRowContext(ctx, `SELECT modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&m)
	if db.IsNoRows(err) {
		return 0, errMailboxNotFound(strconv.FormatInt(mailboxID, 10))
	}
	if err != nil {
		return 0, errs.Internalf(err, "read mailbox %d", mailboxID)
	}
	return m, nil
}

// FolderChanges returns the folders, deleted ones included, whose hierarchy
// record changed after sinceModSeq, ordered by (MODSEQ, id).
func (s *Store) FolderChanges(ctx context.Context, mailboxID, sinceModSeq int64) ([]Folder, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT `+folderCols+` FROM folders WHERE mailbox_id = ? AND modseq > ? ORDER BY modseq, id`, mailboxID, sinceModSeq)
	if err != nil {
		return nil, errs.Internalf(err, "list folder changes of mailbox %d", mailboxID)
	}
	defer rows.Close()
	var out []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, errs.Internalf(err, "list folder changes of mailbox %d", mailboxID)
		}
		out = append(out, *f)
	}
	return out, rows.Err()
}

// ItemChange is the current state of an item that changed (created, flags
// changed, or moved: the folder and UID are the new ones).
type ItemChange struct {
	ItemID         int64     // stable item id
	FolderID       int64     // current folder (internal id)
	FolderStableID string    // current folder (stable id)
	UID            uint32    // UID in the current folder
	Flags          []string  // shared: do not modify
	InternalDate   time.Time // IMAP internal date
	Size           int64     // size of the raw bytes
	SHA256         string    // hex SHA-256 of the raw bytes
	ModSeq         int64     // MODSEQ of the last change
	Origin         string    // idempotency key, "" if none
	Name           string    // resource name of a calendar/contact object, "" for mail
	ObjectUID      string    // UID of a calendar/contact object, "" for mail
}

// ItemChanges returns the live items changed after the cursor (see Cursor)
// whose MODSEQ is at most uptoModSeq (≤ 0: no bound), ordered by (MODSEQ,
// id), at most limit of them, and the cursor to continue from. Fewer than
// limit items means the range is exhausted. Read HighestModSeq
// first and pass it as uptoModSeq to get a consistent pass: an item changed
// again during the pass moves beyond uptoModSeq and is returned by the next
// pass. A stored cursor resumes without missing anything. Removed items are
// reported by Tombstones.
func (s *Store) ItemChanges(ctx context.Context, mailboxID int64, after Cursor, uptoModSeq int64, limit int) ([]ItemChange, Cursor, error) {
	if uptoModSeq <= 0 {
		uptoModSeq = math.MaxInt64
	}
	if limit <= 0 {
		limit = DefaultChangeLimit
	}
	am, aid := after.after()
	rows, err := s.d.Read().QueryContext(ctx, `SELECT i.id, i.folder_id, f.stable_id, i.uid, i.flags, i.internal_date, i.size, i.sha256, i.modseq, COALESCE(i.origin, ''),
			COALESCE(i.name, ''), COALESCE(i.obj_uid, '')
		FROM items i JOIN folders f ON f.id = i.folder_id
		WHERE i.mailbox_id = ? AND i.modseq >= ? AND (i.modseq > ? OR i.id > ?) AND i.modseq <= ?
		ORDER BY i.modseq, i.id LIMIT ?`, mailboxID, am, am, aid, uptoModSeq, limit)
	if err != nil {
		return nil, after, errs.Internalf(err, "list item changes of mailbox %d", mailboxID)
	}
	defer rows.Close()
	var out []ItemChange
	for rows.Next() {
		var c ItemChange
		var uid, internal int64
		var flags string
		if err := rows.Scan(&c.ItemID, &c.FolderID, &c.FolderStableID, &uid, &flags, &internal, &c.Size, &c.SHA256, &c.ModSeq, &c.Origin, &c.Name, &c.ObjectUID); err != nil {
			return nil, after, errs.Internalf(err, "list item changes of mailbox %d", mailboxID)
		}
		c.UID, c.Flags, c.InternalDate = uint32(uid), parseFlags(flags), db.Time(internal)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, after, errs.Internalf(err, "list item changes of mailbox %d", mailboxID)
	}
	var last Cursor
	if n := len(out); n > 0 {
		last = Cursor{ModSeq: out[n-1].ModSeq, ID: out[n-1].ItemID}
	}
	return out, nextCursor(after, last, len(out), limit, uptoModSeq), nil
}

// Tombstone records that an item left a folder.
type Tombstone struct {
	ID             int64  // tombstone id (the cursor's ID)
	FolderID       int64  // folder the item left (internal id)
	FolderStableID string // folder the item left (stable id)
	UID            uint32 // UID the item had there
	ItemID         int64  // the removed or moved item
	ModSeq         int64  // MODSEQ of the removal
	// Moved is set when the item moved to another folder (it still exists
	// with the same ItemID, and shows up in ItemChanges).
	Moved bool
	// Name is the resource name the item had ("" for mail).
	Name string
}

// Tombstones returns the tombstones recorded after the cursor (see Cursor)
// whose MODSEQ is at most uptoModSeq (≤ 0: no bound), ordered by (MODSEQ,
// id), at most limit of them, and the cursor to continue from; fewer than
// limit means the range is exhausted. Start with Cursor{ModSeq: since}.
// A cursor older than the mailbox's purge horizon (see PurgeTombstones)
// is refused with ErrResyncRequired.
func (s *Store) Tombstones(ctx context.Context, mailboxID int64, after Cursor, uptoModSeq int64, limit int) ([]Tombstone, Cursor, error) {
	if uptoModSeq <= 0 {
		uptoModSeq = math.MaxInt64
	}
	if limit <= 0 {
		limit = DefaultChangeLimit
	}
	am, aid := after.after()
	rows, err := s.d.Read().QueryContext(ctx, `SELECT t.id, t.folder_id, COALESCE(f.stable_id, ''), t.uid, t.item_id, t.modseq, t.moved, COALESCE(t.name, '')
		FROM tombstones t LEFT JOIN folders f ON f.id = t.folder_id
		WHERE t.mailbox_id = ? AND t.modseq >= ? AND (t.modseq > ? OR t.id > ?) AND t.modseq <= ?
		ORDER BY t.modseq, t.id LIMIT ?`, mailboxID, am, am, aid, uptoModSeq, limit)
	if err != nil {
		return nil, after, errs.Internalf(err, "list tombstones of mailbox %d", mailboxID)
	}
	defer rows.Close()
	var out []Tombstone
	for rows.Next() {
		var t Tombstone
		var uid int64
		if err := rows.Scan(&t.ID, &t.FolderID, &t.FolderStableID, &uid, &t.ItemID, &t.ModSeq, &t.Moved, &t.Name); err != nil {
			return nil, after, errs.Internalf(err, "list tombstones of mailbox %d", mailboxID)
		}
		t.UID = uint32(uid)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, after, errs.Internalf(err, "list tombstones of mailbox %d", mailboxID)
	}
	complete := after.ModSeq // every removal up to it was delivered
	if after.ID != 0 {
		complete--
	}
	if err := s.checkHorizon(ctx, mailboxID, complete); err != nil {
		return nil, after, err
	}
	var last Cursor
	if n := len(out); n > 0 {
		last = Cursor{ModSeq: out[n-1].ModSeq, ID: out[n-1].ID}
	}
	return out, nextCursor(after, last, len(out), limit, uptoModSeq), nil
}

// nextCursor is where a feed continues: inside the last MODSEQ after a full
// page, or, when the range is exhausted, at the end of it (everything up to
// uptoModSeq, or up to the last MODSEQ returned when unbounded, is
// delivered: mutations of a mailbox commit in MODSEQ order).
func nextCursor(after, last Cursor, n, limit int, upto int64) Cursor {
	switch {
	case n == limit:
		return last
	case upto != math.MaxInt64:
		return Cursor{ModSeq: max(upto, after.ModSeq)}
	case n > 0:
		return Cursor{ModSeq: last.ModSeq}
	}
	return after
}
