package replication

import (
	"context"
	"io"

	"golang.org/x/time/rate"
)

// ThrottleBurst is the most bytes a throttled read takes at once: the
// burst of a Job's Throttle limiter must be at least this.
const ThrottleBurst = 64 << 10

// throttled reads r no faster than l allows: each read takes at most
// ThrottleBurst bytes and then waits for their tokens (an error of the
// wait, a cancelled pass, ends the read).
type throttled struct {
	ctx context.Context
	r   io.Reader
	l   *rate.Limiter
}

func (t *throttled) Read(b []byte) (int, error) {
	if len(b) > ThrottleBurst {
		b = b[:ThrottleBurst]
	}
	n, err := t.r.Read(b)
	if n > 0 {
		if werr := t.l.WaitN(t.ctx, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// throttle wraps a content reader with the job's limiter, if any.
func (p *pass) throttle(ctx context.Context, r io.Reader) io.Reader {
	if p.j.Throttle == nil {
		return r
	}
	return &throttled{ctx: ctx, r: r, l: p.j.Throttle}
}
