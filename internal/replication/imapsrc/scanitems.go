package imapsrc

import (
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// pageUIDs is how many mirror messages of a folder are compared with the
// server per round trip.
const pageUIDs = 2000

// writeBatch is how many new messages are written per transaction.
const writeBatch = 500

// mitem is a live message of the mirror.
type mitem struct {
	id    int64
	uid   uint32
	flags string
	msgID string
	size  int64
	date  int64
}

// matchKey identifies a message across folders and UIDVALIDITYs: its
// Message-ID, size and internal date ("" without a Message-ID).
func matchKey(msgID string, size, date int64) string {
	if msgID == "" {
		return ""
	}
	return msgID + "\x00" + strconv.FormatInt(size, 10) + "\x00" + strconv.FormatInt(date, 10)
}

// markGone records a mirror message the server no longer has where the
// mirror had it; finish deletes it unless a new message matches it.
func (sc *scanner) markGone(it mitem) {
	if _, ok := sc.keyOf[it.id]; ok {
		return
	}
	k := matchKey(it.msgID, it.size, it.date)
	sc.keyOf[it.id] = k
	if k != "" {
		sc.gone[k] = append(sc.gone[k], it.id)
	}
}

// items reads live mirror messages of a folder under a UIDVALIDITY (0:
// any), with UIDs in [from, to) (to 0: no bound), in UID order, at most
// limit.
func (sc *scanner) items(folder int64, uidvalidity uint32, from, to uint32, limit int) ([]mitem, error) {
	q := `SELECT id, uid, flags, message_id, size, internal_date FROM imap_items WHERE folder_id = ? AND deleted = ? AND uid >= ?`
	args := []any{folder, false, int64(from)}
	if uidvalidity != 0 {
		q += ` AND uidvalidity = ?`
		args = append(args, int64(uidvalidity))
	}
	if to != 0 {
		q += ` AND uid < ?`
		args = append(args, int64(to))
	}
	q += ` ORDER BY uid, id LIMIT ?`
	args = append(args, limit)
	rows, err := sc.s.d.Read().QueryContext(sc.ctx, q, args...)
	if err != nil {
		return nil, errs.Internalf(err, "read the IMAP mirror's messages")
	}
	defer rows.Close()
	var out []mitem
	for rows.Next() {
		var it mitem
		var uid int64
		if err := rows.Scan(&it.id, &uid, &it.flags, &it.msgID, &it.size, &it.date); err != nil {
			return nil, errs.Internalf(err, "read the IMAP mirror's messages")
		}
		it.uid = uint32(uid)
		out = append(out, it)
	}
	return out, rows.Err()
}

// goneFolder marks every live message of a mirror folder gone, except
// those under the UIDVALIDITY keep (0: all).
func (sc *scanner) goneFolder(m *mfolder, keep uint32) error {
	var last int64
	for {
		rows, err := sc.s.d.Read().QueryContext(sc.ctx, `SELECT id, uid, flags, message_id, size, internal_date FROM imap_items
			WHERE folder_id = ? AND deleted = ? AND uidvalidity <> ? AND id > ? ORDER BY id LIMIT ?`, m.id, false, int64(keep), last, pageUIDs)
		if err != nil {
			return errs.Internalf(err, "read the IMAP mirror's messages")
		}
		n := 0
		for rows.Next() {
			var it mitem
			var uid int64
			if err := rows.Scan(&it.id, &uid, &it.flags, &it.msgID, &it.size, &it.date); err != nil {
				rows.Close()
				return errs.Internalf(err, "read the IMAP mirror's messages")
			}
			sc.markGone(it)
			last = it.id
			n++
		}
		rows.Close()
		if n < pageUIDs {
			return nil
		}
	}
}

// examine selects a folder read-only and checks that its UIDVALIDITY is
// the one the scan works with.
func (sc *scanner) examine(l *listed) error {
	s := sc.s
	if s.selected == l.name {
		return nil
	}
	s.selected, s.selectedUV = "", 0
	d, err := sc.c.c.Select(l.name, &imap.SelectOptions{ReadOnly: true, CondStore: sc.caps.Has(imap.CapCondStore)}).Wait()
	if err != nil {
		return err
	}
	if d.UIDValidity != l.uidvalidity {
		return unreachable(s.srv.URL, "folder %q changed its UIDVALIDITY during the scan; the next pass retries", l.name)
	}
	s.selected, s.selectedUV = l.name, d.UIDValidity
	return nil
}

// flagString normalizes server flags into the mirror's form.
func flagString(fs []imap.Flag) string {
	ss := make([]string, len(fs))
	for i, f := range fs {
		ss[i] = string(f)
	}
	return strings.Join(mailstore.CleanFlags(ss), " ")
}

// changes finds the flag changes and expunges of a folder the mirror knows
// under the same UIDVALIDITY; a new UIDVALIDITY makes all its old messages
// gone.
func (sc *scanner) changes(l *listed) error {
	m := l.m
	if l.noselect || m == nil || m.uidvalidity == 0 {
		return nil
	}
	if l.uidvalidity != m.uidvalidity {
		return sc.goneFolder(m, l.uidvalidity)
	}
	condstore := sc.caps.Has(imap.CapCondStore) && l.highest > 0 && m.highest > 0
	if condstore && l.uidnext == m.uidnext && l.messages == m.messages && l.highest == m.highest {
		return nil // nothing changed
	}
	if m.uidnext <= 1 {
		return nil // no message was known: only additions
	}
	if err := sc.examine(l); err != nil {
		return err
	}
	if !condstore {
		return sc.compareFlags(l)
	}
	// Flags changed since the recorded HIGHESTMODSEQ.
	cmd := sc.c.c.Fetch(uidRange(1, m.uidnext-1), &imap.FetchOptions{UID: true, Flags: true, ChangedSince: m.highest})
	changed := map[uint32]string{}
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return err
		}
		if buf.UID != 0 {
			changed[uint32(buf.UID)] = flagString(buf.Flags)
		}
		if len(changed) >= pageUIDs {
			if err := sc.applyFlags(l, changed); err != nil {
				cmd.Close()
				return err
			}
			changed = map[uint32]string{}
		}
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if err := sc.applyFlags(l, changed); err != nil {
		return err
	}
	// Expunges: the UIDs below the recorded UIDNEXT the server still has.
	res, err := sc.c.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{uidRange(1, m.uidnext-1)}}, nil).Wait()
	if err != nil {
		return err
	}
	have, _ := res.All.(imap.UIDSet)
	var onServer int64
	for _, r := range have {
		if r.Stop >= r.Start && r.Start > 0 {
			onServer += int64(r.Stop-r.Start) + 1
		}
	}
	var known int64
	if err := sc.s.d.Read().QueryRowContext(sc.ctx, `SELECT COUNT(*) FROM imap_items WHERE folder_id = ? AND uidvalidity = ? AND deleted = ? AND uid < ?`,
		m.id, int64(m.uidvalidity), false, int64(m.uidnext)).Scan(&known); err != nil {
		return errs.Internalf(err, "count the IMAP mirror's messages")
	}
	if onServer == known {
		return nil
	}
	for from := uint32(1); ; {
		page, err := sc.items(m.id, m.uidvalidity, from, m.uidnext, pageUIDs)
		if err != nil {
			return err
		}
		for _, it := range page {
			if !have.Contains(imap.UID(it.uid)) {
				sc.markGone(it)
			}
		}
		if len(page) < pageUIDs {
			return nil
		}
		from = page[len(page)-1].uid + 1
	}
}

