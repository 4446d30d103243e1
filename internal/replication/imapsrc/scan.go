package imapsrc

import (
	"context"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// listed is one folder as the server lists it now.
type listed struct {
	name     string
	delim    string
	noselect bool
	special  string
	// Status (nil for a \Noselect folder).
	uidvalidity, uidnext, messages uint32
	highest                        uint64
	hasStatus                      bool
	synthetic                      bool // a parent the server does not list
	m                              *mfolder
}

// mfolder is a folder of the mirror.
type mfolder struct {
	id                             int64
	name, delim, leaf, special     string
	parent                         int64
	noselect                       bool
	uidvalidity, uidnext, messages uint32
	highest                        uint64
	seen                           bool // matched by a listed folder in this scan
}

// scanner is the state of one scan.
type scanner struct {
	s     *Source
	c     *conn
	ctx   context.Context
	caps  imap.CapSet
	ms    int64              // this scan's MODSEQ, 0 until the first change
	gone  map[string][]int64 // match key → ids of gone items that have a Message-ID
	keyOf map[int64]string   // gone id → its match key ("" for none)
	stats struct{ newItems, moved, flags, expunged, folders int }
}

// modseq returns the scan's MODSEQ, allocating (and committing) it on the
// first change.
func (sc *scanner) modseq() (int64, error) {
	if sc.ms != 0 {
		return sc.ms, nil
	}
	err := sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(sc.ctx, `INSERT INTO imap_mirror (move_id) VALUES (?) ON CONFLICT (move_id) DO NOTHING`, sc.s.moveID); err != nil {
			return err
		}
		return tx.QueryRowContext(sc.ctx, `UPDATE imap_mirror SET modseq = modseq + 1, scanned_at = ? WHERE move_id = ? RETURNING modseq`,
			db.Now(), sc.s.moveID).Scan(&sc.ms)
	})
	if err != nil {
		return 0, errs.Internalf(err, "allocate a MODSEQ of the IMAP mirror")
	}
	return sc.ms, nil
}

// scan brings the mirror up to date with the server.
func (s *Source) scan(ctx context.Context) error {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	sc := &scanner{s: s, c: c, ctx: ctx, caps: c.c.Caps(), gone: map[string][]int64{}, keyOf: map[int64]string{}}
	if err := sc.run(); err != nil {
		return s.broken(ctx, "scanning the mailbox", err)
	}
	if sc.ms != 0 {
		s.log.Info("imap source scanned", "move", s.moveID, "user", s.user, "new", sc.stats.newItems, "moved", sc.stats.moved,
			"flags", sc.stats.flags, "expunged", sc.stats.expunged, "folder_changes", sc.stats.folders)
	}
	return nil
}

func (sc *scanner) run() error {
	ls, err := sc.list()
	if err != nil {
		return err
	}
	mirror, err := sc.loadFolders()
	if err != nil {
		return err
	}
	sc.match(ls, mirror)
	assignSpecialUse(ls)
	if err := sc.writeHierarchy(ls); err != nil {
		return err
	}
	// Gone first (all folders), then new messages, so that a message that
	// moved between folders is matched wherever it went.
	for _, m := range mirror {
		if !m.seen {
			if err := sc.goneFolder(m, 0); err != nil {
				return err
			}
		}
	}
	for _, l := range ls {
		if err := sc.changes(l); err != nil {
			return err
		}
	}
	for _, l := range ls {
		if err := sc.additions(l); err != nil {
			return err
		}
	}
	return sc.finish(ls, mirror)
}

