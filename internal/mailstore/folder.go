package mailstore

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// FolderOptions are the optional properties of a folder to create.
type FolderOptions struct {
	// Class defaults to the parent's class, or ClassNote at the root.
	Class string
	// SpecialUse is UseInbox, UseSent, ... or "". At most one live folder
	// of a mailbox has each special use.
	SpecialUse string
	// Origin is the source folder id when replication creates the folder.
	// Creating a folder whose origin already exists returns that folder.
	Origin string
	// Unsubscribed creates the folder, and any missing parent created
	// with it, unsubscribed.
	Unsubscribed bool
	// Props are the collection properties of a calendar, task list or
	// address book folder (see Folder.Props).
	Props map[string]string
}

const folderCols = `id, mailbox_id, stable_id, parent_id, name, path, class, special_use, uidvalidity, uidnext, modseq, deleted, subscribed, COALESCE(origin, ''), created_at, props`

func scanFolder(sc interface{ Scan(...any) error }) (*Folder, error) {
	var f Folder
	var uv, un, created int64
	var props string
	if err := sc.Scan(&f.ID, &f.MailboxID, &f.StableID, &f.ParentID, &f.Name, &f.Path, &f.Class, &f.SpecialUse,
		&uv, &un, &f.ModSeq, &f.Deleted, &f.Subscribed, &f.Origin, &created, &props); err != nil {
		return nil, err
	}
	f.Props = parseProps(props)
	f.UIDValidity, f.UIDNext, f.CreatedAt = uint32(uv), uint32(un), db.Time(created)
	return &f, nil
}

// queryFolder returns the first folder matching where (live or not as the
// condition says), or nil.
func queryFolder(ctx context.Context, q db.Querier, where string, args ...any) (*Folder, error) {
	f, err := scanFolder(q.QueryRowContext(ctx, `SELECT `+folderCols+` FROM folders WHERE `+where, args...))
	if db.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Internalf(err, "read folder")
	}
	return f, nil
}

func liveFolder(ctx context.Context, q db.Querier, mailboxID, folderID int64) (*Folder, error) {
	f, err := queryFolder(ctx, q, `id = ? AND mailbox_id = ? AND deleted = ?`, folderID, mailboxID, false)
	if err == nil && f == nil {
		err = errFolderNotFound(strconv.FormatInt(folderID, 10))
	}
	return f, err
}

func listFolders(ctx context.Context, q db.Querier, mailboxID int64, withCounts bool) ([]Folder, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+folderCols+` FROM folders WHERE mailbox_id = ? AND deleted = ?`, mailboxID, false)
	if err != nil {
		return nil, errs.Internalf(err, "list folders of mailbox %d", mailboxID)
	}
	var out []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			rows.Close()
			return nil, errs.Internalf(err, "list folders of mailbox %d", mailboxID)
		}
		out = append(out, *f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "list folders of mailbox %d", mailboxID)
	}
	if withCounts {
		counts, err := folderCounts(ctx, q, mailboxID, 0)
		if err != nil {
			return nil, err
		}
		for i := range out {
			out[i].Counts = counts[out[i].ID]
		}
	}
	sortFolders(out)
	return out, nil
}

// ListFolders returns the live folders of a mailbox, parents before their
// children, with Counts filled when withCounts is set (which scans the
// mailbox's items).
func (s *Store) ListFolders(ctx context.Context, mailboxID int64, withCounts bool) ([]Folder, error) {
	if withCounts {
		r, err := s.beginRead(ctx)
		if err != nil {
			return nil, err
		}
		defer r.done()
		return listFolders(ctx, r, mailboxID, true)
	}
	return listFolders(ctx, s.d.Read(), mailboxID, false)
}

// Folder returns a live folder by its internal id.
func (s *Store) Folder(ctx context.Context, mailboxID, folderID int64) (*Folder, error) {
	return liveFolder(ctx, s.d.Read(), mailboxID, folderID)
}

