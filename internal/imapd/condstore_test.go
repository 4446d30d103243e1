package imapd_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Wire-level tests of CONDSTORE and QRESYNC (RFC 7162) and of the FETCH
// served below go-imap (BINARY origins, ENVELOPE routes).

// grep returns the first line matching re (with its submatches), failing
// when none does.
func grep(t *testing.T, lines []string, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for _, l := range lines {
		if m := rx.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	t.Fatalf("no line matches %s in:\n%s", re, strings.Join(lines, "\n"))
	return nil
}

// noLine fails when a line matches re.
func noLine(t *testing.T, lines []string, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for _, l := range lines {
		if rx.MatchString(l) {
			t.Fatalf("unexpected line %q", l)
		}
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const condMsg = "From: a@example.org\r\nSubject: m%d\r\n\r\nbody %d\r\n"

// TestCondStoreFlagChange: a CONDSTORE client sees HIGHESTMODSEQ at
// SELECT, and a flag change made in another session reaches it as an
// unsolicited FETCH with a higher MODSEQ, the one FETCH MODSEQ and STATUS
// HIGHESTMODSEQ report.
func TestCondStoreFlagChange(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		a, addr := rawSession(t, e, "cond", fmt.Sprintf(condMsg, 1, 1), fmt.Sprintf(condMsg, 2, 2))
		if got := a.mustOK("CAPABILITY"); !strings.Contains(strings.Join(got, " "), " CONDSTORE QRESYNC") {
			t.Fatalf("CONDSTORE and QRESYNC not advertised: %q", got)
		}
		grep(t, a.mustOK("ENABLE CONDSTORE"), `^\* ENABLED CONDSTORE$`)
		hms := atoi(t, grep(t, a.mustOK("SELECT INBOX"), `^\* OK \[HIGHESTMODSEQ (\d+)\]`)[1])

		b := e.rawLogin(t, addr)
		b.mustOK("SELECT INBOX")
		b.mustOK("STORE 2 +FLAGS.SILENT (\\Flagged)")

		m := grep(t, a.mustOK("NOOP"), `^\* 2 FETCH \(UID 2 FLAGS \(([^)]*)\) MODSEQ \((\d+)\)\)$`)
		if !strings.Contains(m[1], `\Flagged`) {
			t.Errorf("flags %q lack \\Flagged", m[1])
		}
		modseq := atoi(t, m[2])
		if modseq <= hms {
			t.Errorf("MODSEQ %d not above HIGHESTMODSEQ %d", modseq, hms)
		}
		grep(t, a.mustOK("FETCH 2 (MODSEQ)"), fmt.Sprintf(`^\* 2 FETCH \(MODSEQ \(%d\)\)$`, modseq))
		got := grep(t, a.mustOK("FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatInt(hms, 10)+")"), `^\* (\d+) FETCH`)
		if got[1] != "2" {
			t.Errorf("CHANGEDSINCE returned message %s", got[1])
		}
		st := grep(t, b.mustOK("STATUS INBOX (MESSAGES HIGHESTMODSEQ)"), `^\* STATUS INBOX \(MESSAGES 2 HIGHESTMODSEQ (\d+)\)$`)
		if atoi(t, st[1]) < modseq {
			t.Errorf("STATUS HIGHESTMODSEQ %s below %d", st[1], modseq)
		}
	})
}

// TestStoreUnchangedSince: a conditional STORE leaves a message changed
// elsewhere since the client's MODSEQ alone and names it in [MODIFIED];
// the other message changes.
func TestStoreUnchangedSince(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		a, addr := rawSession(t, e, "unchanged", fmt.Sprintf(condMsg, 1, 1), fmt.Sprintf(condMsg, 2, 2))
		hms := grep(t, a.mustOK("SELECT INBOX (CONDSTORE)"), `^\* OK \[HIGHESTMODSEQ (\d+)\]`)[1]
		b := e.rawLogin(t, addr)
		b.mustOK("SELECT INBOX")
		b.mustOK("STORE 2 +FLAGS.SILENT ($Label1)")

		untagged, done := a.cmd("STORE 1:2 (UNCHANGEDSINCE %s) +FLAGS (\\Answered)", hms)
		if done != "OK [MODIFIED 2] Conditional STORE failed" {
			t.Fatalf("conditional STORE: %s", done)
		}
		grep(t, untagged, `^\* 1 FETCH \(FLAGS \([^)]*\\Answered[^)]*\) MODSEQ \(\d+\)\)$`)
		noLine(t, untagged, `^\* 2 FETCH \(FLAGS \([^)]*\\Answered`)
		flags := grep(t, b.mustOK("FETCH 2 (FLAGS)"), `^\* 2 FETCH \(FLAGS \(([^)]*)\)`)[1]
		if strings.Contains(flags, `\Answered`) || !strings.Contains(flags, "$Label1") {
			t.Errorf("message 2 has %q: the conditional STORE changed it", flags)
		}
	})
}