// list runs LIST (with SPECIAL-USE and STATUS return options when the
// server supports them, else STATUS per folder) and adds the parents the
// server does not list.
func (sc *scanner) list() ([]*listed, error) {
	var opts *imap.ListOptions
	extended := sc.caps.Has(imap.CapListExtended) || sc.caps.Has(imap.CapIMAP4rev2)
	statusItems := &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, HighestModSeq: sc.caps.Has(imap.CapCondStore)}
	if extended {
		opts = &imap.ListOptions{ReturnSpecialUse: sc.caps.Has(imap.CapSpecialUse)}
		if sc.caps.Has(imap.CapListStatus) || sc.caps.Has(imap.CapIMAP4rev2) {
			opts.ReturnStatus = statusItems
		}
	}
	data, err := sc.c.c.List("", "*", opts).Collect()
	if err != nil {
		return nil, err
	}
	var out []*listed
	byName := map[string]bool{}
	for _, d := range data {
		l := &listed{name: d.Mailbox}
		if d.Delim != 0 {
			l.delim = string(d.Delim)
		}
		skip := false
		for _, a := range d.Attrs {
			switch a {
			case imap.MailboxAttrNoSelect, imap.MailboxAttrNonExistent:
				l.noselect = true
			case imap.MailboxAttrAll, imap.MailboxAttrFlagged:
				skip = true // a virtual view of other folders' messages
			case imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash, imap.MailboxAttrJunk, imap.MailboxAttrArchive:
				l.special = string(a)
			}
		}
		if strings.EqualFold(l.name, "INBOX") {
			l.name, l.special = "INBOX", mailstore.UseInbox
		}
		if skip || byName[l.name] {
			continue
		}
		if d.Status != nil && !l.noselect {
			l.setStatus(d.Status)
		}
		byName[l.name] = true
		out = append(out, l)
	}
	// STATUS for the folders LIST did not report it for, pipelined.
	type pending struct {
		l   *listed
		cmd interface {
			Wait() (*imap.StatusData, error)
		}
	}
	var ps []pending
	for _, l := range out {
		if !l.noselect && !l.hasStatus {
			ps = append(ps, pending{l, sc.c.c.Status(l.name, statusItems)})
		}
	}
	for _, p := range ps {
		st, err := p.cmd.Wait()
		if err != nil {
			return nil, err
		}
		p.l.setStatus(st)
	}
	// Parents the server does not list are placeholders.
	for _, l := range append([]*listed(nil), out...) {
		if l.delim == "" {
			continue
		}
		parts := strings.Split(l.name, l.delim)
		for i := 1; i < len(parts); i++ {
			p := strings.Join(parts[:i], l.delim)
			if !byName[p] {
				byName[p] = true
				out = append(out, &listed{name: p, delim: l.delim, noselect: true, synthetic: true})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return depth(out[i]) < depth(out[j]) || depth(out[i]) == depth(out[j]) && out[i].name < out[j].name
	})
	return out, nil
}

func depth(l *listed) int {
	if l.delim == "" {
		return 0
	}
	return strings.Count(l.name, l.delim)
}

func (l *listed) setStatus(st *imap.StatusData) {
	l.hasStatus = true
	l.uidvalidity, l.uidnext, l.highest = st.UIDValidity, uint32(st.UIDNext), st.HighestModSeq
	if st.NumMessages != nil {
		l.messages = *st.NumMessages
	}
}

// loadFolders reads the live folders of the mirror.
func (sc *scanner) loadFolders() ([]*mfolder, error) {
	rows, err := sc.s.d.Read().QueryContext(sc.ctx, `SELECT id, name, delimiter, leaf, special_use, parent_id, noselect, uidvalidity, uidnext,
		messages, highest_modseq FROM imap_folders WHERE move_id = ? AND deleted = ? ORDER BY id`, sc.s.moveID, false)
	if err != nil {
		return nil, errs.Internalf(err, "read the IMAP mirror's folders")
	}
	defer rows.Close()
	var out []*mfolder
	for rows.Next() {
		m := &mfolder{}
		var uv, un, n, hi int64
		if err := rows.Scan(&m.id, &m.name, &m.delim, &m.leaf, &m.special, &m.parent, &m.noselect, &uv, &un, &n, &hi); err != nil {
			return nil, errs.Internalf(err, "read the IMAP mirror's folders")
		}
		m.uidvalidity, m.uidnext, m.messages, m.highest = uint32(uv), uint32(un), uint32(n), uint64(hi)
		out = append(out, m)
	}
	return out, rows.Err()
}

