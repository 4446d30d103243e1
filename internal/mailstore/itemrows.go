package mailstore

import (
	"context"
	"math"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// itemRow is an item as the write paths handle it.
type itemRow struct {
	id, folderID       int64
	mailboxID          int64 // only when the query selects it (rowsByID)
	uid                uint32
	modseq             int64
	flags              string
	internalDate, size int64
	sha256, origin     string
	subject, messageID string
	from               string
	sentDate           int64
	name, objectUID    string // CalDAV/CardDAV resource name and object UID
}

const itemRowCols = `id, folder_id, uid, modseq, flags, internal_date, size, sha256, COALESCE(origin, ''), subject, message_id, from_addr, sent_date, COALESCE(name, ''), COALESCE(obj_uid, '')`

func scanItemRows(ctx context.Context, q db.Querier, query string, args ...any) ([]itemRow, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, errs.Internalf(err, "read items")
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, errs.Internalf(err, "read items")
	}
	var out []itemRow
	for rows.Next() {
		var r itemRow
		var uid int64
		dst := []any{&r.id, &r.folderID, &uid, &r.modseq, &r.flags, &r.internalDate, &r.size, &r.sha256, &r.origin,
			&r.subject, &r.messageID, &r.from, &r.sentDate, &r.name, &r.objectUID}
		if len(cols) > len(dst) {
			dst = append(dst, &r.mailboxID)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, errs.Internalf(err, "read items")
		}
		r.uid = uint32(uid)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "read items")
	}
	return out, nil
}

// rowsBySet returns the items of a folder whose UIDs are in set, by UID.
func rowsBySet(ctx context.Context, q db.Querier, folderID int64, set UIDSet) ([]itemRow, error) {
	lo, hi := set.bounds()
	if lo > hi {
		return nil, nil
	}
	rows, err := scanItemRows(ctx, q, `SELECT `+itemRowCols+` FROM items WHERE folder_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`,
		folderID, int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, r := range rows {
		if set.Contains(r.uid) {
			out = append(out, r)
		}
	}
	return out, nil
}

// rowsByID returns the items of the mailbox with the given ids (missing
// ones are left out), in id order. It looks up by primary key only (the
// mailbox is checked on the result), a plan no statistics can spoil.
func rowsByID(ctx context.Context, q db.Querier, mailboxID int64, ids []int64) ([]itemRow, error) {
	var out []itemRow
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		rows, err := scanItemRows(ctx, q, `SELECT `+itemRowCols+`, mailbox_id FROM items WHERE id IN (`+db.InList(len(chunk))+`) ORDER BY id`,
			int64Args(chunk)...)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if r.mailboxID == mailboxID {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// allocUIDs reserves n UIDs in a live folder of the mailbox and returns the
// first and the folder's UIDVALIDITY.
func (m *mutation) allocUIDs(folderID int64, n int) (first, uidvalidity uint32, err error) {
	var next, uv int64
	err = m.tx.QueryRowContext(m.ctx, `UPDATE folders SET uidnext = uidnext + ? WHERE id = ? AND mailbox_id = ? AND deleted = ? RETURNING uidnext, uidvalidity`,
		n, folderID, m.mb, false).Scan(&next, &uv)
	if db.IsNoRows(err) {
		return 0, 0, errFolderNotFound(strconv.FormatInt(folderID, 10))
	}
	if err != nil {
		return 0, 0, errs.Internalf(err, "allocate UIDs")
	}
	if next-1 > math.MaxUint32 {
		return 0, 0, errs.Conflictf("UIDsExhausted", "folder %d has used all UIDs", folderID).
			WithHint("recreate the folder (a new UIDVALIDITY) by renaming it and moving its items")
	}
	return uint32(next - int64(n)), uint32(uv), nil
}

// insertRows inserts new items (ids are assigned; uid, folderID and modseq
// must be set) and fills in their ids. A row whose origin already exists in
// the mailbox is not inserted and keeps id 0 (the unique index decides, so
// the check costs one index probe per row whatever the planner knows).
func (m *mutation) insertRows(rows []itemRow) error {
	const per = 100
	now := db.Now()
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO items (mailbox_id, folder_id, uid, modseq, flags, internal_date, size, sha256, origin, subject, message_id, from_addr, sent_date, created_at, name, obj_uid) VALUES `)
		args := make([]any, 0, 16*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, m.mb, r.folderID, int64(r.uid), r.modseq, r.flags, r.internalDate, r.size, r.sha256,
				nullString(r.origin), r.subject, r.messageID, r.from, r.sentDate, now, nullString(r.name), nullString(r.objectUID))
		}
		q.WriteString(` ON CONFLICT (mailbox_id, origin) WHERE origin IS NOT NULL DO NOTHING RETURNING id, folder_id, uid`)
		res, err := m.tx.QueryContext(m.ctx, q.String(), args...)
		if err != nil {
			return errs.Internalf(err, "insert items")
		}
		type key struct {
			f int64
			u uint32
		}
		ids := make(map[key]int64, len(chunk))
		for res.Next() {
			var id, fid, uid int64
			if err := res.Scan(&id, &fid, &uid); err != nil {
				res.Close()
				return errs.Internalf(err, "insert items")
			}
			ids[key{fid, uint32(uid)}] = id
		}
		res.Close()
		if err := res.Err(); err != nil {
			return errs.Internalf(err, "insert items")
		}
		for i := range chunk {
			chunk[i].id = ids[key{chunk[i].folderID, chunk[i].uid}]
		}
		if len(ids) > 0 {
			m.changed = true
		}
	}
	return nil
}

// tombstone records the removal of rows from their folder.
func (m *mutation) tombstone(rows []itemRow, moved bool) error {
	const per = 150
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(start+per, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO tombstones (mailbox_id, folder_id, uid, item_id, modseq, moved, name, created_at) VALUES `)
		args := make([]any, 0, 8*len(chunk))
		now := db.Now()
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, m.mb, r.folderID, int64(r.uid), r.id, m.modseq, moved, nullString(r.name), now)
		}
		if _, err := m.tx.ExecContext(m.ctx, q.String(), args...); err != nil {
			return errs.Internalf(err, "record tombstones")
		}
	}
	return nil
}

