package wait_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// TestFor: For returns once the condition holds, after calling it until
// then.
func TestFor(t *testing.T) {
	n := 0
	wait.For(t, 10*time.Second, "the third call", func() error {
		if n++; n < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	if n != 3 {
		t.Fatalf("%d calls", n)
	}
}