// match pairs listed folders with mirror folders: by name, else (a rename)
// by a UIDVALIDITY that exactly one vanished and one new folder share.
func (sc *scanner) match(ls []*listed, mirror []*mfolder) {
	byName := map[string]*mfolder{}
	for _, m := range mirror {
		byName[m.name] = m
	}
	var fresh []*listed
	for _, l := range ls {
		if m := byName[l.name]; m != nil {
			l.m, m.seen = m, true
		} else {
			fresh = append(fresh, l)
		}
	}
	count := map[uint32]int{}
	for _, l := range fresh {
		if l.uidvalidity != 0 {
			count[l.uidvalidity]++
		}
	}
	vanished := map[uint32][]*mfolder{}
	for _, m := range mirror {
		if !m.seen && m.uidvalidity != 0 {
			vanished[m.uidvalidity] = append(vanished[m.uidvalidity], m)
		}
	}
	for _, l := range fresh {
		if vs := vanished[l.uidvalidity]; l.uidvalidity != 0 && count[l.uidvalidity] == 1 && len(vs) == 1 {
			l.m, vs[0].seen = vs[0], true
		}
	}
}

// commonNames maps well-known folder names (lower case) to the special use
// they have on servers that do not announce SPECIAL-USE.
var commonNames = map[string]string{
	"sent": mailstore.UseSent, "sent items": mailstore.UseSent, "sent messages": mailstore.UseSent, "sent mail": mailstore.UseSent,
	"drafts": mailstore.UseDrafts, "draft": mailstore.UseDrafts,
	"trash": mailstore.UseTrash, "deleted items": mailstore.UseTrash, "deleted messages": mailstore.UseTrash, "bin": mailstore.UseTrash,
	"junk": mailstore.UseJunk, "spam": mailstore.UseJunk, "junk email": mailstore.UseJunk, "junk e-mail": mailstore.UseJunk, "bulk mail": mailstore.UseJunk,
	"archive": mailstore.UseArchive, "archives": mailstore.UseArchive,
}

// assignSpecialUse keeps each special use on one folder (the first that
// announces it) and gives the unannounced ones to a folder with a common
// name at the top level (or directly below INBOX, as Courier-style servers
// keep them).
func assignSpecialUse(ls []*listed) {
	taken := map[string]bool{}
	for _, l := range ls {
		if l.special != "" {
			if taken[l.special] || l.noselect {
				l.special = ""
				continue
			}
			taken[l.special] = true
		}
	}
	for _, l := range ls {
		if l.special != "" || l.noselect {
			continue
		}
		name := l.name
		if l.delim != "" && strings.HasPrefix(strings.ToUpper(name), "INBOX"+l.delim) {
			name = name[len("INBOX"+l.delim):]
		}
		if l.delim != "" && strings.Contains(name, l.delim) {
			continue
		}
		if use, ok := commonNames[strings.ToLower(name)]; ok && !taken[use] {
			l.special, taken[use] = use, true
		}
	}
}

// leafName is the last level of a server name, made a valid target folder
// name: the target's delimiter '/', IMAP wildcards and control characters
// become '_'.
func leafName(name, delim string) string {
	leaf := name
	if delim != "" {
		leaf = name[strings.LastIndex(name, delim)+len(delim):]
	}
	if !utf8.ValidString(leaf) {
		leaf = strings.ToValidUTF8(leaf, "_")
	}
	leaf = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '*' || r == '%' || string(r) == mailstore.Delimiter {
			return '_'
		}
		return r
	}, leaf)
	for len(leaf) > 255 {
		_, n := utf8.DecodeLastRuneInString(leaf)
		leaf = leaf[:len(leaf)-n]
	}
	if leaf == "" {
		leaf = "_"
	}
	return leaf
}

