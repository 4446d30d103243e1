package mailstore

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// RenameFolder renames a folder to a new path, which may lie under another
// parent (missing parents are created). Its subfolders move with it. A live
// folder at the new path is a FolderExists error; moving a folder below
// itself is InvalidFolderName.
//
// Renaming the \Inbox folder follows IMAP: a new folder is created at the
// new path, all of the Inbox's items move to it (same item ids), and the
// Inbox stays, empty, with its subfolders. The returned folder is the
// renamed one (the new folder in the Inbox case).
func (s *Store) RenameFolder(ctx context.Context, mailboxID, folderID int64, newPath string) (*Folder, error) {
	comps, err := splitPath(newPath)
	if err != nil {
		return nil, err
	}
	var out *Folder
	err = s.mutate(ctx, mailboxID, func(m *mutation) error {
		f, err := liveFolder(ctx, m.tx, mailboxID, folderID)
		if err != nil {
			return err
		}
		if f.SpecialUse == UseInbox {
			out, err = m.renameInbox(f, newPath, comps)
			return err
		}
		parent, err := m.parentFor(newPath, comps, true, false)
		if err != nil {
			return err
		}
		pid, name := "", comps[len(comps)-1]
		path := name
		if parent != nil {
			pid, path = parent.StableID, parent.Path+Delimiter+name
		}
		// A folder cannot move below itself.
		for p := parent; p != nil; {
			if p.StableID == f.StableID {
				return errInvalidName(newPath, "a folder cannot be moved into its own subfolder")
			}
			if p.ParentID == "" {
				break
			}
			if p, err = queryFolder(ctx, m.tx, `mailbox_id = ? AND stable_id = ?`, mailboxID, p.ParentID); err != nil {
				return err
			}
		}
		if ex, err := m.child(pid, name); err != nil {
			return err
		} else if ex != nil && ex.ID != f.ID {
			return errFolderExists(ex.Path)
		}
		if pid == f.ParentID && name == f.Name {
			out = f
			return nil // nothing to do
		}
		if err := m.repath(f, pid, name, path); err != nil {
			return err
		}
		out, err = liveFolder(ctx, m.tx, mailboxID, folderID)
		return err
	})
	return out, err
}

