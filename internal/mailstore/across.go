package mailstore

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/db"
)

// CopyAcross copies (or, with move, moves) the items of a folder whose UIDs
// are in uids to a folder of another mailbox of the same tenant, such as a
// mailbox's archive, in one transaction: the copies get new UIDs and the
// destination mailbox's MODSEQ; a move also expunges the originals, leaving
// tombstones in the source mailbox. The bytes are not copied: the new items
// reference the same blobs, which the tenant already holds. Mailboxes of
// different tenants are refused with ErrCrossTenantCopy, and locked or
// retired mailboxes as by every mutation. Both mailbox rows are taken in id
// order, so two opposite copies cannot deadlock.
func (s *Store) CopyAcross(ctx context.Context, srcMailbox, srcFolder int64, uids UIDSet, dstMailbox, dstFolder int64, move bool) (*CopyResult, error) {
	if srcMailbox == dstMailbox {
		if move {
			return s.Move(ctx, srcMailbox, srcFolder, uids, dstFolder)
		}
		return s.Copy(ctx, srcMailbox, srcFolder, uids, dstFolder)
	}
	var out *CopyResult
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		src, dst, err := beginPair(ctx, tx, srcMailbox, dstMailbox)
		if err != nil {
			return err
		}
		if _, err := liveFolder(ctx, tx, srcMailbox, srcFolder); err != nil {
			return err
		}
		df, err := liveFolder(ctx, tx, dstMailbox, dstFolder)
		if err != nil {
			return err
		}
		out = &CopyResult{UIDValidity: df.UIDValidity}
		rows, err := rowsBySet(ctx, tx, srcFolder, uids)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			if err := copyRowsTo(dst, rows, dstFolder, out); err != nil {
				return err
			}
			if move {
				if err := src.removeRows(rows); err != nil {
					return err
				}
			}
		}
		if err := s.finishMutation(src, true); err != nil {
			return err
		}
		return s.finishMutation(dst, true)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// beginPair begins mutations of two mailboxes of one tenant, locking their
// rows in id order.
func beginPair(ctx context.Context, tx *db.Tx, a, b int64) (ma, mb *mutation, err error) {
	first, second := a, b
	if b < a {
		first, second = b, a
	}
	m1, t1, err := beginMutation(ctx, tx, first)
	if err != nil {
		return nil, nil, err
	}
	m2, t2, err := beginMutation(ctx, tx, second)
	if err != nil {
		return nil, nil, err
	}
	if t1 != t2 {
		return nil, nil, ErrCrossTenantCopy.Newf("mailboxes %d and %d belong to different tenants", a, b)
	}
	if first == a {
		return m1, m2, nil
	}
	return m2, m1, nil
}

// copyRowsTo inserts copies of rows into folder of m's mailbox with new
// UIDs and records them in out.
func copyRowsTo(m *mutation, rows []itemRow, folder int64, out *CopyResult) error {
	first, _, err := m.allocUIDs(folder, len(rows))
	if err != nil {
		return err
	}
	copies := make([]itemRow, len(rows))
	for i, r := range rows {
		out.SourceUIDs = append(out.SourceUIDs, r.uid)
		r.folderID, r.uid, r.modseq, r.origin = folder, first+uint32(i), m.modseq, ""
		copies[i] = r
	}
	if err := m.insertRows(copies); err != nil {
		return err
	}
	for _, c := range copies {
		out.DestUIDs = append(out.DestUIDs, c.uid)
		out.ItemIDs = append(out.ItemIDs, c.id)
	}
	m.emitByFolder(EventAppended, copies, true)
	return nil
}
