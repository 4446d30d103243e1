package imapd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestSortThread checks SORT, ESORT and THREAD on the wire beyond what
// imaptest's groups cover: UID forms, search keys with literals and "$",
// a moved message's sequence numbers, and that bad input gets BAD or NO
// with the reason, without harming the session.
func TestSortThread(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, nil)
		addr := e.user(t, "alice")
		c := e.login(t, addr, nil)
		msgs := []string{
			"Message-ID: <1@x>\r\nDate: Mon, 3 Jan 2022 10:00:00 +0000\r\nFrom: Zed <zed@example.com>\r\nSubject: Plan\r\n\r\nfirst\r\n",
			"Message-ID: <2@x>\r\nReferences: <1@x>\r\nDate: Tue, 4 Jan 2022 10:00:00 +0000\r\nFrom: amy@example.com\r\nSubject: Re: plan\r\n\r\nsecond, longer body text\r\n",
			"Message-ID: <3@x>\r\nDate: Sun, 2 Jan 2022 10:00:00 +0000\r\nFrom: Bob <bob@example.com>\r\nSubject: [list] Fwd: Other\r\n\r\nthird\r\n",
			"Message-ID: <4@x>\r\nIn-Reply-To: <2@x>\r\nDate: Wed, 5 Jan 2022 10:00:00 +0000\r\nFrom: zed@example.com\r\nSubject: Re: Re: Plan (fwd)\r\n\r\nfourth\r\n",
		}
		for _, m := range msgs {
			appendMsg(t, c, "INBOX", m, nil)
		}
		r := e.raw(t)
		_, done := r.cmd("LOGIN %q %q", addr, password)
		for _, cp := range []string{"SORT", "SORT=DISPLAY", "ESORT", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT"} {
			if !strings.Contains(done, " "+cp+" ") && !strings.Contains(done, " "+cp+"]") {
				t.Errorf("capability %s missing after login: %s", cp, done)
			}
		}
		check := func(cmd, wantDone string, want ...string) {
			t.Helper()
			untagged, done := r.cmd("%s", cmd)
			if !strings.HasPrefix(done, wantDone) {
				t.Errorf("%s: %s, want %s", cmd, done, wantDone)
			}
			if len(want) > 0 && strings.Join(untagged, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s:\n got %q\nwant %q", cmd, untagged, want)
			}
		}
		check("SORT (DATE) UTF-8 ALL", "BAD") // no folder selected
		check("SELECT INBOX", "OK")
		check("SORT (DATE) UTF-8 ALL", "OK", "* SORT 3 1 2 4")
		check("SORT (REVERSE SIZE) US-ASCII ALL", "OK", "* SORT 2 4 3 1")
		check("SORT (SUBJECT DATE) UTF-8 ALL", "OK", "* SORT 3 1 2 4")
		check("SORT (FROM) UTF-8 ALL", "OK", "* SORT 2 3 1 4")
		check("SORT (DISPLAYFROM) UTF-8 ALL", "OK", "* SORT 2 3 1 4")
		check("UID SORT (ARRIVAL) UTF-8 SUBJECT {4+}\r\nplan", "OK", "* SORT 1 2 4")
		check("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 NOT 3", "OK", fmt.Sprintf(`* ESEARCH (TAG "t%d") MIN 1 MAX 4 COUNT 3 ALL 1:2,4`, r.n+1))
		check("UID SORT RETURN (COUNT) (DATE) UTF-8 99", "OK", fmt.Sprintf(`* ESEARCH (TAG "t%d") UID COUNT 0`, r.n+1))
		check("SEARCH RETURN (SAVE) FROM zed", "OK")
		check("SORT (REVERSE ARRIVAL) UTF-8 $", "OK", "* SORT 4 1")
		check("THREAD REFERENCES UTF-8 ALL", "OK", "* THREAD (3)(1 2 4)")
		check("THREAD ORDEREDSUBJECT UTF-8 ALL", "OK", "* THREAD (3)(1 (2)(4))")
		check("UID THREAD REFERENCES UTF-8 OR 1 3", "OK", "* THREAD (3)(1)")
		check("THREAD REFERENCES UTF-8 2,4", "OK", "* THREAD (2 4)")

		// Expunging message 1 renumbers the rest.
		check(`STORE 1 +FLAGS.SILENT (\Deleted)`, "OK")
		check("EXPUNGE", "OK")
		check("SORT (DATE) UTF-8 ALL", "OK", "* SORT 2 1 3")
		check("THREAD REFERENCES UTF-8 ALL", "OK", "* THREAD (2)(1 3)")

		// Bad input: the reason, and the session goes on.
		check("SORT (COLOR) UTF-8 ALL", "BAD [CLIENTBUG] SORT: unknown sort key \"COLOR\"")
		check("SORT () UTF-8 ALL", "BAD [CLIENTBUG] SORT: SORT takes at least one sort key")
		check("SORT (DATE) KOI8-R ALL", "NO [BADCHARSET (US-ASCII UTF-8)]")
		check("SORT (DATE) UTF-8 SINCE 31-Feb-2022", "BAD [CLIENTBUG] SORT: bad date")
		check("SORT (DATE) UTF-8 FROBNICATE", "BAD [CLIENTBUG] SORT: unknown search key \"FROBNICATE\"")
		check("SORT (DATE) UTF-8 ALL extra)", "BAD")
		check("THREAD FANCY UTF-8 ALL", "BAD [CLIENTBUG] unknown THREAD algorithm")
		check("SORT (DATE) UTF-8 ALL", "OK", "* SORT 2 1 3")
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
	})
}