// TestQresyncVanished: a QRESYNC reselect after expunges in another
// session gets exactly the expunged UIDs in VANISHED (EARLIER) and the
// changed message in a FETCH with MODSEQ; later expunges come as VANISHED,
// and UID FETCH (CHANGEDSINCE n VANISHED) reports them too.
func TestQresyncVanished(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		var msgs []string
		for i := 1; i <= 5; i++ {
			msgs = append(msgs, fmt.Sprintf(condMsg, i, i))
		}
		a, addr := rawSession(t, e, "qresync", msgs...)
		a.mustOK("ENABLE QRESYNC")
		sel := a.mustOK("SELECT INBOX")
		hms := grep(t, sel, `^\* OK \[HIGHESTMODSEQ (\d+)\]`)[1]
		uv := grep(t, sel, `^\* OK \[UIDVALIDITY (\d+)\]`)[1]
		a.mustOK("UNSELECT")

		b := e.rawLogin(t, addr)
		b.mustOK("SELECT INBOX")
		b.mustOK("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
		b.mustOK("EXPUNGE")
		b.mustOK("STORE 3 +FLAGS.SILENT (\\Flagged)") // UID 5 is now 3

		sel = a.mustOK(fmt.Sprintf("SELECT INBOX (QRESYNC (%s %s 1:5))", uv, hms))
		grep(t, sel, `^\* VANISHED \(EARLIER\) 2,4$`)
		grep(t, sel, `^\* 3 FETCH \(UID 5 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$`)
		noLine(t, sel, `FETCH \(UID [13] `)

		b.mustOK("STORE 1 +FLAGS.SILENT (\\Deleted)")
		b.mustOK("EXPUNGE")
		up := a.mustOK("NOOP")
		grep(t, up, `^\* VANISHED 1$`)
		noLine(t, up, `EXPUNGE`)
		grep(t, a.mustOK("UID FETCH 1:5 (FLAGS) (CHANGEDSINCE "+hms+" VANISHED)"), `^\* VANISHED \(EARLIER\) 1:2,4$`)

		// Past the tombstone purge horizon the answer is the full one:
		// every UID of the known range that does not exist.
		if _, err := e.Store.PurgeTombstones(bg, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		d := e.rawLogin(t, addr)
		d.mustOK("ENABLE QRESYNC")
		grep(t, d.mustOK(fmt.Sprintf("SELECT INBOX (QRESYNC (%s %s 1:5))", uv, hms)), `^\* VANISHED \(EARLIER\) 1:2,4$`)

		// Without ENABLE QRESYNC the parameter is refused.
		c := e.rawLogin(t, addr)
		if _, done := c.cmd("SELECT INBOX (QRESYNC (%s %s))", uv, hms); !strings.HasPrefix(done, "BAD") {
			t.Errorf("SELECT (QRESYNC) without ENABLE: %s", done)
		}
	})
}

