package mailstore

import (
	"context"
	"strconv"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrResyncRequired is returned by Tombstones for a cursor older than the
// mailbox's purge horizon: removals since then are no longer all recorded.
// The caller must resynchronise fully (list every live item and drop what
// it holds that is absent), then continue from the current MODSEQ.
var ErrResyncRequired = errs.Sentinel(errs.Conflict, "ResyncRequired")

// DefaultTombstoneRetention is how long tombstones are kept by default:
// long enough for incremental moves (which sync at least daily) and for
// CONDSTORE/QRESYNC clients that were offline for weeks. A consumer that
// comes back later resynchronises fully once (ErrResyncRequired); nothing
// is lost, it only costs one full listing.
const DefaultTombstoneRetention = 30 * 24 * time.Hour

// PurgeTombstones deletes the tombstones written before cutoff in every
// mailbox and raises each mailbox's purge horizon (PurgedUpTo) to the
// highest MODSEQ it purged, in the same transaction. It returns the number
// of tombstones deleted. Moved and deleted folder rows are kept.
func (s *Store) PurgeTombstones(ctx context.Context, cutoff time.Time) (int64, error) {
	type horizon struct{ mb, modseq int64 }
	rows, err := s.d.Read().QueryContext(ctx, `SELECT mailbox_id, MAX(modseq) FROM tombstones WHERE created_at < ? GROUP BY mailbox_id`, db.Millis(cutoff))
	if err != nil {
		return 0, errs.Internalf(err, "list old tombstones")
	}
	var hs []horizon
	for rows.Next() {
		var h horizon
		if err := rows.Scan(&h.mb, &h.modseq); err != nil {
			rows.Close()
			return 0, errs.Internalf(err, "list old tombstones")
		}
		hs = append(hs, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, errs.Internalf(err, "list old tombstones")
	}
	var total int64
	for _, h := range hs {
		err := s.d.Write(ctx, func(tx *db.Tx) error {
			// Horizon first: a reader checks it after reading tombstones,
			// so whichever rows it missed, it sees the raised horizon.
			if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET tombstones_purged = ? WHERE id = ? AND tombstones_purged < ?`, h.modseq, h.mb, h.modseq); err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE mailbox_id = ? AND modseq <= ?`, h.mb, h.modseq)
			if err != nil {
				return err
			}
			n, _ := r.RowsAffected()
			total += n
			return nil
		})
		if err != nil {
			return total, errs.Internalf(err, "purge tombstones of mailbox %d", h.mb)
		}
	}
	return total, nil
}

// PurgedUpTo returns the mailbox's purge horizon: tombstones with a MODSEQ
// up to it may be gone (0: none were purged). A QRESYNC implementation asked
// for expunges since an older MODSEQ answers with VANISHED (EARLIER) for
// every UID below UIDNEXT that is not present (RFC 7162 allows reporting
// UIDs the client never saw).
func (s *Store) PurgedUpTo(ctx context.Context, q db.Querier, mailboxID int64) (int64, error) {
	var h int64
	err := q.QueryRowContext(ctx, `SELECT tombstones_purged FROM mailboxes WHERE id = ?`, mailboxID).Scan(&h)
	if db.IsNoRows(err) {
		return 0, errMailboxNotFound(strconv.FormatInt(mailboxID, 10))
	}
	if err != nil {
		return 0, errs.Internalf(err, "read mailbox %d", mailboxID)
	}
	return h, nil
}

// checkHorizon fails with ErrResyncRequired when a feed read from since
// may have missed purged tombstones. Call it after reading them.
func (s *Store) checkHorizon(ctx context.Context, mailboxID, since int64) error {
	h, err := s.PurgedUpTo(ctx, s.d.Read(), mailboxID)
	if err != nil {
		return err
	}
	if since < h {
		return ErrResyncRequired.Newf("the removals in mailbox %d since MODSEQ %d were purged (kept from MODSEQ %d on)", mailboxID, since, h).
			WithObject(strconv.FormatInt(mailboxID, 10)).
			WithHint("resynchronise fully: list every item and drop what is absent, then continue from the current MODSEQ")
	}
	return nil
}

// ReferencedBlobs is the mailstore's blobstore.Referrer: which of shas the
// items of any mailbox reference, as seen by q. New registers it with the
// blob store.
func (s *Store) ReferencedBlobs(ctx context.Context, q db.Querier, shas []string) (map[string]bool, error) {
	return itemsReferrer(ctx, q, shas)
}

var itemsReferrer = blobstore.ReferrerQuery(`SELECT DISTINCT sha256 FROM items WHERE sha256 IN (`)

// RetiredBefore returns the mailboxes retired (the sources of completed
// moves) and not changed since cutoff.
func (s *Store) RetiredBefore(ctx context.Context, cutoff time.Time) ([]int64, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT id FROM mailboxes WHERE state = ? AND updated_at < ?`, string(StateRetired), db.Millis(cutoff))
	if err != nil {
		return nil, errs.Internalf(err, "list retired mailboxes")
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, errs.Internalf(err, "list retired mailboxes")
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
