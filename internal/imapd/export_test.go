package imapd

// SetTestHook installs f as the test hook (see testHook) until the
// returned function is called.
func SetTestHook(f func(point, user string)) (remove func()) {
	testHook.Store(&f)
	return func() { testHook.Store(nil) }
}

// HookSelectOpened is the hook point after SELECT opened the shared view.
const HookSelectOpened = hookSelectOpened
