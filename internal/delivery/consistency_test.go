package delivery_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/delivery"
)

// TestQueueCheckConsistencyCatches: the queue checker that runs in every
// queue test's cleanup finds a row broken behind the queue's back and names
// the invariant; the row is put back so the cleanup check passes.
func TestQueueCheckConsistencyCatches(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil, nil)
		tn := e.tenant("contoso")
		alice := e.mailbox(tn, "alice")
		q := e.send("x@example.org", []string{alice.PrimarySmtpAddress}, message("x@example.org", "alice", "c", "consistency"))
		e.waitState(q.ID, alice.PrimarySmtpAddress, delivery.StateDelivered)
		if err := e.svc.CheckConsistency(bg); err != nil {
			t.Fatalf("a consistent queue: %v", err)
		}
		set := func(state string) {
			t.Helper()
			if err := d.Write(bg, func(tx *db.Tx) error {
				_, err := tx.ExecContext(bg, `UPDATE queue_recipients SET state = ?`, state)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		set("weird")
		err := e.svc.CheckConsistency(bg)
		set(delivery.StateDelivered)
		if !errors.Is(err, delivery.ErrQueueInconsistent) || !strings.Contains(err.Error(), "unknown state") {
			t.Fatalf("after breaking a row: %v, want ErrQueueInconsistent naming the unknown state", err)
		}
	})
}