// FolderCounts returns the counts of one live folder.
func (s *Store) FolderCounts(ctx context.Context, mailboxID, folderID int64) (Counts, error) {
	c, err := folderCounts(ctx, s.d.Read(), mailboxID, folderID)
	return c[folderID], err
}

// FolderByPath returns the live folder with the given path, compared
// case-insensitively. A first component "INBOX" (any case) means the
// \Inbox folder, whatever its name.
func (s *Store) FolderByPath(ctx context.Context, mailboxID int64, path string) (*Folder, error) {
	key, err := resolvePathKey(ctx, s.d.Read(), mailboxID, path)
	if err != nil {
		return nil, err
	}
	f, err := queryFolder(ctx, s.d.Read(), `mailbox_id = ? AND path_key = ? AND deleted = ?`, mailboxID, key, false)
	if err == nil && f == nil {
		err = errFolderNotFound(path)
	}
	return f, err
}

// FolderBySpecialUse returns the live folder with a special use (e.g.
// UseInbox for local delivery).
func (s *Store) FolderBySpecialUse(ctx context.Context, mailboxID int64, use string) (*Folder, error) {
	f, err := queryFolder(ctx, s.d.Read(), `mailbox_id = ? AND special_use = ? AND deleted = ?`, mailboxID, use, false)
	if err == nil && f == nil {
		err = errFolderNotFound(use)
	}
	return f, err
}

// FolderByOrigin returns the live folder replication created for a source
// folder id.
func (s *Store) FolderByOrigin(ctx context.Context, mailboxID int64, origin string) (*Folder, error) {
	f, err := queryFolder(ctx, s.d.Read(), `mailbox_id = ? AND origin = ? AND deleted = ?`, mailboxID, origin, false)
	if err == nil && f == nil {
		err = errFolderNotFound(origin)
	}
	return f, err
}

// splitPath validates a folder path and returns its names.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, errInvalidName(path, "the name is empty")
	}
	comps := strings.Split(path, Delimiter)
	if len(comps) > 64 {
		return nil, errInvalidName(path, "more than 64 levels")
	}
	for _, c := range comps {
		if err := validName(c); err != "" {
			return nil, errInvalidName(path, err)
		}
	}
	return comps, nil
}

func validName(n string) string {
	switch {
	case n == "":
		return "a level of the path is empty"
	case len(n) > 255:
		return "a name is longer than 255 bytes"
	case !utf8.ValidString(n):
		return "it is not valid UTF-8"
	case strings.ContainsAny(n, "*%"):
		return "'*' and '%' are IMAP wildcards"
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "it contains control characters"
		}
	}
	return ""
}

// resolvePathKey returns the lower-cased stored path a path names, mapping a
// first component INBOX to the \Inbox folder.
func resolvePathKey(ctx context.Context, q db.Querier, mailboxID int64, path string) (string, error) {
	first, rest, hasRest := strings.Cut(path, Delimiter)
	if strings.EqualFold(first, "INBOX") {
		inbox, err := queryFolder(ctx, q, `mailbox_id = ? AND special_use = ? AND deleted = ?`, mailboxID, UseInbox, false)
		if err != nil {
			return "", err
		}
		if inbox != nil {
			path = inbox.Path
			if hasRest {
				path += Delimiter + rest
			}
		}
	}
	return strings.ToLower(path), nil
}

// child returns the live folder named name under parent, or nil. At the root
// the name INBOX (any case) means the \Inbox folder.
func (m *mutation) child(parentID, name string) (*Folder, error) {
	if parentID == "" && strings.EqualFold(name, "INBOX") {
		f, err := queryFolder(m.ctx, m.tx, `mailbox_id = ? AND special_use = ? AND deleted = ?`, m.mb, UseInbox, false)
		if err != nil || f != nil {
			return f, err
		}
	}
	return queryFolder(m.ctx, m.tx, `mailbox_id = ? AND parent_id = ? AND name_key = ? AND deleted = ?`,
		m.mb, parentID, strings.ToLower(name), false)
}

