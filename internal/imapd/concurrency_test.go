package imapd_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// seqTracker follows the message count a client learns from untagged
// responses and checks the rules imaptest's state tracking checks: EXISTS
// never lowers the count (only EXPUNGE does), EXPUNGE and FETCH name an
// existing sequence number.
type seqTracker struct {
	t     *testing.T
	who   string
	count uint32
}

// observe checks untagged lines in order.
func (c *seqTracker) observe(lines []string) {
	c.t.Helper()
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] != "*" {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			continue
		}
		switch strings.ToUpper(f[2]) {
		case "EXISTS":
			if uint32(n) < c.count {
				c.t.Errorf("%s: message count dropped %d -> %d without EXPUNGE: %q", c.who, c.count, n, l)
			}
			c.count = uint32(n)
		case "EXPUNGE":
			if n == 0 || uint32(n) > c.count {
				c.t.Errorf("%s: EXPUNGE of sequence %d beyond the count %d: %q", c.who, n, c.count, l)
				continue
			}
			c.count--
		case "FETCH":
			if n == 0 || uint32(n) > c.count {
				c.t.Errorf("%s: FETCH of sequence %d beyond the count %d: %q", c.who, n, c.count, l)
			}
		}
	}
}

// cmd runs a command on r and checks its untagged responses.
func (c *seqTracker) cmd(r *rawConn, line string) []string {
	c.t.Helper()
	lines := r.mustOK(line)
	c.observe(lines)
	return lines
}

// fillInbox appends n messages to the user's INBOX through the store.
func fillInbox(t *testing.T, e *env, addr string, n int) {
	t.Helper()
	mb := e.mailbox(t, addr)
	inbox := e.folder(t, mb, "INBOX")
	items := make([]mailstore.AppendItem, n)
	for i := range items {
		items[i] = mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i+1, i+1))}
	}
	if _, err := e.Store.AppendMany(bg, mb.ID, items, nil); err != nil {
		t.Fatal(err)
	}
}

// fetchUIDs returns the UIDs FETCH 1:* reports, by sequence number.
func (c *seqTracker) fetchUIDs(r *rawConn) []string {
	c.t.Helper()
	var uids []string
	for _, l := range c.cmd(r, "FETCH 1:* (UID)") {
		if f := strings.Fields(l); len(f) == 5 && f[2] == "FETCH" {
			uids = append(uids, strings.TrimSuffix(f[4], ")"))
		}
	}
	return uids
}

// TestSelectDuringExpunge reproduces the imaptest stress failure "Message
// count dropped" deterministically: while a session is in SELECT (after it
// opened the folder's shared view, before it answered), another session
// expunges 22, 29 and 30 of 30 messages. The selecting session must then
// see a consistent mailbox: its EXISTS and the EXPUNGEs that follow add up
// to the 27 messages left, and FETCH 1:* names all of them.
func TestSelectDuringExpunge(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, addr := rawSession(t, e, "race")
		fillInbox(t, e, addr, 30)
		other := e.rawLogin(t, addr)
		other.mustOK("SELECT INBOX")

		var once sync.Once
		var hookErr []string
		remove := imapd.SetTestHook(func(point, user string) {
			if point != imapd.HookSelectOpened || user != addr {
				return
			}
			once.Do(func() {
				for _, c := range []string{`STORE 22,29,30 +FLAGS.SILENT (\Deleted)`, "EXPUNGE"} {
					if _, done := other.cmd("%s", c); !strings.HasPrefix(done, "OK") {
						hookErr = append(hookErr, c+": "+done)
					}
				}
			})
		})
		defer remove()

		a := &seqTracker{t: t, who: "selecting session"}
		a.cmd(r, "SELECT INBOX")
		remove()
		if hookErr != nil {
			t.Fatalf("the concurrent expunge failed: %v", hookErr)
		}
		a.cmd(r, "NOOP")
		if a.count != 27 {
			t.Errorf("after SELECT and NOOP the session counts %d messages, want 27", a.count)
		}
		if uids := a.fetchUIDs(r); len(uids) != 27 || uids[21] != "23" || uids[26] != "28" {
			t.Errorf("FETCH 1:* UIDs: %v", uids)
		}
	})
}

// TestBatchAppendNotShownEarly: when two messages arrive in one change (a
// COPY of two into the selected folder by another session), a FETCH 1:*
// before the session was told (its EXISTS comes after the FETCH, which may
// not carry EXPUNGE but may carry EXISTS) never names a sequence number the
// client does not know.
func TestBatchAppendNotShownEarly(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, addr := rawSession(t, e, "batch")
		fillInbox(t, e, addr, 5)
		other := e.rawLogin(t, addr)
		other.mustOK("SELECT INBOX")
		a := &seqTracker{t: t, who: "session"}
		a.cmd(r, "SELECT INBOX")
		other.mustOK("COPY 1:2 INBOX") // returns once the shared view has the copies
		a.fetchUIDs(r)
		a.cmd(r, "FETCH 1:* (UID)")
		if a.count != 7 {
			t.Errorf("the session counts %d messages, want 7", a.count)
		}
		if got := a.fetchUIDs(r); len(got) != 7 {
			t.Errorf("FETCH 1:* after the updates: %v", got)
		}
	})
}