// writeHierarchy inserts new folders and records renames, moves and
// special-use changes, parents first, under the scan's MODSEQ.
func (sc *scanner) writeHierarchy(ls []*listed) error {
	ids := map[string]int64{}
	for _, l := range ls {
		parent := int64(0)
		if l.delim != "" {
			if i := strings.LastIndex(l.name, l.delim); i > 0 {
				parent = ids[l.name[:i]]
			}
		}
		leaf := leafName(l.name, l.delim)
		if m := l.m; m != nil {
			ids[l.name] = m.id
			if m.name == l.name && m.delim == l.delim && m.leaf == leaf && m.parent == parent && m.special == l.special && m.noselect == l.noselect {
				continue
			}
			ms, err := sc.modseq()
			if err != nil {
				return err
			}
			if err := sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
				_, err := tx.ExecContext(sc.ctx, `UPDATE imap_folders SET name = ?, delimiter = ?, leaf = ?, parent_id = ?, special_use = ?, noselect = ?, modseq = ?
					WHERE id = ?`, l.name, l.delim, leaf, parent, l.special, l.noselect, ms, m.id)
				return err
			}); err != nil {
				return errs.Internalf(err, "update the IMAP mirror's folder %q", l.name)
			}
			m.name, m.delim, m.leaf, m.parent, m.special, m.noselect = l.name, l.delim, leaf, parent, l.special, l.noselect
			sc.stats.folders++
			continue
		}
		ms, err := sc.modseq()
		if err != nil {
			return err
		}
		m := &mfolder{name: l.name, delim: l.delim, leaf: leaf, special: l.special, parent: parent, noselect: l.noselect, seen: true}
		if err := sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
			return tx.QueryRowContext(sc.ctx, `INSERT INTO imap_folders (move_id, name, delimiter, parent_id, leaf, special_use, noselect, modseq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, sc.s.moveID, l.name, l.delim, parent, leaf, l.special, l.noselect, ms).Scan(&m.id)
		}); err != nil {
			return errs.Internalf(err, "add folder %q to the IMAP mirror", l.name)
		}
		l.m, ids[l.name] = m, m.id
		sc.stats.folders++
	}
	return nil
}

// finish records what the scan saw, in one transaction: gone messages that
// did not reappear elsewhere become tombstones, vanished folders are
// deleted, and every folder's UIDVALIDITY, UIDNEXT, message count and
// HIGHESTMODSEQ advance (only now, after the rows they cover).
func (sc *scanner) finish(ls []*listed, mirror []*mfolder) error {
	var doomed []int64
	for id := range sc.keyOf {
		doomed = append(doomed, id)
	}
	var vanished []*mfolder
	for _, m := range mirror {
		if !m.seen {
			vanished = append(vanished, m)
		}
	}
	var states []*listed
	for _, l := range ls {
		if m := l.m; m != nil && !l.noselect && (m.uidvalidity != l.uidvalidity || m.uidnext != l.uidnext || m.messages != l.messages || m.highest != l.highest) {
			states = append(states, l)
		}
	}
	if len(doomed) == 0 && len(vanished) == 0 && len(states) == 0 {
		return nil
	}
	ms := sc.ms
	if len(doomed) > 0 || len(vanished) > 0 {
		var err error
		if ms, err = sc.modseq(); err != nil {
			return err
		}
	}
	sort.Slice(doomed, func(i, j int) bool { return doomed[i] < doomed[j] })
	err := sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
		for _, id := range doomed {
			if _, err := tx.ExecContext(sc.ctx, `UPDATE imap_items SET deleted = ?, modseq = ? WHERE id = ?`, true, ms, id); err != nil {
				return err
			}
		}
		for _, m := range vanished {
			if _, err := tx.ExecContext(sc.ctx, `UPDATE imap_folders SET deleted = ?, modseq = ? WHERE id = ?`, true, ms, m.id); err != nil {
				return err
			}
		}
		for _, l := range states {
			if _, err := tx.ExecContext(sc.ctx, `UPDATE imap_folders SET uidvalidity = ?, uidnext = ?, messages = ?, highest_modseq = ? WHERE id = ?`,
				int64(l.uidvalidity), int64(l.uidnext), int64(l.messages), int64(l.highest), l.m.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errs.Internalf(err, "record the scan in the IMAP mirror")
	}
	sc.stats.expunged += len(doomed)
	sc.stats.folders += len(vanished)
	return nil
}
