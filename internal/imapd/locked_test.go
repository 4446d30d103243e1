package imapd_test

import (
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestLockedMailbox checks that a mailbox locked for a move's completion
// is read-only over IMAP: SELECT completes [READ-ONLY] with no permanent
// flags, reads work and do not set \Seen, and every change (STORE, COPY,
// MOVE, EXPUNGE, APPEND, CREATE, also from a session selected before the
// lock) fails with NO [INUSE] naming the reason; CLOSE still succeeds. A
// retired mailbox answers NO [NOPERM]; once active again it is writable.
func TestLockedMailbox(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		appendMsg(t, c, "INBOX", sampleMsg, nil)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		mb := e.mailbox(t, addr)
		if err := e.Store.SetMailboxState(bg, mb.ID, mailstore.StateLocked); err != nil {
			t.Fatal(err)
		}

		r := e.raw(t)
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "OK") {
			t.Fatalf("login: %s", done)
		}
		untagged, done := r.cmd("SELECT INBOX")
		if done != "OK [READ-ONLY] SELECT completed" || !containsLine(untagged, "* OK [PERMANENTFLAGS ()]") {
			t.Errorf("SELECT of a locked mailbox: %s %q", done, untagged)
		}
		if untagged, done := r.cmd("FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])"); !strings.HasPrefix(done, "OK") || !containsLine(untagged, "Subject:") {
			t.Errorf("FETCH BODY[] in a locked mailbox: %s %q", done, untagged)
		}
		if untagged, _ := r.cmd("FETCH 1 FLAGS"); containsLine(untagged, `\Seen`) {
			t.Errorf("FETCH BODY[] set \\Seen in a locked mailbox: %q", untagged)
		}
		for _, cmd := range []string{`STORE 1 +FLAGS (\Flagged)`, "COPY 1 Archive", "MOVE 1 Archive", "EXPUNGE", "CREATE Projects", "DELETE Archive",
			"RENAME Archive Old", "UID EXPUNGE 1"} {
			_, done := r.cmd("%s", cmd)
			if !strings.HasPrefix(done, "NO [INUSE] MailboxLocked: mailbox "+mb.GUID+" is locked while its move completes") {
				t.Errorf("%s in a locked mailbox: %s", cmd, done)
			}
		}
		if _, done := r.cmd("CLOSE"); !strings.HasPrefix(done, "OK") {
			t.Errorf("CLOSE in a locked mailbox: %s", done)
		}
		if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil ||
			!strings.Contains(err.Error(), "MailboxLocked") {
			t.Errorf("STORE from a session selected before the lock: %v", err)
		}
		cmd := c.Append("INBOX", 4, nil)
		io.WriteString(cmd, "x\r\n\r")
		cmd.Close()
		if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "MailboxLocked") {
			t.Errorf("APPEND to a locked mailbox: %v", err)
		}

		if err := e.Store.SetMailboxState(bg, mb.ID, mailstore.StateRetired); err != nil {
			t.Fatal(err)
		}
		if _, done := r.cmd("SELECT INBOX"); done != "OK [READ-ONLY] SELECT completed" {
			t.Errorf("SELECT of a retired mailbox: %s", done)
		}
		if _, done := r.cmd(`STORE 1 +FLAGS (\Flagged)`); !strings.HasPrefix(done, "NO [NOPERM] MailboxRetired") {
			t.Errorf("STORE in a retired mailbox: %s", done)
		}

		if err := e.Store.SetMailboxState(bg, mb.ID, mailstore.StateActive); err != nil {
			t.Fatal(err)
		}
		if _, done := r.cmd("SELECT INBOX"); done != "OK [READ-WRITE] SELECT completed" {
			t.Errorf("SELECT after unlock: %s", done)
		}
		if untagged, done := r.cmd(`STORE 1 +FLAGS (\Flagged)`); done != "OK STORE completed" || !containsLine(untagged, `\Flagged`) {
			t.Errorf("STORE after unlock: %s %q", done, untagged)
		}
	})
}

// TestExamineReadOnly checks EXAMINE: [READ-ONLY], body fetches leave
// \Seen alone, changes are refused, and CLOSE does not expunge.
func TestExamineReadOnly(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		appendMsg(t, c, "INBOX", sampleMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDeleted}})
		r := e.raw(t)
		r.cmd("LOGIN %q %q", addr, password)
		if _, done := r.cmd("EXAMINE INBOX"); done != "OK [READ-ONLY] EXAMINE completed" {
			t.Errorf("EXAMINE: %s", done)
		}
		r.cmd("FETCH 1 BODY[]")
		if untagged, _ := r.cmd("FETCH 1 FLAGS"); containsLine(untagged, `\Seen`) {
			t.Errorf("FETCH BODY[] after EXAMINE set \\Seen: %q", untagged)
		}
		for _, cmd := range []string{`STORE 1 +FLAGS (\Seen)`, "EXPUNGE", "MOVE 1 Archive"} {
			if _, done := r.cmd("%s", cmd); !strings.HasPrefix(done, "NO [CANNOT]") {
				t.Errorf("%s after EXAMINE: %s", cmd, done)
			}
		}
		if _, done := r.cmd("COPY 1 Archive"); !strings.HasPrefix(done, "OK [COPYUID") {
			t.Errorf("COPY after EXAMINE: %s", done)
		}
		if _, done := r.cmd("CLOSE"); !strings.HasPrefix(done, "OK") {
			t.Errorf("CLOSE after EXAMINE: %s", done)
		}
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != 1 {
			t.Errorf("CLOSE after EXAMINE expunged: %v", err)
		}
	})
}

func containsLine(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