// removeRows deletes items, leaving tombstones, and emits expunge events.
func (m *mutation) removeRows(rows []itemRow) error {
	if len(rows) == 0 {
		return nil
	}
	if err := m.tombstone(rows, false); err != nil {
		return err
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		if _, err := m.tx.ExecContext(m.ctx, `DELETE FROM items WHERE id IN (`+db.InList(len(chunk))+`)`, int64Args(chunk)...); err != nil {
			return errs.Internalf(err, "expunge items")
		}
	}
	m.changed = true
	m.emitByFolder(EventExpunged, rows, false)
	return nil
}

// moveRows moves items (keeping their ids) to dst with new UIDs, leaving
// moved tombstones at their old places. It returns the new UIDs in order.
func (m *mutation) moveRows(rows []itemRow, dst *Folder) ([]uint32, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	first, _, err := m.allocUIDs(dst.ID, len(rows))
	if err != nil {
		return nil, err
	}
	if err := m.tombstone(rows, true); err != nil {
		return nil, err
	}
	m.emitByFolder(EventExpunged, rows, false)
	moved := make([]itemRow, len(rows))
	uids := make([]uint32, len(rows))
	now := db.Now() // the save date in the new folder (Item.CreatedAt)
	for i, r := range rows {
		uids[i] = first + uint32(i)
		if _, err := m.tx.ExecContext(m.ctx, `UPDATE items SET folder_id = ?, uid = ?, modseq = ?, created_at = ? WHERE id = ?`, dst.ID, int64(uids[i]), m.modseq, now, r.id); err != nil {
			return nil, errs.Internalf(err, "move items")
		}
		r.folderID, r.uid = dst.ID, uids[i]
		moved[i] = r
	}
	m.changed = true
	m.emitByFolder(EventAppended, moved, true)
	return uids, nil
}

// emitByFolder emits one event per folder for rows (ascending UIDs within a
// folder are kept in the order given).
func (m *mutation) emitByFolder(kind EventKind, rows []itemRow, withFlags bool) {
	var order []int64
	by := map[int64]*Event{}
	for _, r := range rows {
		e := by[r.folderID]
		if e == nil {
			e = &Event{Kind: kind, FolderID: r.folderID}
			by[r.folderID] = e
			order = append(order, r.folderID)
		}
		e.UIDs = append(e.UIDs, r.uid)
		if withFlags {
			e.Flags = append(e.Flags, parseFlags(r.flags))
		}
	}
	for _, f := range order {
		m.emit(*by[f])
	}
}
