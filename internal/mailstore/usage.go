package mailstore

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Usage is what quotas are measured against: the bytes of every item
// (messages and groupware objects, in every folder) a mailbox holds.
// It is summed from the items themselves, so it cannot drift from them;
// the items_changes index (mailbox_id first) keeps it a range scan.
func (s *Store) Usage(ctx context.Context, mailboxID int64) (int64, error) {
	var n int64
	err := s.d.Read().QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM items WHERE mailbox_id = ?`, mailboxID).Scan(&n)
	if err != nil {
		return 0, errs.Internalf(err, "measure mailbox %d", mailboxID)
	}
	return n, nil
}

// TenantUsage is the bytes of every item of the tenant's mailboxes that
// are not retired (a moved-away source no longer counts: its content
// lives in the target now).
func (s *Store) TenantUsage(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.d.Read().QueryRowContext(ctx, `SELECT COALESCE(SUM(i.size), 0) FROM items i JOIN mailboxes m ON m.id = i.mailbox_id
		WHERE m.tenant_id = ? AND m.state <> ?`, tenantID, string(StateRetired)).Scan(&n)
	if err != nil {
		return 0, errs.Internalf(err, "measure tenant %s", tenantID)
	}
	return n, nil
}

// SizeOf is the bytes of the folder's items with UIDs in set (what a COPY
// of them adds to the destination).
func (s *Store) SizeOf(ctx context.Context, folderID int64, set UIDSet) (int64, error) {
	rows, err := rowsBySet(ctx, s.d.Read(), folderID, set)
	if err != nil {
		return 0, errs.Internalf(err, "measure items of folder %d", folderID)
	}
	var n int64
	for _, r := range rows {
		n += r.size
	}
	return n, nil
}
