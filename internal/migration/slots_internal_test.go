package migration

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestSlotsHoldAcrossNodes: two nodes (two services, each with its own
// database handle on one database) take an endpoint's slots from many
// goroutines at once; never more than the limit hold one, a move that
// finds none is recorded as a waiter, the oldest waiter is the one a
// release hands over to, a move re-takes its own slot, and a slot whose
// lease ran out (a dead node) is dropped.
func TestSlotsHoldAcrossNodes(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		ctx := context.Background()
		dsn, dir := dbtest.DSN(t, dialect), t.TempDir()
		var nodes []*Service
		for range 2 {
			d, err := db.Open(ctx, db.Options{DSN: dsn, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			nodes = append(nodes, New(d, nil, nil, "", nil))
		}
		const limit, workers, rounds = 3, 12, 15
		var holding, peak, waits, finished atomic.Int64
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer finished.Add(1)
				s := nodes[w%2]
				move := "move-" + string(rune('a'+w))
				for taken := 0; taken < rounds; {
					h, err := s.acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep1"}, move, limit, int64(w+1))
					if err != nil {
						t.Error(err)
						return
					}
					if h == nil {
						waits.Add(1)
						continue
					}
					n := holding.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					// The pass's work: hold the slot until another mover has
					// been refused meanwhile (or every other one is done).
					seen, until := waits.Load(), time.Now().Add(time.Second)
					for waits.Load() == seen && finished.Load() < workers-1 && time.Now().Before(until) {
						runtime.Gosched()
					}
					holding.Add(-1)
					h.release()
					taken++
				}
			}()
		}
		wg.Wait()
		if p := peak.Load(); p > limit || p < 2 {
			t.Fatalf("peak %d slots held at once, limit %d", p, limit)
		}
		if waits.Load() == 0 {
			t.Fatal("no move ever waited: the limit was not exercised")
		}
		t.Logf("peak %d of %d, %d waits", peak.Load(), limit, waits.Load())
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := nodes[0].D.Read().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(`SELECT COUNT(*) FROM move_slots`); n != 0 {
			t.Fatalf("%d slots left after every release", n)
		}

		// Full: the waiters queue oldest first, and a move keeps its own slot.
		a, _ := nodes[0].acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep2"}, "A", 1, 100)
		if a == nil {
			t.Fatal("first slot refused")
		}
		if again, _ := nodes[1].acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep2"}, "A", 1, 101); again == nil {
			t.Fatal("a move taken over by another node could not re-take its own slot")
		} else {
			close(again.stop) // stop its renewal without releasing: A still holds the one slot
			<-again.done
		}
		for _, m := range []string{"B", "C"} {
			if h, _ := nodes[1].acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep2"}, m, 1, 200); h != nil {
				t.Fatalf("move %s got a slot past the limit", m)
			}
		}
		var first string
		if err := nodes[0].D.Read().QueryRowContext(ctx, `SELECT move_id FROM move_slot_waiters WHERE endpoint_id = ? ORDER BY since, move_id LIMIT 1`, "ep2").Scan(&first); err != nil || first != "B" {
			t.Fatalf("oldest waiter %q (%v), want B", first, err)
		}
		a.release()
		b, _ := nodes[1].acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep2"}, "B", 1, 200)
		if b == nil {
			t.Fatal("the released slot did not go to the waiter")
		}
		if n := count(`SELECT COUNT(*) FROM move_slot_waiters WHERE move_id = ?`, "B"); n != 0 {
			t.Fatal("a move that got its slot is still a waiter")
		}

		// A dead node's slot: its lease ran out, and the next count drops it.
		if err := nodes[0].D.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE move_slots SET expires_at = ? WHERE move_id = ?`, db.Now()-1, "B")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c, _ := nodes[0].acquireEndpointSlot(ctx, &directory.Endpoint{ID: "ep2"}, "C", 1, 300)
		if c == nil {
			t.Fatal("an expired slot still counted")
		}
		close(b.stop)
		<-b.done
		c.release()
	})
}
