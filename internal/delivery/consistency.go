package delivery

import (
	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"

	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrQueueInconsistent: CheckConsistency found queue rows that break the
// queue's invariants (a bug, never a user error).
var ErrQueueInconsistent = errs.Sentinel(errs.Internal, "QueueInconsistent")

// queueChecks are the queue's invariants as queries returning the rows
// that break them.
var queueChecks = []db.Invariant{
	{Name: "a recipient row has an unknown state",
		Query: `SELECT id FROM queue_recipients WHERE state NOT IN ('queued', 'held', 'delivered', 'relayed', 'expanded', 'bounced')`},
	{Name: "a held row does not name the mailbox it waits for",
		Query: `SELECT id FROM queue_recipients WHERE state = 'held' AND (held_tenant = '' OR held_guid = '')`},
	{Name: "a delivered or relayed row has no result",
		Query: `SELECT id FROM queue_recipients WHERE state IN ('delivered', 'relayed') AND result = ''`},
	{Name: "a queued message has no recipient row",
		Query: `SELECT m.id FROM queue_messages m WHERE NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id)`},
}

// CheckConsistency checks the queue's invariants in one read snapshot:
// known states, held rows naming their mailbox, final rows with a result,
// every message with a recipient, the bytes of every open message present.
// It returns ErrQueueInconsistent naming each broken invariant and up to
// five offending row ids, or nil. Tests run it in their cleanup.
func (s *Service) CheckConsistency(ctx context.Context) error {
	tx, err := s.d.Snapshot(ctx)
	if err != nil {
		return errs.Internalf(err, "begin queue consistency check")
	}
	defer tx.Rollback()
	bad, err := db.CheckInvariants(ctx, tx, queueChecks)
	if err != nil {
		return errs.Internalf(err, "queue consistency check")
	}
	msg, err := openMessageBlobs(ctx, tx)
	if err != nil {
		return err
	}
	if msg != "" {
		bad = append(bad, msg)
	}
	if len(bad) > 0 {
		return ErrQueueInconsistent.Newf("the delivery queue is inconsistent: %s", strings.Join(bad, "; "))
	}
	return nil
}

// openMessageBlobs checks that the bytes of every open message (a
// recipient queued or held) are in the blob store, through q; it
// describes the broken ones ("" when none is).
func openMessageBlobs(ctx context.Context, q db.Querier) (string, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.id, m.sha256 FROM queue_messages m
		WHERE EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id AND r.state IN ('queued', 'held'))`)
	if err != nil {
		return "", errs.Internalf(err, "queue consistency check of message bytes")
	}
	var refs []blobstore.RowRef
	for rows.Next() {
		r := blobstore.RowRef{Size: -1}
		if err := rows.Scan(&r.Row, &r.SHA256); err != nil {
			rows.Close()
			return "", errs.Internalf(err, "queue consistency check of message bytes")
		}
		refs = append(refs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", errs.Internalf(err, "queue consistency check of message bytes")
	}
	return blobstore.CheckRefs(ctx, q, refs, "an open message's bytes are missing")
}
