package imapd

import "sync/atomic"

// testHook, when set (by tests, through export_test.go), is called at
// named points of a session's work with the session's user, so that a
// test can make other sessions change the mailbox at exactly that point.
// Production code never sets it.
var testHook atomic.Pointer[func(point, user string)]

// Test hook points.
const (
	// hookSelectOpened: SELECT has opened the folder's shared view for
	// the session, and not yet answered.
	hookSelectOpened = "select-opened"
)

// runTestHook calls the test hook, if any.
func runTestHook(point, user string) {
	if f := testHook.Load(); f != nil {
		(*f)(point, user)
	}
}
