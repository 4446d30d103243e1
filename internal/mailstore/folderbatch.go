package mailstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// FolderBatch creates folders of one mailbox in one transaction
// (Store.CreateFolders).
//
// Invariants: the folders CreateIn queues are written by flush, which runs
// before any Create and at the end of the batch, inside the batch's
// mutation (the mailbox row is held: no other mutation changes the
// mailbox's folders meanwhile); a *Folder that CreateIn returned carries
// its ID, UIDVALIDITY and events once CreateFolders returned nil.
type FolderBatch struct {
	m *mutation
	// queued are CreateIn's folders not yet written, in call order
	// (parents before children).
	queued []*Folder
}

// Create is CreateFolder inside the batch's transaction. It writes the
// folders CreateIn queued first, so it sees them as parents.
func (b *FolderBatch) Create(path string, opts FolderOptions) (*Folder, error) {
	comps, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if err := validFolderOptions(opts); err != nil {
		return nil, err
	}
	if err := b.flush(); err != nil {
		return nil, err
	}
	return b.m.createFolder(path, comps, opts)
}

// CreateIn creates the folder name directly under parent (nil: at the
// root; parent is a folder of the batch's mailbox, or one CreateIn
// returned in this batch) without a statement of its own: the folder is
// queued and written with the others of the batch in three statements (the
// mailbox's live names, origins and special uses read once, the
// UIDVALIDITYs allocated at once, one multi-row INSERT). It is for a
// caller that knows the mailbox's folders (a replication pass filling a
// new mailbox). A live folder of that name or origin there, or a special
// use another folder holds, fails the batch when it is written
// (FolderExists, FolderOriginExists, SpecialUseTaken). A name with the
// delimiter, or INBOX at the root, goes through Create.
func (b *FolderBatch) CreateIn(parent *Folder, name string, opts FolderOptions) (*Folder, error) {
	pid, path := "", name
	if parent != nil {
		pid, path = parent.StableID, parent.Path+Delimiter+name
	}
	if strings.Contains(name, Delimiter) || (parent == nil && strings.EqualFold(name, "INBOX")) || strings.Count(path, Delimiter) >= 64 {
		return b.Create(path, opts)
	}
	if e := validName(name); e != "" {
		return nil, errInvalidName(path, e)
	}
	if err := validFolderOptions(opts); err != nil {
		return nil, err
	}
	if opts.Class == "" {
		opts.Class = classOf(parent)
	}
	f := b.m.newFolder(pid, name, path, opts)
	b.queued = append(b.queued, f)
	return f, nil
}

// CreateFolders runs f with a FolderBatch of the mailbox: the folders it
// creates commit together in one transaction, with one MODSEQ, or none
// does (f returned an error, or a Create or the final write failed). A
// replication pass creates a new mailbox's folders this way: one commit
// and a few statements instead of a commit and three statements per
// folder.
func (s *Store) CreateFolders(ctx context.Context, mailboxID int64, f func(b *FolderBatch) error) error {
	return s.mutate(ctx, mailboxID, func(m *mutation) error {
		b := &FolderBatch{m: m}
		if err := f(b); err != nil {
			return err
		}
		return b.flush()
	})
}

// flush writes the queued folders: it checks them against the mailbox's
// live folders and each other (names under one parent, origins, special
// uses: the unique indexes, with their own error codes), allocates their
// UIDVALIDITYs with one statement and inserts them with one more per 200
// folders.
func (b *FolderBatch) flush() error {
	q := b.queued
	if len(q) == 0 {
		return nil
	}
	b.queued = nil
	m := b.m
	if err := b.checkQueued(q); err != nil {
		return err
	}
	var next int64
	if err := m.tx.QueryRowContext(m.ctx, `UPDATE mailboxes SET next_uidvalidity = next_uidvalidity + ? WHERE id = ? RETURNING next_uidvalidity`,
		len(q), m.mb).Scan(&next); err != nil {
		return errs.Internalf(err, "allocate UIDVALIDITY")
	}
	first := next - int64(len(q)) // the value before the update: insertFolder's allocation, len(q) times
	for i, f := range q {
		f.UIDValidity = uint32(first + int64(i))
	}
	const rows = 200
	for start := 0; start < len(q); start += rows {
		if err := b.insertQueued(q[start:min(start+rows, len(q))]); err != nil {
			return err
		}
	}
	m.changed = true
	for _, f := range q {
		m.emit(Event{Kind: EventFolders, FolderID: f.ID})
	}
	return nil
}

