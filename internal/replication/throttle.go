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
	if werr := WaitBytes(t.ctx, t.l, n); werr != nil {
		return n, werr
	}
	return n, err
}

// WaitBytes waits until l (nil: no limit) allows n more bytes, taking its
// tokens ThrottleBurst at a time: for bytes read whole from a source that
// the engine does not stream (a groupware object). It returns early with
// the limiter's error when ctx ends, or when ctx's deadline comes before
// the tokens would.
func WaitBytes(ctx context.Context, l *rate.Limiter, n int) error {
	if l == nil {
		return nil
	}
	for n > 0 {
		k := min(n, ThrottleBurst)
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// throttle wraps a content reader with the job's limiter, if any and
// limited when the read starts (a limiter whose cap an administrator sets
// while the pass runs throttles the items read after that).
func (p *pass) throttle(ctx context.Context, r io.Reader) io.Reader {
	if p.j.Throttle == nil || p.j.Throttle.Limit() == rate.Inf {
		return r
	}
	return &throttled{ctx: ctx, r: r, l: p.j.Throttle}
}