// TestFetchBinaryAndRoutes: BINARY of a base64 part decodes it, a partial
// one names its origin, an unknown transfer encoding fails with
// UNKNOWN-CTE, and ENVELOPE keeps a source route as Dovecot writes it.
func TestFetchBinaryAndRoutes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		mime := "From: <@route:user@domain>\r\nSubject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n" +
			"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b--\r\n"
		r, _ := rawSession(t, e, "binary", mime)
		r.mustOK("SELECT INBOX")
		if got := r.mustOK("CAPABILITY"); !strings.Contains(strings.Join(got, " "), " BINARY") {
			t.Fatalf("BINARY not advertised: %q", got)
		}
		grep(t, r.mustOK("FETCH 1 (BINARY.SIZE[1])"), `^\* 1 FETCH \(BINARY\.SIZE\[1\] 11\)$`)
		got := r.mustOK("FETCH 1 (BINARY.PEEK[1]<6.5>)")
		if len(got) < 2 || got[0] != "* 1 FETCH (BINARY[1]<6> ~{5}" || got[1] != "world)" {
			t.Errorf("partial BINARY: %q", got)
		}
		if _, done := r.cmd("FETCH 1 (BINARY.PEEK[2])"); !strings.HasPrefix(done, "NO [UNKNOWN-CTE]") {
			t.Errorf("BINARY of x-uuencode: %s", done)
		}
		got = r.mustOK("FETCH 1 (BODY.PEEK[1]<0.4>)")
		if len(got) < 2 || got[0] != "* 1 FETCH (BODY[1]<0> {4}" || got[1] != "aGVs)" {
			t.Errorf("partial BODY: %q", got)
		}
		grep(t, r.mustOK("FETCH 1 ENVELOPE"), `^\* 1 FETCH \(ENVELOPE \(NIL "bin" \(\(NIL "@route" "user" "domain"\)\) `)
	})
}

// TestCondStoreLiteralNameAndListStatus: SELECT and STATUS take their
// RFC 7162 parameters after a mailbox name sent as a literal, and LIST
// with the STATUS return option reports HIGHESTMODSEQ (RFC 5819 with RFC
// 7162 section 3.1.3) per folder, other return options kept.
func TestCondStoreLiteralNameAndListStatus(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		a, addr := rawSession(t, e, "condlit", fmt.Sprintf(condMsg, 1, 1), fmt.Sprintf(condMsg, 2, 2))
		a.mustOK("CREATE Lists")
		b := e.rawLogin(t, addr)
		b.mustOK("SELECT INBOX")
		b.mustOK("STORE 1 +FLAGS.SILENT (\\Seen)")

		st := grep(t, a.mustOK("STATUS {5+}\r\nINBOX (MESSAGES HIGHESTMODSEQ)"), `^\* STATUS INBOX \(MESSAGES 2 HIGHESTMODSEQ (\d+)\)$`)
		hms := atoi(t, st[1])
		sel := a.mustOK("EXAMINE {5+}\r\nINBOX (CONDSTORE)")
		if got := atoi(t, grep(t, sel, `^\* OK \[HIGHESTMODSEQ (\d+)\]`)[1]); got < 1 || got > hms {
			t.Errorf("EXAMINE with a literal name: HIGHESTMODSEQ %d, STATUS said %d", got, hms)
		}

		list := a.mustOK(`LIST "" "*" RETURN (SUBSCRIBED STATUS (MESSAGES HIGHESTMODSEQ))`)
		grep(t, list, fmt.Sprintf(`^\* STATUS INBOX \(MESSAGES 2 HIGHESTMODSEQ %d\)$`, hms))
		grep(t, list, `^\* STATUS "Lists" \(MESSAGES 0 HIGHESTMODSEQ \d+\)$`)
		grep(t, list, `^\* LIST \([^)]*\) "/" INBOX$`)
		// A pattern that spells the option is a name, not an option.
		if got := a.mustOK(`LIST "" "HIGHESTMODSEQ" RETURN (STATUS (MESSAGES))`); len(got) != 0 {
			t.Errorf("LIST of a pattern spelling HIGHESTMODSEQ: %q, want no folder", got)
		}
		if _, done := a.cmd(`LIST "" "*" RETURN (STATUS (MESSAGES NOSUCHITEM))`); !strings.HasPrefix(done, "BAD") {
			t.Errorf("unknown STATUS item in LIST: %q, want BAD", done)
		}
	})
}
