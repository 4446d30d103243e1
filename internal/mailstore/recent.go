package mailstore

import (
	"context"
	"strconv"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// IMAP's \Recent (RFC 3501 section 2.3.2): a message is recent in exactly
// one session, the first to be told of it. Each folder keeps a boundary
// UID (folders.recent_uid): the messages at or above it have not been
// claimed by any session yet. Claiming moves the boundary up; it is a
// session-state change, not a change of the mailbox's content, so it
// raises no MODSEQ, publishes no event and is allowed in every mailbox
// state.

// ClaimRecent claims the folder's unclaimed messages below upto (at most
// the folder's UIDNEXT: UIDs not handed out yet stay unclaimed) for the
// caller: it moves the boundary to upto and returns the old boundary, so
// the caller's recent messages are the UIDs in [from, upto). When the
// boundary is already at or above upto nothing is claimed and from is
// upto. Concurrent claims (also from other processes sharing the
// database) never claim the same UID twice.
func (s *Store) ClaimRecent(ctx context.Context, mailboxID, folderID int64, upto uint32) (from uint32, err error) {
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		var next int64
		if err := tx.QueryRowContext(ctx, `SELECT uidnext FROM folders WHERE id = ? AND mailbox_id = ?`, folderID, mailboxID).Scan(&next); err == nil && int64(upto) > next {
			upto = uint32(next)
		}
		for {
			cur, err := recentUID(ctx, tx, mailboxID, folderID)
			if err != nil {
				return err
			}
			if cur >= upto {
				from = upto
				return nil
			}
			res, err := tx.ExecContext(ctx, `UPDATE folders SET recent_uid = ? WHERE id = ? AND recent_uid = ?`, int64(upto), folderID, int64(cur))
			if err != nil {
				return errs.Internalf(err, "claim recent messages of folder %d", folderID)
			}
			if n, err := res.RowsAffected(); err != nil {
				return errs.Internalf(err, "claim recent messages of folder %d", folderID)
			} else if n == 1 {
				from = cur
				return nil
			}
			// Another writer moved the boundary meanwhile: read it again.
		}
	})
	return from, err
}

// RecentFrom returns the folder's recent boundary without claiming: the
// messages at or above it are recent for the next session that claims
// them (a read-only EXAMINE shows them as recent too).
func (s *Store) RecentFrom(ctx context.Context, mailboxID, folderID int64) (uint32, error) {
	return recentUID(ctx, s.d.Read(), mailboxID, folderID)
}

// RecentCount returns the number of the folder's messages no session has
// claimed as recent yet (STATUS RECENT).
func (s *Store) RecentCount(ctx context.Context, mailboxID, folderID int64) (int64, error) {
	from, err := s.RecentFrom(ctx, mailboxID, folderID)
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.d.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE folder_id = ? AND uid >= ?`, folderID, int64(from)).Scan(&n); err != nil {
		return 0, errs.Internalf(err, "count recent messages of folder %d", folderID)
	}
	return n, nil
}

// recentUID reads the recent boundary of a live folder.
func recentUID(ctx context.Context, q db.Querier, mailboxID, folderID int64) (uint32, error) {
	var cur int64
	err := q.QueryRowContext(ctx, `SELECT recent_uid FROM folders WHERE id = ? AND mailbox_id = ? AND deleted = ?`, folderID, mailboxID, false).Scan(&cur)
	if db.IsNoRows(err) {
		return 0, errFolderNotFound(strconv.FormatInt(folderID, 10))
	}
	if err != nil {
		return 0, errs.Internalf(err, "read the recent boundary of folder %d", folderID)
	}
	return uint32(cur), nil
}