// parentFor resolves (creating if create is set, unsubscribed if
// unsubscribed is set) the parent folders of comps and returns the parent
// (nil for the root).
func (m *mutation) parentFor(path string, comps []string, create, unsubscribed bool) (*Folder, error) {
	var parent *Folder
	for _, c := range comps[:len(comps)-1] {
		pid := ""
		if parent != nil {
			pid = parent.StableID
		}
		f, err := m.child(pid, c)
		if err != nil {
			return nil, err
		}
		if f == nil {
			if !create {
				return nil, errFolderNotFound(path)
			}
			p := c
			if parent != nil {
				p = parent.Path + Delimiter + c
			}
			if f, err = m.insertFolder(pid, c, p, FolderOptions{Class: classOf(parent), Unsubscribed: unsubscribed}); err != nil {
				return nil, err
			}
		}
		parent = f
	}
	return parent, nil
}

func classOf(parent *Folder) string {
	if parent == nil {
		return ClassNote
	}
	return parent.Class
}

func validFolderOptions(o FolderOptions) error {
	switch o.Class {
	case "", ClassNote, ClassAppointment, ClassContact, ClassTask:
	default:
		return errs.Invalidf("InvalidFolderClass", "folder class %q is not supported", o.Class).
			WithHint("use IPF.Note, IPF.Appointment, IPF.Contact or IPF.Task")
	}
	switch o.SpecialUse {
	case "", UseInbox, UseSent, UseDrafts, UseTrash, UseJunk, UseArchive:
	default:
		return errs.Invalidf("InvalidSpecialUse", "special use %q is not supported", o.SpecialUse).
			WithHint(`use \Inbox, \Sent, \Drafts, \Trash, \Junk or \Archive`)
	}
	if len(o.Origin) > 512 || !utf8.ValidString(o.Origin) || strings.IndexByte(o.Origin, 0) >= 0 {
		return errs.Invalidf("InvalidOrigin", "the folder origin is not a valid key").WithHint("use at most 512 bytes of UTF-8 text")
	}
	return validProps(o.Props)
}

// insertFolder creates a folder row with a new stable id and UIDVALIDITY,
// stamped with the mutation's MODSEQ.
func (m *mutation) insertFolder(parentID, name, path string, o FolderOptions) (*Folder, error) {
	if o.Class == "" {
		o.Class = ClassNote
	}
	if o.SpecialUse != "" {
		var one int
		err := m.tx.QueryRowContext(m.ctx, `SELECT 1 FROM folders WHERE mailbox_id = ? AND special_use = ? AND deleted = ?`, m.mb, o.SpecialUse, false).Scan(&one)
		if err == nil {
			return nil, errSpecialUseTaken(path, o.SpecialUse)
		}
		if !db.IsNoRows(err) {
			return nil, errs.Internalf(err, "check special use")
		}
	}
	var next int64
	if err := m.tx.QueryRowContext(m.ctx, `UPDATE mailboxes SET next_uidvalidity = next_uidvalidity + 1 WHERE id = ? RETURNING next_uidvalidity`, m.mb).Scan(&next); err != nil {
		return nil, errs.Internalf(err, "allocate UIDVALIDITY")
	}
	f := m.newFolder(parentID, name, path, o)
	f.UIDValidity = uint32(next - 1)
	err := m.tx.QueryRowContext(m.ctx, `INSERT INTO folders `+folderInsertCols+` VALUES `+folderInsertRow+` RETURNING id`,
		m.folderInsertArgs(f)...).Scan(&f.ID)
	if db.IsUnique(err) {
		if o.Origin != "" {
			if g, _ := queryFolder(m.ctx, m.tx, `mailbox_id = ? AND origin = ? AND deleted = ?`, m.mb, o.Origin, false); g != nil {
				return nil, errFolderOriginExists(o.Origin, g.Path)
			}
		}
		return nil, errFolderExists(path)
	}
	if err != nil {
		return nil, errs.Internalf(err, "create folder %q", path)
	}
	m.changed = true
	m.emit(Event{Kind: EventFolders, FolderID: f.ID})
	return f, nil
}

