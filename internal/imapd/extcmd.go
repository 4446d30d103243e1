package imapd

// Commands of a logged-in session that go-imap's imapserver does not
// know, answered below it by filterConn (intercept.go) from the session's
// state. filterConn calls them from inside its Read, on the goroutine of
// the session's command loop while it waits for the next command, so they
// see the session exactly as go-imap's handlers do.

// extCommand answers one command: tag, the upper-case command name ("UID
// SORT" for UID commands) and its bytes after the name, literals included.
// It returns the response lines, the tagged completion last.
type extCommand func(tag, name, args string) []string

// extCommands is what a logged-in session answers below go-imap.
type extCommands struct {
	handlers map[string]extCommand // by command name
	caps     string                // capabilities they add (" A B")
	// appendCmd answers APPEND, reading it from the connection itself
	// (appendcmd.go): tag and the first line's bytes after "APPEND".
	appendCmd func(c *filterConn, tag string, rest []byte) error
	// line, when set, may rewrite the first line of a command go-imap
	// handles (name as commandStart returns it) before go-imap reads it;
	// resp, when set, may rewrite a response line go-imap writes (nil:
	// unchanged). Both run on the session's goroutine.
	line func(name string, line []byte) []byte
	// cont, when set, may rewrite the line that follows a literal of a
	// command go-imap handles (the rest of the command after the
	// literal's bytes), like line.
	cont func(name string, line []byte) []byte
	resp func(p []byte) []byte
}

// extCommands returns the session's extension commands: SEARCH, SORT,
// THREAD, FETCH, STORE (and their UID forms), CANCELUPDATE, NOTIFY and
// APPEND always, the QUOTA commands when quotas apply.
func (s *session) extCommands() *extCommands {
	sortCmd := func(tag, name, args string) []string { return s.sortCommand(tag, name == "UID SORT", args) }
	threadCmd := func(tag, name, args string) []string { return s.threadCommand(tag, name == "UID THREAD", args) }
	e := &extCommands{
		handlers: map[string]extCommand{"SORT": sortCmd, "UID SORT": sortCmd, "THREAD": threadCmd, "UID THREAD": threadCmd,
			"SEARCH": s.searchCommand, "UID SEARCH": s.searchCommand, "CANCELUPDATE": s.cancelUpdateCommand,
			"NOTIFY": s.notifyCommand, "FETCH": s.fetchCommand, "UID FETCH": s.fetchCommand},
		caps:      sortCaps + fetchCaps + searchCaps + notifyCaps + appendCaps,
		appendCmd: s.appendCommand,
	}
	if s.srv.quota != nil {
		for _, n := range []string{"GETQUOTAROOT", "GETQUOTA", "SETQUOTA"} {
			e.handlers[n] = s.quotaCommand
		}
		e.caps += quotaCaps
	}
	s.modCommands(e)
	return e
}
