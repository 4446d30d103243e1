package mailstore

import (
	"bytes"
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

const itemCols = `id, mailbox_id, folder_id, uid, modseq, flags, internal_date, size, sha256, COALESCE(origin, ''), subject, message_id, from_addr, sent_date, created_at, COALESCE(name, ''), COALESCE(obj_uid, '')`

func scanItems(ctx context.Context, q db.Querier, query string, args ...any) ([]Item, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, errs.Internalf(err, "read items")
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var uid, internal, sent, created int64
		var flags string
		if err := rows.Scan(&it.ID, &it.MailboxID, &it.FolderID, &uid, &it.ModSeq, &flags, &internal, &it.Size, &it.SHA256,
			&it.Origin, &it.Subject, &it.MessageID, &it.From, &sent, &created, &it.Name, &it.ObjectUID); err != nil {
			return nil, errs.Internalf(err, "read items")
		}
		it.UID, it.Flags = uint32(uid), parseFlags(flags)
		it.InternalDate, it.SentDate, it.CreatedAt = db.Time(internal), db.Time(sent), db.Time(created)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "read items")
	}
	return out, nil
}

func errItemNotFound(what string) *errs.Error {
	return errs.NotFoundf("ItemNotFound", "message %s does not exist", what).WithObject(what).
		WithHint("it may have been expunged or moved; reload the folder")
}

// Fetch returns the metadata of the items of a folder whose UIDs are in
// uids, ascending by UID. The Flags slices are shared: do not modify them.
func (s *Store) Fetch(ctx context.Context, mailboxID, folderID int64, uids UIDSet) ([]Item, error) {
	if _, err := liveFolder(ctx, s.d.Read(), mailboxID, folderID); err != nil {
		return nil, err
	}
	lo, hi := uids.bounds()
	if lo > hi {
		return nil, nil
	}
	items, err := scanItems(ctx, s.d.Read(), `SELECT `+itemCols+` FROM items WHERE folder_id = ? AND uid >= ? AND uid <= ? ORDER BY uid`,
		folderID, int64(lo), int64(hi))
	if err != nil {
		return nil, err
	}
	out := items[:0]
	for _, it := range items {
		if uids.Contains(it.UID) {
			out = append(out, it)
		}
	}
	return out, nil
}

// Item returns one item of the mailbox by id.
func (s *Store) Item(ctx context.Context, mailboxID, itemID int64) (*Item, error) {
	items, err := scanItems(ctx, s.d.Read(), `SELECT `+itemCols+` FROM items WHERE id = ? AND mailbox_id = ?`, itemID, mailboxID)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errItemNotFound(strconv.FormatInt(itemID, 10))
	}
	return &items[0], nil
}

// ItemsByOrigin returns the items of the mailbox carrying the given
// origins, keyed by origin (absent origins are left out). Replication uses
// it to skip fetching items the target already has and to address updates.
// It costs one unique-index probe per origin.
func (s *Store) ItemsByOrigin(ctx context.Context, mailboxID int64, origins []string) (map[string]Item, error) {
	out := make(map[string]Item, len(origins))
	for start := 0; start < len(origins); start += 500 {
		chunk := origins[start:min(start+500, len(origins))]
		args := make([]any, 0, len(chunk)+1)
		for _, o := range chunk {
			args = append(args, o)
		}
		var q string
		if s.d.Dialect == db.Postgres {
			// An IN list lets PostgreSQL scan the whole mailbox when its
			// statistics are young; a LATERAL probe per origin cannot.
			vals := strings.TrimSuffix(strings.Repeat("(?),", len(chunk)), ",")
			q = `SELECT i.* FROM (VALUES ` + vals + `) AS v(o) CROSS JOIN LATERAL
				(SELECT ` + itemCols + ` FROM items WHERE mailbox_id = ? AND origin = v.o LIMIT 1) i`
			args = append(args, mailboxID)
		} else {
			q = `SELECT ` + itemCols + ` FROM items WHERE mailbox_id = ? AND origin IN (` + db.InList(len(chunk)) + `)`
			args = append([]any{mailboxID}, args...)
		}
		items, err := scanItems(ctx, s.d.Read(), q, args...)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			out[it.Origin] = it
		}
	}
	return out, nil
}

