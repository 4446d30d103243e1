// Package wait is the tests' one way to wait for a condition: For polls
// it until it holds or a timeout passes. Tests wait on a condition or an
// event, never on a fixed sleep (CONTRIBUTING); the polling interval is
// this package's business, not each test's.
//
// Invariant: For returns only once cond has returned nil; otherwise it
// fails the test with the last error after the timeout.
package wait

import (
	"testing"
	"time"
)

// For calls cond until it returns nil, first every few milliseconds, then
// up to every 100 ms; after timeout it fails t with what and the last
// error.
func For(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 5 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, timeout, err)
		}
		time.Sleep(pause) // the poll interval, not a wait for an outcome
		pause = min(2*pause, 100*time.Millisecond)
	}
}
