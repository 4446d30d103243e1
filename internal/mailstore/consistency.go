package mailstore

import (
	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"

	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrInconsistent: CheckConsistency found rows that break the store's
// invariants (a bug, never a user error).
var ErrInconsistent = errs.Sentinel(errs.Internal, "StoreInconsistent")

// consistencyChecks are the store's invariants as queries that return the
// rows breaking them (at most a few each).
var consistencyChecks = []db.Invariant{
	{Name: "an item's MODSEQ is above its mailbox's highest MODSEQ",
		Query: `SELECT i.id FROM items i JOIN mailboxes m ON m.id = i.mailbox_id WHERE i.modseq > m.modseq`},
	{Name: "a tombstone's MODSEQ is above its mailbox's highest MODSEQ",
		Query: `SELECT t.id FROM tombstones t JOIN mailboxes m ON m.id = t.mailbox_id WHERE t.modseq > m.modseq`},
	{Name: "a folder's MODSEQ is above its mailbox's highest MODSEQ",
		Query: `SELECT f.id FROM folders f JOIN mailboxes m ON m.id = f.mailbox_id WHERE f.modseq > m.modseq`},
	{Name: "an item's UID is not below its folder's UIDNEXT",
		Query: `SELECT i.id FROM items i JOIN folders f ON f.id = i.folder_id WHERE i.uid >= f.uidnext`},
	{Name: "an item lies in a folder of another mailbox",
		Query: `SELECT i.id FROM items i JOIN folders f ON f.id = i.folder_id WHERE f.mailbox_id <> i.mailbox_id`},
	{Name: "an item lies in a deleted folder",
		Query: `SELECT i.id FROM items i JOIN folders f ON f.id = i.folder_id WHERE f.deleted`},
	{Name: "a UID that was removed (tombstone) is live again in its folder",
		Query: `SELECT t.id FROM tombstones t JOIN items i ON i.folder_id = t.folder_id AND i.uid = t.uid`},
	{Name: `a folder's first \Recent UID is above its UIDNEXT`,
		Query: `SELECT f.id FROM folders f WHERE f.recent_uid > f.uidnext`},
}

// CheckConsistency checks the store's invariants over every mailbox in one
// read snapshot: MODSEQs never above their mailbox's highest, UIDs below
// their folder's UIDNEXT and never reused after a removal, items in live
// folders of their own mailbox, every item's blob present with the item's
// size. It returns ErrInconsistent naming each broken invariant and up to
// five offending row ids, or nil. Tests run it in their cleanup.
func (s *Store) CheckConsistency(ctx context.Context) error {
	tx, err := s.d.Snapshot(ctx)
	if err != nil {
		return errs.Internalf(err, "begin consistency check")
	}
	defer tx.Rollback()
	bad, err := db.CheckInvariants(ctx, tx, consistencyChecks)
	if err != nil {
		return errs.Internalf(err, "consistency check")
	}
	refs, err := itemBlobRefs(ctx, tx)
	if err != nil {
		return err
	}
	if msg, err := blobstore.CheckRefs(ctx, tx, refs, "an item refers to no blob, or to one of another size"); err != nil || msg != "" {
		if err != nil {
			return err
		}
		bad = append(bad, msg)
	}
	if len(bad) > 0 {
		return ErrInconsistent.Newf("the mailbox store is inconsistent: %s", strings.Join(bad, "; "))
	}
	return nil
}

// itemBlobRefs lists every item's blob reference, through q.
func itemBlobRefs(ctx context.Context, q db.Querier) ([]blobstore.RowRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, sha256, size FROM items`)
	if err != nil {
		return nil, errs.Internalf(err, "consistency check of blob references")
	}
	defer rows.Close()
	var refs []blobstore.RowRef
	for rows.Next() {
		var r blobstore.RowRef
		if err := rows.Scan(&r.Row, &r.SHA256, &r.Size); err != nil {
			return nil, errs.Internalf(err, "consistency check of blob references")
		}
		refs = append(refs, r)
	}
	return refs, rows.Err()
}
