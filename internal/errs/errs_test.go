package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelMatchesByCode(t *testing.T) {
	errThing := Sentinel(NotFound, "ThingNotFound")
	other := Sentinel(NotFound, "OtherNotFound")
	e := errThing.Newf("thing %q not found", "x").WithHint("create it")
	wrapped := fmt.Errorf("loading: %w", e)
	if !errors.Is(wrapped, errThing) {
		t.Fatal("errors.Is does not match the sentinel through a wrap")
	}
	if errors.Is(wrapped, other) {
		t.Fatal("errors.Is matches a sentinel of another code")
	}
	if got := HTTPStatus(wrapped); got != 404 {
		t.Fatalf("status %d, want 404", got)
	}
	if e.Message != `thing "x" not found` || e.Code != "ThingNotFound" {
		t.Fatalf("Newf built %+v", e)
	}
	if errThing.Message != "" {
		t.Fatal("Newf changed the sentinel")
	}
}