func uidRange(from, to uint32) imap.UIDSet {
	return imap.UIDSet{{Start: imap.UID(from), Stop: imap.UID(to)}}
}

// compareFlags is the change check without CONDSTORE: the flags of every
// known message, a page of UIDs per command; a UID the server does not
// return was expunged.
func (sc *scanner) compareFlags(l *listed) error {
	m := l.m
	for from := uint32(1); ; {
		page, err := sc.items(m.id, m.uidvalidity, from, 0, pageUIDs)
		if err != nil || len(page) == 0 {
			return err
		}
		got := map[uint32]string{}
		cmd := sc.c.c.Fetch(uidRange(page[0].uid, page[len(page)-1].uid), &imap.FetchOptions{UID: true, Flags: true})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if buf.UID != 0 {
				got[uint32(buf.UID)] = flagString(buf.Flags)
			}
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		changed := map[uint32]string{}
		for _, it := range page {
			f, ok := got[it.uid]
			switch {
			case !ok:
				sc.markGone(it)
			case f != it.flags:
				changed[it.uid] = f
			}
		}
		if err := sc.applyFlags(l, changed); err != nil {
			return err
		}
		if len(page) < pageUIDs {
			return nil
		}
		from = page[len(page)-1].uid + 1
	}
}

// applyFlags records changed flags (by UID) under the scan's MODSEQ.
func (sc *scanner) applyFlags(l *listed, changed map[uint32]string) error {
	if len(changed) == 0 {
		return nil
	}
	ms, err := sc.modseq()
	if err != nil {
		return err
	}
	n := 0
	err = sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
		n = 0
		for uid, f := range changed {
			res, err := tx.ExecContext(sc.ctx, `UPDATE imap_items SET flags = ?, modseq = ? WHERE folder_id = ? AND uidvalidity = ? AND uid = ? AND deleted = ? AND flags <> ?`,
				f, ms, l.m.id, int64(l.uidvalidity), int64(uid), false, f)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return errs.Internalf(err, "record flag changes in the IMAP mirror")
	}
	sc.stats.flags += n
	return nil
}

// newItem is a message the scan found that the mirror does not have.
type newItem struct {
	uid     uint32
	flags   string
	size    int64
	date    int64
	msgID   string
	subject string
}