// folderKey is a live folder's name under its parent (the folders_name
// unique index).
type folderKey struct{ parent, name string }

// checkQueued refuses queued folders that the unique indexes would refuse,
// with the error a folder-by-folder create gives: one read of the
// mailbox's live folders.
func (b *FolderBatch) checkQueued(q []*Folder) error {
	m := b.m
	rows, err := m.tx.QueryContext(m.ctx, `SELECT parent_id, name_key, special_use, COALESCE(origin, '') FROM folders WHERE mailbox_id = ? AND deleted = ?`, m.mb, false)
	if err != nil {
		return errs.Internalf(err, "read the folders of mailbox %d", m.mb)
	}
	names, origins, uses := map[folderKey]bool{}, map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var k folderKey
		var use, origin string
		if err := rows.Scan(&k.parent, &k.name, &use, &origin); err != nil {
			rows.Close()
			return errs.Internalf(err, "read the folders of mailbox %d", m.mb)
		}
		names[k], origins[origin], uses[use] = true, true, true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Internalf(err, "read the folders of mailbox %d", m.mb)
	}
	for _, f := range q {
		k := folderKey{f.ParentID, strings.ToLower(f.Name)}
		switch {
		case names[k]:
			return errFolderExists(f.Path)
		case f.Origin != "" && origins[f.Origin]:
			return errFolderOriginExists(f.Origin, "").
				WithHint("each source folder has one target folder: create the others, and let the pass use the existing one")
		case f.SpecialUse != "" && uses[f.SpecialUse]:
			return errSpecialUseTaken(f.Path, f.SpecialUse)
		}
		names[k] = true
		if f.Origin != "" {
			origins[f.Origin] = true
		}
		if f.SpecialUse != "" {
			uses[f.SpecialUse] = true
		}
	}
	return nil
}

// insertQueued inserts queued folders with one statement and sets their
// IDs (matched by stable id: RETURNING's order is not promised).
func (b *FolderBatch) insertQueued(q []*Folder) error {
	m := b.m
	var sb strings.Builder
	sb.WriteString(`INSERT INTO folders ` + folderInsertCols + ` VALUES `)
	args := make([]any, 0, 16*len(q))
	byStable := make(map[string]*Folder, len(q))
	for i, f := range q {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(folderInsertRow)
		args = append(args, m.folderInsertArgs(f)...)
		byStable[f.StableID] = f
	}
	sb.WriteString(` RETURNING id, stable_id`)
	rows, err := m.tx.QueryContext(m.ctx, sb.String(), args...)
	if err != nil {
		return b.insertError(q, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var stable string
		if err := rows.Scan(&id, &stable); err != nil {
			return errs.Internalf(err, "create folders")
		}
		if f := byStable[stable]; f != nil {
			f.ID = id
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return b.insertError(q, err)
	}
	if n != len(q) {
		return errs.Internalf(fmt.Errorf("%d of %d rows returned", n, len(q)), "create folders")
	}
	return nil
}

// insertError maps a failed multi-row insert: a unique index (which
// checkQueued should have seen first) is FolderExists on the first
// folder.
func (b *FolderBatch) insertError(q []*Folder, err error) error {
	if db.IsUnique(err) {
		return errFolderExists(q[0].Path)
	}
	return errs.Internalf(err, "create %d folders (the first %q)", len(q), q[0].Path)
}