// newFolder is the folder name (at path, under the folder of stable id
// parentID, "" at the root) that the mutation is about to insert, with
// options o; its UIDVALIDITY and ID are the caller's to set.
func (m *mutation) newFolder(parentID, name, path string, o FolderOptions) *Folder {
	return &Folder{
		MailboxID: m.mb, StableID: uuid.NewString(), ParentID: parentID, Name: name, Path: path,
		Class: o.Class, SpecialUse: o.SpecialUse, UIDNext: 1,
		ModSeq: m.modseq, Subscribed: !o.Unsubscribed, Origin: o.Origin, CreatedAt: db.Time(db.Now()),
		Props: parseProps(propString(o.Props)),
	}
}

// folderInsertCols and folderInsertRow are the columns and one row of
// placeholders of a folder INSERT; folderInsertArgs gives the row's values.
const (
	folderInsertCols = `(mailbox_id, stable_id, parent_id, name, name_key, path, path_key, class, special_use,
		uidvalidity, uidnext, modseq, deleted, subscribed, origin, created_at, props)`
	folderInsertRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`
)

// folderInsertArgs are the values of folder f's row in folderInsertRow.
func (m *mutation) folderInsertArgs(f *Folder) []any {
	return []any{m.mb, f.StableID, f.ParentID, f.Name, strings.ToLower(f.Name), f.Path, strings.ToLower(f.Path), f.Class, f.SpecialUse,
		int64(f.UIDValidity), m.modseq, false, f.Subscribed, nullString(f.Origin), db.Millis(f.CreatedAt), propString(f.Props)}
}

// CreateFolder creates a folder by path, creating missing parents. A live
// folder at that path is a FolderExists error; with opts.Origin set and a
// folder of that origin present, that folder is returned instead
// (idempotent replication). The root name INBOX (any case) creates the
// \Inbox folder when the mailbox has none, and otherwise means it.
func (s *Store) CreateFolder(ctx context.Context, mailboxID int64, path string, opts FolderOptions) (*Folder, error) {
	comps, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	if err := validFolderOptions(opts); err != nil {
		return nil, err
	}
	var out *Folder
	err = s.mutate(ctx, mailboxID, func(m *mutation) error {
		var err error
		out, err = m.createFolder(path, comps, opts)
		return err
	})
	return out, err
}

// createFolder is CreateFolder inside the mutation m.
func (m *mutation) createFolder(path string, comps []string, opts FolderOptions) (*Folder, error) {
	if opts.Origin != "" {
		f, err := queryFolder(m.ctx, m.tx, `mailbox_id = ? AND origin = ? AND deleted = ?`, m.mb, opts.Origin, false)
		if err != nil || f != nil {
			return f, err
		}
	}
	parent, err := m.parentFor(path, comps, true, opts.Unsubscribed)
	if err != nil {
		return nil, err
	}
	name := comps[len(comps)-1]
	pid, p := "", name
	if parent != nil {
		pid, p = parent.StableID, parent.Path+Delimiter+name
	}
	if ex, err := m.child(pid, name); err != nil {
		return nil, err
	} else if ex != nil {
		return nil, errFolderExists(ex.Path)
	}
	o := opts
	if o.Class == "" {
		o.Class = classOf(parent)
	}
	if parent == nil && strings.EqualFold(name, "INBOX") && o.SpecialUse == "" {
		o.SpecialUse = UseInbox
	}
	return m.insertFolder(pid, name, p, o)
}

// SetSubscribed subscribes or unsubscribes a folder.
func (s *Store) SetSubscribed(ctx context.Context, mailboxID, folderID int64, subscribed bool) error {
	return s.mutate(ctx, mailboxID, func(m *mutation) error {
		f, err := liveFolder(ctx, m.tx, mailboxID, folderID)
		if err != nil || f.Subscribed == subscribed {
			return err
		}
		if _, err := m.tx.ExecContext(ctx, `UPDATE folders SET subscribed = ?, modseq = ? WHERE id = ?`, subscribed, m.modseq, folderID); err != nil {
			return errs.Internalf(err, "subscribe folder %q", f.Path)
		}
		m.changed = true
		m.emit(Event{Kind: EventFolders, FolderID: folderID})
		return nil
	})
}

// Subscriptions returns the subscription list of a mailbox (IMAP's LSUB):
// one folder per path (compared lower-cased) that is subscribed, live or
// deleted. A deleted folder keeps its subscription (RFC 3501 section
// 6.3.9: a name stays subscribed when its mailbox no longer exists), so a
// path is subscribed while any folder row at it, live or deleted, is. The
// live folder at a path is returned when it exists (with Deleted false,
// even if only a deleted folder at that path carried the subscription),
// otherwise the most recently deleted one. Order: parents before children.
func (s *Store) Subscriptions(ctx context.Context, mailboxID int64) ([]Folder, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT `+folderCols+` FROM folders
		WHERE mailbox_id = ? AND (subscribed = ? OR deleted = ?) ORDER BY deleted, id DESC`, mailboxID, true, false)
	if err != nil {
		return nil, errs.Internalf(err, "list subscriptions of mailbox %d", mailboxID)
	}
	defer rows.Close()
	byKey := map[string]int{}
	var all []Folder
	subscribed := map[string]bool{}
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, errs.Internalf(err, "list subscriptions of mailbox %d", mailboxID)
		}
		k := strings.ToLower(f.Path)
		subscribed[k] = subscribed[k] || f.Subscribed
		if _, ok := byKey[k]; !ok { // live rows come first, then the latest deleted
			byKey[k] = len(all)
			all = append(all, *f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "list subscriptions of mailbox %d", mailboxID)
	}
	var out []Folder
	for _, f := range all {
		if subscribed[strings.ToLower(f.Path)] {
			f.Subscribed = true
			out = append(out, f)
		}
	}
	sortFolders(out)
	return out, nil
}

