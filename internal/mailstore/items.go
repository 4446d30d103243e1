package mailstore

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// FlagResult is the state of one item after StoreFlags.
type FlagResult struct {
	ItemID  int64    // stable item id
	UID     uint32   // UID in the folder
	Flags   []string // flags after the operation
	ModSeq  int64    // the item's MODSEQ after the operation
	Changed bool     // false: the item already had these flags (ModSeq unchanged)
}

// StoreFlags adds, removes or replaces flags on the items of a folder whose
// UIDs are in uids. It returns every matched item, by UID; only items whose
// flags actually change get the operation's MODSEQ.
func (s *Store) StoreFlags(ctx context.Context, mailboxID, folderID int64, uids UIDSet, op FlagOp, flags []string) ([]FlagResult, error) {
	out, _, err := s.StoreFlagsUnchangedSince(ctx, mailboxID, folderID, uids, op, flags, -1)
	return out, err
}

// StoreFlagsUnchangedSince is StoreFlags that leaves alone the items whose
// MODSEQ is above unchangedSince (a negative value: no condition) and
// returns their UIDs as modified, in the same transaction (RFC 7162's
// conditional STORE: a change made elsewhere is never overwritten).
func (s *Store) StoreFlagsUnchangedSince(ctx context.Context, mailboxID, folderID int64, uids UIDSet, op FlagOp, flags []string, unchangedSince int64) ([]FlagResult, []uint32, error) {
	arg, err := NormalizeFlags(flags)
	if err != nil {
		return nil, nil, err
	}
	var out []FlagResult
	var modified []uint32
	err = s.mutate(ctx, mailboxID, func(m *mutation) error {
		out, modified = nil, nil
		if _, err := liveFolder(ctx, m.tx, mailboxID, folderID); err != nil {
			return err
		}
		rows, err := rowsBySet(ctx, m.tx, folderID, uids)
		if err != nil {
			return err
		}
		groups := map[string][]int64{}
		var changed []itemRow
		for _, r := range rows {
			if unchangedSince >= 0 && r.modseq > unchangedSince {
				modified = append(modified, r.uid)
				continue
			}
			nf := applyFlags(parseFlags(r.flags), op, arg)
			res := FlagResult{ItemID: r.id, UID: r.uid, Flags: nf, ModSeq: r.modseq}
			if ns := flagString(nf); !strings.EqualFold(ns, r.flags) {
				groups[ns] = append(groups[ns], r.id)
				res.ModSeq, res.Changed = m.modseq, true
				r.flags = ns
				changed = append(changed, r)
			}
			out = append(out, res)
		}
		if err := m.setFlags(groups); err != nil {
			return err
		}
		m.emitByFolder(EventFlags, changed, true)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, modified, nil
}

// setFlags writes new flag strings (flags → item ids) with the MODSEQ.
func (m *mutation) setFlags(groups map[string][]int64) error {
	for flags, ids := range groups {
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			args := append([]any{flags, m.modseq}, int64Args(chunk)...)
			if _, err := m.tx.ExecContext(m.ctx, `UPDATE items SET flags = ?, modseq = ? WHERE id IN (`+db.InList(len(chunk))+`)`, args...); err != nil {
				return errs.Internalf(err, "store flags")
			}
		}
		m.changed = true
	}
	return nil
}

// CopyResult maps source UIDs to destination UIDs (IMAP COPYUID).
type CopyResult struct {
	// UIDValidity is the destination folder's.
	UIDValidity uint32
	// SourceUIDs and DestUIDs are parallel, ascending by source UID.
	SourceUIDs []uint32
	DestUIDs   []uint32 // UIDs in the destination, parallel to SourceUIDs
	// ItemIDs are the destination items' ids (new for Copy, unchanged for
	// Move).
	ItemIDs []int64
}

// Copy copies the items of a folder whose UIDs are in uids to another
// folder of the same mailbox: new items with new ids and UIDs, the same
// content blobs, flags and internal dates (no origin).
func (s *Store) Copy(ctx context.Context, mailboxID, folderID int64, uids UIDSet, destID int64) (*CopyResult, error) {
	return s.transfer(ctx, mailboxID, folderID, uids, destID, func(m *mutation, rows []itemRow, _ *Folder, out *CopyResult) error {
		if len(rows) == 0 {
			return nil
		}
		return copyRowsTo(m, rows, destID, out)
	})
}

// Move moves the items of a folder whose UIDs are in uids to another folder
// of the same mailbox. The items keep their ids (and origin); they get new
// UIDs in the destination and leave tombstones with Moved set.
func (s *Store) Move(ctx context.Context, mailboxID, folderID int64, uids UIDSet, destID int64) (*CopyResult, error) {
	return s.transfer(ctx, mailboxID, folderID, uids, destID, func(m *mutation, rows []itemRow, dst *Folder, out *CopyResult) error {
		newUIDs, err := m.moveRows(rows, dst)
		if err != nil {
			return err
		}
		for _, r := range rows {
			out.SourceUIDs = append(out.SourceUIDs, r.uid)
			out.ItemIDs = append(out.ItemIDs, r.id)
		}
		out.DestUIDs = newUIDs
		return nil
	})
}

// transfer is Copy's and Move's common part: in one mutation, both folders
// must be live; the rows of uids in the source folder are handed to f with
// the destination folder and the result to fill (its UIDValidity set).
func (s *Store) transfer(ctx context.Context, mailboxID, folderID int64, uids UIDSet, destID int64,
	f func(m *mutation, rows []itemRow, dst *Folder, out *CopyResult) error) (*CopyResult, error) {
	var out *CopyResult
	err := s.mutate(ctx, mailboxID, func(m *mutation) error {
		if _, err := liveFolder(ctx, m.tx, mailboxID, folderID); err != nil {
			return err
		}
		dst, err := liveFolder(ctx, m.tx, mailboxID, destID)
		if err != nil {
			return err
		}
		out = &CopyResult{UIDValidity: dst.UIDValidity}
		rows, err := rowsBySet(ctx, m.tx, folderID, uids)
		if err != nil {
			return err
		}
		return f(m, rows, dst, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Expunge removes the items of a folder that have the \Deleted flag; with a
// non-nil uids only those whose UIDs are also in uids (UID EXPUNGE). It
// returns the expunged UIDs, ascending; each leaves a tombstone.
func (s *Store) Expunge(ctx context.Context, mailboxID, folderID int64, uids UIDSet) ([]uint32, error) {
	if uids == nil {
		uids = AllUIDs
	}
	var out []uint32
	err := s.mutate(ctx, mailboxID, func(m *mutation) error {
		out = nil
		if _, err := liveFolder(ctx, m.tx, mailboxID, folderID); err != nil {
			return err
		}
		rows, err := rowsBySet(ctx, m.tx, folderID, uids)
		if err != nil {
			return err
		}
		var del []itemRow
		for _, r := range rows {
			if HasFlag(parseFlags(r.flags), FlagDeleted) {
				del = append(del, r)
				out = append(out, r.uid)
			}
		}
		return m.removeRows(del)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ItemUpdate is one change to an item, addressed by item id (replication).
type ItemUpdate struct {
	ItemID int64 // the item to change
	// Delete removes the item (a tombstone is left); the other fields are
	// ignored.
	Delete bool
	// MoveTo moves the item to this folder when it is not 0 and not the
	// item's folder.
	MoveTo int64
	// SetFlags replaces the item's flags with Flags.
	SetFlags bool
	Flags    []string // the new flags when SetFlags
}

// UpdateResult reports what UpdateItems did.
type UpdateResult struct {
	Changed int     // items changed
	Missing []int64 // ids not in the mailbox (already deleted): skipped
}

// UpdateItems applies changes addressed by item id in one transaction and
// one MODSEQ (replication's incremental pass: flag changes, moves between
// folders, deletions). A later update of the same item replaces an earlier
// one. Updates that change nothing and ids that no longer exist are skipped,
// so a replay is harmless. hook, when not nil, runs in the same transaction
// (replication advances its watermark there), even if nothing changed.
func (s *Store) UpdateItems(ctx context.Context, mailboxID int64, updates []ItemUpdate, hook func(tx *db.Tx) error) (*UpdateResult, error) {
	last := map[int64]int{}
	var ids []int64
	norm := make([][]string, len(updates))
	for i, u := range updates {
		if _, ok := last[u.ItemID]; !ok {
			ids = append(ids, u.ItemID)
		}
		last[u.ItemID] = i
		if u.SetFlags && !u.Delete {
			f, err := NormalizeFlags(u.Flags)
			if err != nil {
				return nil, err
			}
			norm[i] = f
		}
	}
	var out *UpdateResult
	err := s.mutate(ctx, mailboxID, func(m *mutation) error {
		out = &UpdateResult{}
		rows, err := rowsByID(ctx, m.tx, mailboxID, ids)
		if err != nil {
			return err
		}
		byID := make(map[int64]itemRow, len(rows))
		for _, r := range rows {
			byID[r.id] = r
		}
		var del, flagged []itemRow
		moves := map[int64][]itemRow{}
		var moveOrder []int64
		groups := map[string][]int64{}
		for _, id := range ids {
			r, ok := byID[id]
			if !ok {
				out.Missing = append(out.Missing, id)
				continue
			}
			u := updates[last[id]]
			if u.Delete {
				del = append(del, r)
				out.Changed++
				continue
			}
			changed := false
			if u.SetFlags {
				if ns := flagString(norm[last[id]]); !strings.EqualFold(ns, r.flags) {
					r.flags = ns
					groups[ns] = append(groups[ns], id)
					changed = true
				}
			}
			if u.MoveTo != 0 && u.MoveTo != r.folderID {
				if _, ok := moves[u.MoveTo]; !ok {
					moveOrder = append(moveOrder, u.MoveTo)
				}
				moves[u.MoveTo] = append(moves[u.MoveTo], r)
				changed = true
			} else if changed {
				flagged = append(flagged, r)
			}
			if changed {
				out.Changed++
			}
		}
		if err := m.setFlags(groups); err != nil {
			return err
		}
		m.emitByFolder(EventFlags, flagged, true)
		for _, fid := range moveOrder {
			dst, err := liveFolder(ctx, m.tx, mailboxID, fid)
			if err != nil {
				return err
			}
			if _, err := m.moveRows(moves[fid], dst); err != nil {
				return err
			}
		}
		if err := m.removeRows(del); err != nil {
			return err
		}
		if hook != nil {
			m.keep = true
			return hook(m.tx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
