package replication

import (
	"context"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestWaitBytes: WaitBytes takes a limiter's tokens ThrottleBurst at a
// time, so more bytes than one burst pass a fast limiter (a single WaitN
// would refuse them) and wait for a slow one's rate (here: a deadline long
// before the tokens would come ends the wait at once); no limiter never
// waits.
func TestWaitBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := WaitBytes(ctx, nil, 1<<30); err != nil {
		t.Fatalf("no limiter: %v", err)
	}
	if err := WaitBytes(ctx, rate.NewLimiter(1<<30, ThrottleBurst), 3*ThrottleBurst); err != nil {
		t.Fatalf("three bursts at 1 GiB/s: %v", err)
	}
	l := rate.NewLimiter(1, ThrottleBurst) // one byte per second after the burst
	if err := WaitBytes(ctx, l, ThrottleBurst/2); err != nil {
		t.Fatalf("half a burst: %v", err)
	}
	if got := l.Tokens(); got > ThrottleBurst/2+60 {
		t.Fatalf("%.0f tokens left after taking half a burst of %d", got, ThrottleBurst)
	}
	if err := WaitBytes(ctx, l, 2*ThrottleBurst); err == nil {
		t.Fatal("two bursts at one byte per second fitted in a minute")
	}
}