// Unsubscribe removes a path from the subscription list: every folder at
// it, live or deleted, is unsubscribed (see Subscriptions). A path that is
// not subscribed changes nothing; one that no folder ever had is a
// FolderNotFound error.
func (s *Store) Unsubscribe(ctx context.Context, mailboxID int64, path string) error {
	return s.mutate(ctx, mailboxID, func(m *mutation) error {
		key, err := resolvePathKey(ctx, m.tx, mailboxID, path)
		if err != nil {
			return err
		}
		rows, err := m.tx.QueryContext(ctx, `SELECT id, subscribed FROM folders WHERE mailbox_id = ? AND path_key = ?`, mailboxID, key)
		if err != nil {
			return errs.Internalf(err, "unsubscribe %q", path)
		}
		var ids []int64
		found := false
		for rows.Next() {
			var id int64
			var sub bool
			if err := rows.Scan(&id, &sub); err != nil {
				rows.Close()
				return errs.Internalf(err, "unsubscribe %q", path)
			}
			found = true
			if sub {
				ids = append(ids, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Internalf(err, "unsubscribe %q", path)
		}
		if !found {
			return errFolderNotFound(path)
		}
		for _, id := range ids {
			if _, err := m.tx.ExecContext(ctx, `UPDATE folders SET subscribed = ?, modseq = ? WHERE id = ?`, false, m.modseq, id); err != nil {
				return errs.Internalf(err, "unsubscribe %q", path)
			}
			m.changed = true
			m.emit(Event{Kind: EventFolders, FolderID: id})
		}
		return nil
	})
}
