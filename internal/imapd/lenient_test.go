package imapd_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestAppendFlagListLeadingSpace: Dovecot's imapc storage appends a
// message that has keywords but no system flags with a space after the
// flag list's "(" ("APPEND "box" ( $Label1 NonJunk) ..."), which RFC 9051
// does not allow and go-imap rejects with BAD. The server repairs that
// command line and stores the flags. Literal data is passed unchanged,
// even when it looks like such a command line: a mailbox name given as a
// literal and a message whose lines read like the buggy APPEND are stored
// byte for byte.
func TestAppendFlagListLeadingSpace(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "lenient")
		r := e.raw(t)
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "OK") {
			t.Fatalf("login: %s", done)
		}
		appendRaw := func(line, msg string) string {
			t.Helper()
			r.n++
			tag := fmt.Sprintf("t%d", r.n)
			r.send(fmt.Sprintf("%s %s {%d}\r\n", tag, line, len(msg)))
			if l := r.line(); !strings.HasPrefix(l, "+") {
				t.Fatalf("%s: no continuation: %q", line, l)
			}
			r.send(msg + "\r\n")
			_, done := r.until(tag)
			return done
		}
		tricky := "Subject: x\r\n\r\nt9 APPEND \"INBOX\" (  \\Seen) {3}\r\nabc\r\n( keep  these ( spaces\r\n"
		for _, c := range []struct{ line, msg string }{
			{`APPEND "INBOX" ( $Label1 NonJunk) "02-May-2001 05:19:00 +0000"`, "Subject: one\r\n\r\nkeywords only\r\n"},
			{`append INBOX (  $Forwarded)`, "Subject: two\r\n\r\ntwo spaces, atom mailbox\r\n"},
			{`APPEND "INBOX" (\Seen $Label1)`, tricky},
		} {
			if done := appendRaw(c.line, c.msg); !strings.HasPrefix(done, "OK") {
				t.Errorf("%s: %s", c.line, done)
			}
		}
		// A mailbox name as a literal, then the flag list on the line
		// after it: the literal is data and the rest is not repaired.
		r.n++
		tag := fmt.Sprintf("t%d", r.n)
		r.send(tag + " APPEND {5}\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("no continuation for the mailbox literal: %q", l)
		}
		r.send("INBOX (\\Flagged) {4}\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("no continuation for the message literal: %q", l)
		}
		r.send("X: y\r\n")
		if _, done := r.until(tag); !strings.HasPrefix(done, "OK") {
			t.Errorf("APPEND with a literal mailbox name: %s", done)
		}
		r.cmd("LOGOUT")

		c := e.login(t, addr, nil)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 4 {
			t.Fatalf("INBOX has %d messages, want 4", len(msgs))
		}
		// \Recent: this is the first session to select INBOX since the appends.
		wantFlags := []string{`$Label1 NonJunk \Recent`, `$Forwarded \Recent`, `$Label1 \Seen \Recent`, `\Flagged \Recent`}
		for i, m := range msgs {
			var fs []string
			for _, f := range m.Flags {
				fs = append(fs, string(f))
			}
			if got := sortFlags(strings.Join(fs, ",")); got != sortFlags(strings.ReplaceAll(wantFlags[i], " ", ",")) {
				t.Errorf("message %d: flags %q, want %q", i+1, got, wantFlags[i])
			}
		}
		body := msgs[2].FindBodySection(&imap.FetchItemBodySection{})
		if sha256.Sum256(body) != sha256.Sum256([]byte(tricky)) {
			t.Errorf("a message whose lines look like a buggy APPEND was changed:\n got %q\nwant %q", body, tricky)
		}
	})
}