// repath gives f a new parent, name and path, and rewrites the paths of its
// subfolders; all get the mutation's MODSEQ.
func (m *mutation) repath(f *Folder, parentID, name, path string) error {
	if _, err := m.tx.ExecContext(m.ctx, `UPDATE folders SET parent_id = ?, name = ?, name_key = ?, path = ?, path_key = ?, modseq = ? WHERE id = ?`,
		parentID, name, strings.ToLower(name), path, strings.ToLower(path), m.modseq, f.ID); err != nil {
		if db.IsUnique(err) {
			return errFolderExists(path)
		}
		return errs.Internalf(err, "rename folder %q", f.Path)
	}
	m.changed = true
	m.emit(Event{Kind: EventFolders, FolderID: f.ID})
	all, err := listFolders(m.ctx, m.tx, m.mb, false)
	if err != nil {
		return err
	}
	children := map[string][]Folder{}
	for _, c := range all {
		children[c.ParentID] = append(children[c.ParentID], c)
	}
	var walk func(stableID, base string) error
	walk = func(stableID, base string) error {
		for _, c := range children[stableID] {
			p := base + Delimiter + c.Name
			if _, err := m.tx.ExecContext(m.ctx, `UPDATE folders SET path = ?, path_key = ?, modseq = ? WHERE id = ?`,
				p, strings.ToLower(p), m.modseq, c.ID); err != nil {
				return errs.Internalf(err, "rename folder %q", c.Path)
			}
			m.emit(Event{Kind: EventFolders, FolderID: c.ID})
			if err := walk(c.StableID, p); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(f.StableID, path)
}

func (m *mutation) renameInbox(inbox *Folder, newPath string, comps []string) (*Folder, error) {
	parent, err := m.parentFor(newPath, comps, true, false)
	if err != nil {
		return nil, err
	}
	pid, name := "", comps[len(comps)-1]
	path := name
	if parent != nil {
		pid, path = parent.StableID, parent.Path+Delimiter+name
	}
	if ex, err := m.child(pid, name); err != nil {
		return nil, err
	} else if ex != nil {
		return nil, errFolderExists(ex.Path)
	}
	nf, err := m.insertFolder(pid, name, path, FolderOptions{Class: ClassNote})
	if err != nil {
		return nil, err
	}
	rows, err := rowsBySet(m.ctx, m.tx, inbox.ID, AllUIDs)
	if err != nil {
		return nil, err
	}
	if _, err := m.moveRows(rows, nf); err != nil {
		return nil, err
	}
	return liveFolder(m.ctx, m.tx, m.mb, nf.ID)
}

// DeleteFolder deletes a folder: its items are expunged (tombstones) and the
// folder row stays as a deleted tombstone, so its name is free again (a
// re-created folder gets a new stable id and UIDVALIDITY). A folder with
// live subfolders is a FolderHasChildren error; the \Inbox cannot be
// deleted.
func (s *Store) DeleteFolder(ctx context.Context, mailboxID, folderID int64) error {
	return s.mutate(ctx, mailboxID, func(m *mutation) error {
		f, err := liveFolder(ctx, m.tx, mailboxID, folderID)
		if err != nil {
			return err
		}
		if f.SpecialUse == UseInbox {
			return errs.Invalidf("CannotDeleteInbox", "the Inbox cannot be deleted").WithObject(f.Path).
				WithHint("delete the messages in it instead")
		}
		var n int
		if err := m.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM folders WHERE mailbox_id = ? AND parent_id = ? AND deleted = ?`,
			mailboxID, f.StableID, false).Scan(&n); err != nil {
			return errs.Internalf(err, "delete folder %q", f.Path)
		}
		if n > 0 {
			return errs.Conflictf("FolderHasChildren", "folder %q has %d subfolder(s)", f.Path, n).WithObject(f.Path).
				WithHint("delete or move its subfolders first")
		}
		rows, err := rowsBySet(ctx, m.tx, folderID, AllUIDs)
		if err != nil {
			return err
		}
		if err := m.removeRows(rows); err != nil {
			return err
		}
		if _, err := m.tx.ExecContext(ctx, `UPDATE folders SET deleted = ?, modseq = ? WHERE id = ?`, true, m.modseq, folderID); err != nil {
			return errs.Internalf(err, "delete folder %q", f.Path)
		}
		m.changed = true
		m.emit(Event{Kind: EventFolders, FolderID: folderID})
		return nil
	})
}

// SetFolderOrigin records that replication adopts an existing folder for a
// source folder (origin ≠ "") or releases it (origin = ""): the folder keeps
// its name, place, special use and items, and from now on
// FolderByOrigin(origin) finds it. An IMAP migration into a user's active
// mailbox adopts the user's Inbox, Sent Items, ... this way instead of
// creating folders next to them. Another live folder with the same origin
// is a FolderOriginExists error; setting the origin a folder already has
// changes nothing. The folder's MODSEQ is raised (its record changed).
func (s *Store) SetFolderOrigin(ctx context.Context, mailboxID, folderID int64, origin string) (*Folder, error) {
	if err := validFolderOptions(FolderOptions{Origin: origin}); err != nil {
		return nil, err
	}
	var out *Folder
	err := s.mutate(ctx, mailboxID, func(m *mutation) error {
		f, err := liveFolder(ctx, m.tx, mailboxID, folderID)
		if err != nil {
			return err
		}
		out = f
		if f.Origin == origin {
			return nil
		}
		if origin != "" {
			if g, err := queryFolder(ctx, m.tx, `mailbox_id = ? AND origin = ? AND deleted = ?`, mailboxID, origin, false); err != nil {
				return err
			} else if g != nil {
				return errFolderOriginExists(origin, g.Path).WithHint("release that folder's origin first")
			}
		}
		if _, err := m.tx.ExecContext(ctx, `UPDATE folders SET origin = ?, modseq = ? WHERE id = ?`, nullString(origin), m.modseq, folderID); err != nil {
			if db.IsUnique(err) {
				return errFolderOriginExists(origin, "")
			}
			return errs.Internalf(err, "set the origin of folder %q", f.Path)
		}
		m.changed = true
		m.emit(Event{Kind: EventFolders, FolderID: folderID})
		out.Origin, out.ModSeq = origin, m.modseq
		return nil
	})
	return out, err
}
