package imapd_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// searchEnv logs a raw session of a fresh user in, with n messages in
// INBOX (message i has "Subject: mi" and body "body i"), and selects it.
func searchEnv(t *testing.T, e *env, alias string, n int) (addr string, r *rawConn) {
	t.Helper()
	addr = e.user(t, alias)
	c := e.login(t, addr, nil)
	for i := 1; i <= n; i++ {
		appendMsg(t, c, "INBOX", fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i), nil)
	}
	r = e.raw(t)
	r.cmd("LOGIN %q %q", addr, password)
	if _, done := r.cmd("SELECT INBOX"); !strings.HasPrefix(done, "OK") {
		t.Fatalf("SELECT: %s", done)
	}
	return addr, r
}

// expectLines runs a command and checks its completion and that its
// untagged lines are exactly want, in order.
func expectLines(t *testing.T, r *rawConn, cmd, wantDone string, want ...string) []string {
	t.Helper()
	untagged, done := r.cmd("%s", cmd)
	if !strings.HasPrefix(done, wantDone) {
		t.Errorf("%s: %s, want %s", cmd, done, wantDone)
	}
	if strings.Join(untagged, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", cmd, untagged, want)
	}
	return untagged
}

// TestSearchCommand checks SEARCH as answered below go-imap: the keys
// (literals, CHARSET, "$", OR/NOT/parentheses, MODSEQ), the RETURN
// options (ESEARCH, SAVE alone, PARTIAL with negative windows) and the
// syntax errors.
func TestSearchCommand(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr, r := searchEnv(t, e, "alice", 6)
		tag := func() string { return fmt.Sprintf("t%d", r.n+1) }
		expectLines(t, r, "SEARCH ALL", "OK", "* SEARCH 1 2 3 4 5 6")
		expectLines(t, r, "SEARCH CHARSET UTF-8 SUBJECT {2+}\r\nm3", "OK", "* SEARCH 3")
		expectLines(t, r, "UID SEARCH OR (SUBJECT m1 BODY \"body 2\") NOT 2:*", "OK", "* SEARCH 1")
		expectLines(t, r, "SEARCH RETURN (SAVE) 2,4:5", "OK")
		expectLines(t, r, "SEARCH NOT $", "OK", "* SEARCH 1 3 6")
		expectLines(t, r, "SEARCH RETURN (MIN MAX COUNT ALL) $", "OK", `* ESEARCH (TAG "`+tag()+`") MIN 2 MAX 5 COUNT 3 ALL 2,4:5`)
		expectLines(t, r, "SEARCH RETURN (PARTIAL -1:-2) ALL", "OK", `* ESEARCH (TAG "`+tag()+`") PARTIAL (-1:-2 5:6)`)
		expectLines(t, r, "SEARCH RETURN (PARTIAL -10:-5) ALL", "OK", `* ESEARCH (TAG "`+tag()+`") PARTIAL (-5:-10 1:2)`)
		expectLines(t, r, "UID SEARCH RETURN (PARTIAL 7:9) ALL", "OK", `* ESEARCH (TAG "`+tag()+`") UID PARTIAL (7:9 NIL)`)
		expectLines(t, r, "SEARCH RETURN (PARTIAL 0:2) ALL", "BAD")
		expectLines(t, r, "SEARCH RETURN (PARTIAL -1:2) ALL", "BAD")
		expectLines(t, r, "SEARCH KOI8-R", "BAD")
		expectLines(t, r, "SEARCH CHARSET KOI8-R ALL", "NO [BADCHARSET (US-ASCII UTF-8)]")
		expectLines(t, r, "SEARCH FROBNICATE", `BAD [CLIENTBUG] SEARCH: unknown search key "FROBNICATE"`)
		expectLines(t, r, "SEARCH (SEEN", "BAD")

		// MODSEQ: the key and the highest MODSEQ of the result.
		expectLines(t, r, `STORE 2,5 +FLAGS.SILENT (\Seen)`, "OK")
		mb := e.mailbox(t, addr)
		items, err := e.Store.Fetch(bg, mb.ID, e.folder(t, mb, "INBOX").ID, mailstore.AllUIDs)
		if err != nil {
			t.Fatal(err)
		}
		ms := make([]int64, len(items))
		for i, it := range items {
			ms[i] = it.ModSeq
		}
		low := min(ms[1], ms[4])
		var want []string
		for i, m := range ms {
			if m >= low {
				want = append(want, fmt.Sprint(i+1))
			}
		}
		if !slices.Equal(want, []string{"2", "5"}) {
			t.Fatalf("MODSEQs after STORE 2,5: %v", ms)
		}
		high := max(ms[1], ms[4])
		expectLines(t, r, fmt.Sprintf("SEARCH MODSEQ %d", low), "OK", fmt.Sprintf("* SEARCH 2 5 (MODSEQ %d)", high))
		expectLines(t, r, fmt.Sprintf(`SEARCH RETURN (MIN) MODSEQ "/flags/\\seen" all %d`, low), "OK",
			fmt.Sprintf(`* ESEARCH (TAG "%s") MIN 2 MODSEQ %d`, tag(), ms[1]))
		expectLines(t, r, fmt.Sprintf("SEARCH MODSEQ %d", high+1), "OK", "* SEARCH")
		expectLines(t, r, `SEARCH MODSEQ "/flags/\\seen" sometimes 1`, "BAD")

		expectLines(t, r, "ENABLE IMAP4rev2", "OK", "* ENABLED IMAP4rev2")
		expectLines(t, r, "SEARCH SEEN", "OK", `* ESEARCH (TAG "`+tag()+`") ALL 2,5`)
	})
}