// UIDFlags is one message of a Snapshot.
type UIDFlags struct {
	UID    uint32   // UID in the folder
	Flags  []string // shared: do not modify
	ModSeq int64    // the message's MODSEQ
}

// Snapshot is what IMAP SELECT needs of a folder, read consistently.
type Snapshot struct {
	Folder Folder // the folder row at the snapshot
	// Messages are the folder's messages in UID order (sequence number i+1
	// is Messages[i]).
	Messages []UIDFlags
	// Unseen counts the messages without \Seen.
	Unseen int64
	// FirstUnseen is the sequence number of the first message without
	// \Seen, 0 if none.
	FirstUnseen uint32
	// HighestModSeq is the mailbox's MODSEQ at the snapshot.
	HighestModSeq int64
}

// Select returns a consistent snapshot of a live folder: its row (UIDNEXT,
// UIDVALIDITY), every message's UID, flags and MODSEQ in UID order, and the
// unseen count. (Sizes are not read here; see FolderCounts.)
func (s *Store) Select(ctx context.Context, mailboxID, folderID int64) (*Snapshot, error) {
	r, err := s.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer r.done()
	f, err := liveFolder(ctx, r, mailboxID, folderID)
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Folder: *f}
	if err := r.QueryRowContext(ctx, `SELECT modseq FROM mailboxes WHERE id = ?`, mailboxID).Scan(&snap.HighestModSeq); err != nil {
		return nil, errs.Internalf(err, "read mailbox %d", mailboxID)
	}
	rows, err := r.QueryContext(ctx, `SELECT uid, flags, modseq FROM items WHERE folder_id = ? ORDER BY uid`, folderID)
	if err != nil {
		return nil, errs.Internalf(err, "list folder %q", f.Path)
	}
	defer rows.Close()
	msgs := make([]UIDFlags, 0, 1024)
	var last []byte
	var lastParsed []string
	lastSeen, first := false, true
	var uid, modseq int64
	var flags sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&uid, &flags, &modseq); err != nil {
			return nil, errs.Internalf(err, "list folder %q", f.Path)
		}
		if first || !bytes.Equal(flags, last) {
			first = false
			last = append(last[:0], flags...)
			lastParsed = parseFlags(string(flags))
			lastSeen = HasFlag(lastParsed, FlagSeen)
		}
		msgs = append(msgs, UIDFlags{UID: uint32(uid), Flags: lastParsed, ModSeq: modseq})
		if !lastSeen {
			snap.Unseen++
			if snap.FirstUnseen == 0 {
				snap.FirstUnseen = uint32(len(msgs))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "list folder %q", f.Path)
	}
	snap.Messages = msgs
	return snap, nil
}

// OpenItem opens an item's raw bytes, exactly as appended.
func (s *Store) OpenItem(ctx context.Context, mailboxID, itemID int64) (*blobstore.Blob, error) {
	return s.openWhere(ctx, strconv.FormatInt(itemID, 10), `i.id = ? AND i.mailbox_id = ?`, itemID, mailboxID)
}

// OpenUID opens the raw bytes of the item with a UID in a folder.
func (s *Store) OpenUID(ctx context.Context, mailboxID, folderID int64, uid uint32) (*blobstore.Blob, error) {
	return s.openWhere(ctx, "UID "+strconv.FormatUint(uint64(uid), 10), `i.folder_id = ? AND i.uid = ? AND i.mailbox_id = ?`, folderID, int64(uid), mailboxID)
}

func (s *Store) openWhere(ctx context.Context, what, where string, args ...any) (*blobstore.Blob, error) {
	var sha string
	err := s.d.Read().QueryRowContext(ctx, `SELECT i.sha256 FROM items i WHERE `+where, args...).Scan(&sha)
	if db.IsNoRows(err) {
		return nil, errItemNotFound(what)
	}
	if err != nil {
		return nil, errs.Internalf(err, "open message %s", what)
	}
	return s.blobs.Open(ctx, sha)
}
