package migration

import (
	"testing"
	"time"
)

// TestCompletionDelay: a completion interrupted by a peer's outage is
// retried every second for a minute (so it resumes within a second of the
// peer's return), then backs off to a minute.
func TestCompletionDelay(t *testing.T) {
	for errs, want := range map[int]time.Duration{1: time.Second, 30: time.Second, completionFastRetries: time.Second,
		completionFastRetries + 1: 2 * time.Second, completionFastRetries + 3: 8 * time.Second, 500: completionRetryMax} {
		if got := completionDelay(errs); got != want {
			t.Errorf("after %d errors: %v, want %v", errs, got, want)
		}
	}
}
