package migration

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/jobs"
)

// Pass control: a running pass gives its worker back in two cases, and
// its job goes to the back of the queue (river.JobSnooze(0): available at
// once, the attempt not counted), to be resumed by any node.
//   - Time slices: a pass that has run for PassSlice while other
//     migration jobs wait for a worker yields, so a few huge mailboxes
//     never hold every worker while small ones wait (no head-of-line
//     blocking). A pass resumes where it stopped: what it copied is
//     committed, and the next pass copies only what the target lacks.
//   - Drain: when the node stops (SIGTERM), Drain ends every running pass
//     at once and hands its job to the other nodes, instead of waiting for
//     a multi-GB pass or leaving it to the dead-node rescue.
//
// Invariants: a pass is only cancelled through its context, the way a
// lost connection or a shutdown already ends it, so everything a
// cancelled pass leaves behind is a state a resumed pass converges from.

// DefaultPassSlice is PassSlice's default.
const DefaultPassSlice = time.Minute

// sliceCheck is how often a pass past its slice looks for waiting jobs.
const sliceCheck = 2 * time.Second

var (
	// errYield ends a pass whose slice is over while others wait.
	errYield = errors.New("the pass yields its worker to waiting moves")
	// errDrain ends a pass on a node that is stopping.
	errDrain = errors.New("the node is draining: the pass goes on elsewhere")
)

// passCtl is the Service's drain signal.
type passCtl struct {
	once    sync.Once
	mu      sync.Mutex
	drainCh chan struct{}
}

// draining returns the channel closed by Drain.
func (c *passCtl) draining() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drainCh == nil {
		c.drainCh = make(chan struct{})
	}
	return c.drainCh
}

// Drain ends every running pass of this node and hands it over: each
// pass's job becomes available at once for any node (this one takes no
// new job once its runner stops). Call it before stopping the job runner;
// later passes of this process end as soon as they start. Idempotent.
func (s *Service) Drain() {
	ch := s.ctl.draining()
	s.ctl.once.Do(func() { close(ch) })
}

// passContext derives the context of one pass: cancelled with errDrain
// when the node drains, or with errYield once the pass has run for its
// slice and migration jobs wait. stop releases it.
func (s *Service) passContext(ctx context.Context) (pctx context.Context, stop func()) {
	pctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	slice := s.PassSlice
	if slice <= 0 {
		slice = DefaultPassSlice
	}
	go func() {
		t := time.NewTimer(slice)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-s.ctl.draining():
				cancel(errDrain)
				return
			case <-t.C:
				if n, err := jobs.Waiting(pctx, s.D.Read(), jobs.QueueMigration); err == nil && n > 0 {
					s.passYields.Inc()
					cancel(errYield)
					return
				}
				t.Reset(sliceCheck)
			}
		}
	}()
	return pctx, func() { close(done); cancel(nil) }
}

// handedOver reports whether a pass ended because it yielded or its node
// drains (and not because its job's own context ended).
func handedOver(ctx, pctx context.Context) bool {
	if ctx.Err() != nil || pctx.Err() == nil {
		return false
	}
	c := context.Cause(pctx)
	return errors.Is(c, errYield) || errors.Is(c, errDrain)
}