// headerFields are fetched with every new message: the Message-ID matches
// moves, the Subject names skipped items.
var headerFields = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID", "Subject"}, Peek: true}

// additions fetches the metadata of the messages the mirror lacks — above
// the recorded UIDNEXT, or all of them under a new UIDVALIDITY — and
// records them: as a moved message when one gone elsewhere matches,
// otherwise as a new one.
func (sc *scanner) additions(l *listed) error {
	m := l.m
	if l.noselect || m == nil {
		return nil
	}
	from := uint32(1)
	if m.uidvalidity == l.uidvalidity && m.uidnext > 1 {
		from = m.uidnext
	}
	// Messages a scan killed half way already recorded.
	known := map[uint32]mitem{}
	for f := from; ; {
		page, err := sc.items(m.id, l.uidvalidity, f, 0, pageUIDs)
		if err != nil {
			return err
		}
		for _, it := range page {
			known[it.uid] = it
		}
		if len(page) < pageUIDs {
			break
		}
		f = page[len(page)-1].uid + 1
	}
	if l.uidnext != 0 && from >= l.uidnext && len(known) == 0 {
		return nil
	}
	if err := sc.examine(l); err != nil {
		return err
	}
	cmd := sc.c.c.Fetch(imap.UIDSet{{Start: imap.UID(from), Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true,
		InternalDate: true, BodySection: []*imap.FetchItemBodySection{headerFields}})
	var batch []newItem
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		it, err := readNew(msg)
		if err != nil {
			cmd.Close()
			return err
		}
		if it.uid < from {
			continue // "from:*" names the last message when none is above
		}
		if _, ok := known[it.uid]; ok {
			delete(known, it.uid)
			continue
		}
		batch = append(batch, it)
		if len(batch) >= writeBatch {
			if err := sc.record(l, batch); err != nil {
				cmd.Close()
				return err
			}
			batch = batch[:0]
		}
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	for _, it := range known {
		sc.markGone(it) // recorded by a killed scan, expunged since
	}
	return sc.record(l, batch)
}

// readNew reads one message's FETCH data.
func readNew(msg *imapclient.FetchMessageData) (newItem, error) {
	var it newItem
	for {
		item := msg.Next()
		if item == nil {
			return it, nil
		}
		switch d := item.(type) {
		case imapclient.FetchItemDataUID:
			it.uid = uint32(d.UID)
		case imapclient.FetchItemDataFlags:
			it.flags = flagString(d.Flags)
		case imapclient.FetchItemDataRFC822Size:
			it.size = d.Size
		case imapclient.FetchItemDataInternalDate:
			it.date = d.Time.UnixMilli()
		case imapclient.FetchItemDataBodySection:
			if d.Literal != nil {
				b, err := io.ReadAll(io.LimitReader(d.Literal, 64<<10))
				if err != nil {
					return it, err
				}
				h := mailstore.ParseHeader(b)
				it.msgID, it.subject = h.MessageID, h.Subject
				if len(it.subject) > 255 {
					it.subject = strings.ToValidUTF8(it.subject[:255], "")
				}
			}
		}
	}
}

// record writes new messages into the mirror in one transaction: a message
// matching exactly one gone message takes over that message's id (a move,
// or a UIDVALIDITY reset), the others are inserted.
func (sc *scanner) record(l *listed, batch []newItem) error {
	if len(batch) == 0 {
		return nil
	}
	ms, err := sc.modseq()
	if err != nil {
		return err
	}
	var used map[string]int64 // match key → the gone id a new message took over
	err = sc.s.d.Write(sc.ctx, func(tx *db.Tx) error {
		used = map[string]int64{}
		for _, it := range batch {
			k := matchKey(it.msgID, it.size, it.date)
			if ids := sc.gone[k]; k != "" && len(ids) == 1 && used[k] == 0 {
				used[k] = ids[0]
				if _, err := tx.ExecContext(sc.ctx, `UPDATE imap_items SET folder_id = ?, uidvalidity = ?, uid = ?, flags = ?, modseq = ? WHERE id = ?`,
					l.m.id, int64(l.uidvalidity), int64(it.uid), it.flags, ms, ids[0]); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(sc.ctx, `INSERT INTO imap_items (move_id, folder_id, uidvalidity, uid, flags, size, internal_date, message_id, subject, modseq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sc.s.moveID, l.m.id, int64(l.uidvalidity), int64(it.uid), it.flags, it.size, it.date,
				it.msgID, it.subject, ms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return errs.Internalf(err, "record new messages in the IMAP mirror")
	}
	// Only now (committed) do the matched messages stop being gone.
	for k, id := range used {
		delete(sc.gone, k)
		delete(sc.keyOf, id)
	}
	sc.stats.moved += len(used)
	sc.stats.newItems += len(batch) - len(used)
	return nil
}
