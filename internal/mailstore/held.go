package mailstore

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrContentNotHeld refuses an append that names content by its SHA-256
// without sending the bytes, when the mailbox's tenant does not already
// reference that content. Stored bytes are shared between tenants (the blob
// store is content-addressed), so knowing a hash must never be enough to
// obtain the bytes: whoever cannot show that its tenant holds them sends
// them.
var ErrContentNotHeld = errs.Sentinel(errs.Forbidden, "ContentNotHeld")

// The reuse rule (issue 7, hole 1). Content may be appended by reference
// (AppendItem.SHA256 without Content) only when
//   - an item of a mailbox of the same tenant references that blob, or
//   - the caller received and hashed the very bytes itself for this item
//     (AppendItem.Received: the delivery queue's copy of a message it
//     accepted).
//
// Every other path sends the bytes, which are hashed while they stream.
// HeldContent is the same rule for planners (the replication engine) that
// decide up front which items need their bytes: its answer depends only on
// the tenant's own content, so what a caller fetches reveals nothing about
// other tenants.

// HeldContent returns which of the given SHA-256 values the tenant of the
// mailbox already references (through an item of any of its mailboxes):
// content that may be appended by reference. Hashes are compared
// lower-cased; the result is keyed by the lower-cased hash.
func (s *Store) HeldContent(ctx context.Context, mailboxID int64, shas []string) (map[string]bool, error) {
	return heldContent(ctx, s.d.Dialect, s.d.Read(), mailboxID, shas)
}

// heldContent is HeldContent as seen by q (the caller's transaction or the
// read pool).
func heldContent(ctx context.Context, dialect db.Dialect, q db.Querier, mailboxID int64, shas []string) (map[string]bool, error) {
	// One probe of the sha256 index per hash: a hash is referenced by a
	// handful of items, a tenant by millions. SQLite's planner needs the
	// unary + to stay off the mailbox index; PostgreSQL's would take the +
	// for an unknown expression and hash the tenant's items instead.
	plus := ""
	if dialect == db.SQLite {
		plus = "+"
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	var want []string
	for _, s := range shas {
		s = strings.ToLower(s)
		if s != "" && !seen[s] {
			seen[s] = true
			want = append(want, s)
		}
	}
	for start := 0; start < len(want); start += 500 {
		chunk := want[start:min(start+500, len(want))]
		args := make([]any, 0, len(chunk)+1)
		for _, s := range chunk {
			args = append(args, s)
		}
		args = append(args, mailboxID)
		rows, err := q.QueryContext(ctx, `WITH v(sha) AS (VALUES `+valuesList(len(chunk))+`)
			SELECT v.sha FROM v WHERE EXISTS (SELECT 1 FROM items i WHERE i.sha256 = v.sha
				AND `+plus+`i.mailbox_id IN (SELECT id FROM mailboxes WHERE tenant_id = (SELECT tenant_id FROM mailboxes WHERE id = ?)))`, args...)
		if err != nil {
			return nil, errs.Internalf(err, "look up the tenant's content")
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, errs.Internalf(err, "look up the tenant's content")
			}
			out[s] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, errs.Internalf(err, "look up the tenant's content")
		}
	}
	return out, nil
}

// valuesList returns "(?),(?),..." with n rows.
func valuesList(n int) string {
	return strings.TrimSuffix(strings.Repeat("(?),", n), ",")
}

func errContentNotHeld(sha string) *errs.Error {
	return ErrContentNotHeld.Newf("the content %s is not held by this mailbox's tenant and was not sent", sha).
		WithObject(sha).
		WithHint("send the message bytes; content is reused by hash only when the same tenant already holds it")
}
