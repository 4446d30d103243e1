package migration

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Stopping a running pass. StopUser and StopBatch set a syncing move
// Stopping; the pass that runs it must end soon after and leave it
// Stopped (passFailed). Two ways reach the pass, neither a read of the
// move per chunk:
//   - In-process: every pass registers its cancel function under its move
//     (runningPasses); a stop on this node cancels the passes of the moves
//     it set Stopping right after its transaction commits.
//   - Another node's stop: the progress callback rereads the move at most
//     every stopPoll, so such a pass ends within stopPoll after the chunk
//     that follows the request. A small mailbox's pass (well under
//     stopPoll) never rereads it.
//
// Both end the pass through its context, the way a drain or a lost
// connection does (passctl.go): a chunk in flight rolls back with its
// watermark, and the next pass resumes from what was committed.

// stopPoll is how often a running pass looks for another node's stop
// request.
const stopPoll = 500 * time.Millisecond

// errStopRequested ends a pass whose move an admin stopped.
var errStopRequested = errors.New("the move was stopped by an admin")

// runningPasses maps the moves whose passes run on this node to their
// cancel functions.
type runningPasses struct {
	mu sync.Mutex
	m  map[string]*runningPass
}

type runningPass struct{ cancel context.CancelCauseFunc }

// watch derives the context of a pass of moveID that a stop of the move on
// this node cancels with errStopRequested; done unregisters it.
func (r *runningPasses) watch(ctx context.Context, moveID string) (context.Context, func()) {
	pctx, cancel := context.WithCancelCause(ctx)
	p := &runningPass{cancel: cancel}
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]*runningPass{}
	}
	r.m[moveID] = p
	r.mu.Unlock()
	return pctx, func() {
		r.mu.Lock()
		if r.m[moveID] == p {
			delete(r.m, moveID)
		}
		r.mu.Unlock()
		cancel(nil)
	}
}

// stop cancels the passes of the moves running on this node.
func (r *runningPasses) stop(moveIDs []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range moveIDs {
		if p := r.m[id]; p != nil {
			p.cancel(errStopRequested)
		}
	}
}

// stopCheck returns the progress callback's check for a stop request made
// on another node: at most every stopPoll it rereads the move and cancels
// the pass when the move is Stopping.
func (s *Service) stopCheck(ctx context.Context, cancel func(), moveID string) func() {
	last := time.Now()
	return func() {
		if time.Since(last) < stopPoll {
			return
		}
		last = time.Now()
		if cur, err := s.getMove(ctx, s.D.Read(), moveID); err == nil && cur.State == StateStopping {
			cancel()
		}
	}
}