// TestSearchContextUpdate checks CONTEXT=SEARCH (RFC 5267) across two
// sessions: the changes of the other session (flags, expunge, new mail)
// and the session's own STORE reach the searching session as ADDTO and
// REMOVEFROM, in IDLE too, until CANCELUPDATE.
func TestSearchContextUpdate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr, a := searchEnv(t, e, "alice", 5)
		if _, done := a.cmd("CAPABILITY"); !strings.Contains(done, "OK") {
			t.Fatal(done)
		}
		b := e.raw(t)
		b.cmd("LOGIN %q %q", addr, password)
		b.cmd("SELECT INBOX")

		stag := fmt.Sprintf("t%d", a.n+1)
		expectLines(t, a, "SEARCH RETURN (UPDATE ALL) SEEN", "OK", `* ESEARCH (TAG "`+stag+`")`)
		upd := func(op, set string) string { return `* ESEARCH (TAG "` + stag + `") ` + op + " (0 " + set + ")" }

		expectLines(t, b, `STORE 2,4 +FLAGS.SILENT (\Seen)`, "OK")
		expectLines(t, a, "NOOP", "OK", `* 2 FETCH (UID 2 FLAGS (\Seen \Recent))`, `* 4 FETCH (UID 4 FLAGS (\Seen \Recent))`, upd("ADDTO", "2,4"))

		// The session's own STORE.
		expectLines(t, a, `STORE 1 +FLAGS.SILENT (\Seen)`, "OK", upd("ADDTO", "1"))
		expectLines(t, a, `STORE 2 -FLAGS.SILENT (\Seen)`, "OK", upd("REMOVEFROM", "2"))

		// An expunge: REMOVEFROM with the number the EXPUNGE carries, first.
		b.cmd(`STORE 4 +FLAGS.SILENT (\Deleted)`)
		if untagged, _ := b.cmd("EXPUNGE"); !slices.Contains(untagged, "* 4 EXPUNGE") {
			t.Fatalf("EXPUNGE: %q", untagged)
		}
		expectLines(t, a, "NOOP", "OK", `* 4 FETCH (UID 4 FLAGS (\Deleted \Seen \Recent))`, upd("REMOVEFROM", "4"), "* 4 EXPUNGE")

		// New mail, seen in IDLE.
		a.send("idle IDLE\r\n")
		if l := a.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("IDLE: %q", l)
		}
		if _, done := b.cmd(`APPEND INBOX (\Seen) {12+}` + "\r\nSubject: n\r\n"); !strings.HasPrefix(done, "OK") {
			t.Fatalf("APPEND: %s", done)
		}
		var got []string
		for !slices.Contains(got, upd("ADDTO", "5")) {
			got = append(got, a.line())
		}
		a.send("DONE\r\n")
		a.until("idle")
		if !slices.Contains(got, "* 5 EXISTS") {
			t.Errorf("IDLE: no EXISTS before the ADDTO: %q", got)
		}

		// UID SEARCH contexts report UIDs; CANCELUPDATE stops one.
		utag := fmt.Sprintf("t%d", a.n+1)
		expectLines(t, a, "UID SEARCH RETURN (UPDATE ALL) UNSEEN", "OK", `* ESEARCH (TAG "`+utag+`") UID ALL 2:3,5`)
		expectLines(t, a, `UID STORE 3 +FLAGS.SILENT (\Seen)`, "OK", upd("ADDTO", "3"), `* ESEARCH (TAG "`+utag+`") UID REMOVEFROM (0 3)`)
		expectLines(t, a, `CANCELUPDATE "`+stag+`"`, "OK")
		expectLines(t, a, `CANCELUPDATE "`+stag+`"`, "BAD")
		expectLines(t, a, `STORE 3 -FLAGS.SILENT (\Seen)`, "OK", `* ESEARCH (TAG "`+utag+`") UID ADDTO (0 3)`)
		// A new SELECT ends every context.
		a.cmd("SELECT INBOX")
		expectLines(t, a, `STORE 3 +FLAGS.SILENT (\Seen)`, "OK")
	})
}
