package imapd_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Wire-level tests of the IMAP compliance fixes found by Dovecot's
// imaptest (issue 7). Each runs without imaptest, over a raw connection,
// so that the exact responses are checked.

// rawSession logs a raw connection in as a new user of e and appends msgs
// to INBOX (in order, so message i is sequence number i+1).
func rawSession(t *testing.T, e *env, alias string, msgs ...string) (*rawConn, string) {
	t.Helper()
	addr := e.user(t, alias)
	r := e.raw(t)
	if _, done := r.cmd("LOGIN %s %q", addr, password); !strings.HasPrefix(done, "OK") {
		t.Fatalf("login: %s", done)
	}
	for _, m := range msgs {
		r.appendRaw("INBOX", m)
	}
	return r, addr
}

// appendRaw appends a message with a synchronizing literal.
func (r *rawConn) appendRaw(mailbox, msg string) {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(fmt.Sprintf("%s APPEND %q {%d}\r\n", tag, mailbox, len(msg)))
	if l := r.line(); !strings.HasPrefix(l, "+") {
		r.t.Fatalf("APPEND: no continuation: %q", l)
	}
	r.send(msg + "\r\n")
	if _, done := r.until(tag); !strings.HasPrefix(done, "OK") {
		r.t.Fatalf("APPEND: %s", done)
	}
}

// mustOK runs a command line (taken as it is, not as a format) and fails
// unless it completes OK.
func (r *rawConn) mustOK(line string) []string {
	r.t.Helper()
	untagged, done := r.cmd("%s", line)
	if !strings.HasPrefix(done, "OK") {
		r.t.Fatalf("%s: %s", line, done)
	}
	return untagged
}

// rawLogin dials a raw connection and logs in as addr.
func (e *env) rawLogin(t *testing.T, addr string) *rawConn {
	t.Helper()
	r := e.raw(t)
	r.mustOK(fmt.Sprintf("LOGIN %s %q", addr, password))
	return r
}

// checkSearches runs SEARCH with each criteria and checks the result line.
func checkSearches(t *testing.T, r *rawConn, want map[string]string) {
	t.Helper()
	for q, w := range want {
		if got := r.mustOK("SEARCH " + q); !hasLine(got, w) {
			t.Errorf("SEARCH %s: got %q, want %q", q, got, w)
		}
	}
}

// hasLine reports whether lines contain want exactly.
func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestEnvelopeAddresses: ENVELOPE keeps groups (start and end markers,
// empty groups), addresses with comments and routed addresses, and an
// empty Sender or Reply-To falls back to From (RFC 3501 section 7.4.2).
// The source route is the address's adl ("@route"), and the addresses of
// a list follow each other without a space, as Dovecot writes them.
func TestEnvelopeAddresses(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const date = "Date: Thu, 15 Feb 2007 01:02:03 +0200\r\n"
		r, _ := rawSession(t, e, "envelope",
			date+"From: user@domain (Real Name)\r\nTo: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\r\nCc: group:;, group2: (foo) ;\r\n\r\nbody\r\n",
			date+"From: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n\r\nbody\r\n",
			date+"From: <@route:user@domain>\r\n\r\nbody\r\n",
			date+"From: <user-from (comment)@ (comment) domain.org>\r\n\r\nbody\r\n")
		r.mustOK("SELECT INBOX")
		got := r.mustOK("FETCH 1:* ENVELOPE")
		const real = `(("Real Name" NIL "user" "domain"))`
		for _, want := range []string{
			`* 1 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ` + real + ` ` + real + ` ` + real +
				` ((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))` +
				` ((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL)) NIL NIL NIL))`,
			`* 2 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ` + real + ` ` + real + ` ` + real + ` NIL NIL NIL NIL NIL))`,
			`* 3 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) ((NIL "@route" "user" "domain")) NIL NIL NIL NIL NIL))`,
			`* 4 FETCH (ENVELOPE ("Thu, 15 Feb 2007 01:02:03 +0200" NIL ((NIL NIL "user-from" "domain.org")) ((NIL NIL "user-from" "domain.org")) ((NIL NIL "user-from" "domain.org")) NIL NIL NIL NIL NIL))`,
		} {
			if !hasLine(got, want) {
				t.Errorf("FETCH ENVELOPE lacks\n%s\ngot:\n%s", want, strings.Join(got, "\n"))
			}
		}
	})
}

// TestSearchAddresses: SEARCH FROM/TO match the parsed addresses (so a
// comment inside the address or a route does not hide it), display names
// taken from comments, and group names.
func TestSearchAddresses(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "searchaddr",
			"From: user-from@domain.org\r\nTo: user-to@domain.org\r\n\r\n1\r\n",
			"From: <user-from (comment)@ (comment) domain.org>\r\nTo: <user-to@domain.org>\r\n\r\n2\r\n",
			"From: user-from@domain.org (RealFrom)\r\nTo: user-to@domain.org (RealTo)\r\n\r\n3\r\n",
			"From: <@route:user-from@domain.org>\r\nTo: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n  groupname2: groupuser3@domain.org;\r\n\r\n4\r\n",
			"From: other@domain.org\r\nTo: groupname:;\r\n\r\n5\r\n")
		r.mustOK("SELECT INBOX")
		checkSearches(t, r, map[string]string{
			"FROM user-from@domain.org": "* SEARCH 1 2 3 4",
			"FROM realfrom":             "* SEARCH 3",
			"TO user-to@domain.org":     "* SEARCH 1 2 3",
			"TO realto":                 "* SEARCH 3",
			"TO groupname":              "* SEARCH 4 5",
			"TO groupname2":             "* SEARCH 4",
			"TO groupuser3":             "* SEARCH 4",
			"TO groupuser4":             "* SEARCH",
		})
	})
}

// TestSearchSentDate: SENTBEFORE, SENTON and SENTSINCE compare the date as
// written in the Date header, whatever its zone, not the UTC date (RFC
// 3501 section 6.4.4).
func TestSearchSentDate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		var msgs []string
		for _, d := range []string{
			"Sat, 24 Mar 2007 23:00:00 +0200", // 1: 24 Mar written, 24 Mar UTC
			"Sun, 25 Mar 2007 00:00:00 +0200", // 2: 25 Mar written, 24 Mar UTC
			"Sun, 25 Mar 2007 23:00:00 +0300", // 3: 25 Mar written, 25 Mar UTC
			"Mon, 26 Mar 2007 00:00:00 +0300", // 4: 26 Mar written, 25 Mar UTC
			"Sun, 25 Mar 2007 20:00:00 -0500", // 5: 25 Mar written, 26 Mar UTC
		} {
			msgs = append(msgs, "From: a@b.test\r\nDate: "+d+"\r\n\r\nbody\r\n")
		}
		msgs = append(msgs, "From: a@b.test\r\n\r\nno date\r\n") // 6: the internal date (today)
		r, _ := rawSession(t, e, "sentdate", msgs...)
		r.mustOK("SELECT INBOX")
		checkSearches(t, r, map[string]string{
			"SENTBEFORE 25-Mar-2007":        "* SEARCH 1",
			"SENTBEFORE 26-Mar-2007":        "* SEARCH 1 2 3 5",
			"SENTON 24-Mar-2007":            "* SEARCH 1",
			"SENTON 25-Mar-2007":            "* SEARCH 2 3 5",
			"SENTON 26-Mar-2007":            "* SEARCH 4",
			"1:5 SENTSINCE 25-Mar-2007":     "* SEARCH 2 3 4 5",
			"1:5 SENTSINCE 26-Mar-2007":     "* SEARCH 4",
			"1:5 NOT SENTON 25-Mar-2007":    "* SEARCH 1 4",
			"SENTSINCE 1-Jan-2020":          "* SEARCH 6",
			"SENTBEFORE 1-Jan-2000":         "* SEARCH",
			"1:5 SENTSINCE 1-Jan-2007":      "* SEARCH 1 2 3 4 5",
			"1:5 NOT SENTBEFORE 1-Jan-2008": "* SEARCH",
		})
	})
}

// TestBareAmpersandFolder: a folder name with a bare "&" (not valid
// modified UTF-7) names the folder literally on CREATE, SELECT and LIST,
// instead of failing with NO [SERVERBUG]; LIST shows it encoded ("R&-D").
func TestBareAmpersandFolder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "amp")
		r.mustOK(`CREATE "R&D"`)
		if got := r.mustOK(`LIST "" "R&D"`); !hasLine(got, `* LIST (\HasNoChildren) "/" "R&-D"`) {
			t.Errorf(`LIST "" "R&D": %q`, got)
		}
		if got := r.mustOK(`LIST "" "R&-D"`); !hasLine(got, `* LIST (\HasNoChildren) "/" "R&-D"`) {
			t.Errorf(`LIST "" "R&-D": %q`, got)
		}
		r.mustOK(`SELECT "R&D"`)
		r.mustOK(`SELECT R&-D`)
		r.mustOK(`CREATE "p&AOQA5A-"`)
		if got := r.mustOK(`STATUS "p&AOQA5A-" (MESSAGES)`); !hasLine(got, `* STATUS "p&AOQA5A-" (MESSAGES 0)`) {
			t.Errorf("STATUS: %q", got)
		}
		// imaptest's "atoms": every atom character in a name.
		if _, done := r.cmd("%s", "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}"); !strings.HasPrefix(done, "NO [NONEXISTENT]") {
			t.Errorf("SELECT of a missing folder with atom characters: %s", done)
		}
		r.mustOK("LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*")
	})
}

// TestLsubUnsubscribedParent covers subscriptions as names (RFC 3501
// section 6.3.9, RFC 5258): CREATE subscribes neither the folder nor the
// parents it creates; LSUB "%" shows an unsubscribed parent of a
// subscribed folder as \Noselect; DELETE keeps the subscription (LSUB
// and LIST (SUBSCRIBED) show the name, LIST as \NonExistent) until
// UNSUBSCRIBE; RECURSIVEMATCH gives CHILDINFO to a parent whose
// subscribed child does not match itself.
func TestLsubUnsubscribedParent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "subs")
		r.mustOK("CREATE top/mid/leaf")
		r.mustOK("CREATE top/gone")
		if got := r.mustOK(`LSUB "" "top*"`); len(got) != 0 {
			t.Fatalf("CREATE subscribed something: %q", got)
		}
		r.mustOK("SUBSCRIBE top/mid/leaf")
		r.mustOK("SUBSCRIBE top/gone")
		got := r.mustOK(`LSUB "" "top/%"`)
		if !hasLine(got, `* LSUB (\Noselect) "/" "top/mid"`) || !hasLine(got, `* LSUB () "/" "top/gone"`) || len(got) != 2 {
			t.Errorf("LSUB top/%%: %q", got)
		}
		if got := r.mustOK(`LSUB "" "top/*"`); len(got) != 2 || !hasLine(got, `* LSUB () "/" "top/mid/leaf"`) {
			t.Errorf(`LSUB "" "top/*": %q`, got)
		}
		r.mustOK("DELETE top/gone")
		if got := r.mustOK(`LSUB "" "top/gone"`); !hasLine(got, `* LSUB () "/" "top/gone"`) {
			t.Errorf("DELETE dropped the subscription: %q", got)
		}
		if got := r.mustOK(`LIST (SUBSCRIBED) "" "top/*"`); !hasLine(got, `* LIST (\Subscribed \NonExistent) "/" "top/gone"`) ||
			!hasLine(got, `* LIST (\Subscribed \HasNoChildren) "/" "top/mid/leaf"`) || len(got) != 2 {
			t.Errorf("LIST (SUBSCRIBED): %q", got)
		}
		if got := r.mustOK(`LIST "" "top/*"`); hasLine(got, `* LIST (\NonExistent) "/" "top/gone"`) || len(got) != 2 {
			t.Errorf("plain LIST shows the deleted folder: %q", got)
		}
		got = r.mustOK(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "top/%" RETURN (CHILDREN)`)
		if !hasLine(got, `* LIST (\HasChildren) "/" "top/mid" (CHILDINFO ("SUBSCRIBED"))`) {
			t.Errorf("RECURSIVEMATCH: %q", got)
		}
		got = r.mustOK(`LIST (SUBSCRIBED RECURSIVEMATCH) "" ("top/mid" "top/mid/leaf")`)
		if len(got) != 1 || !hasLine(got, `* LIST (\Subscribed \HasNoChildren) "/" "top/mid/leaf"`) {
			t.Errorf("RECURSIVEMATCH with the child matched: %q", got)
		}
		r.mustOK("UNSUBSCRIBE top/gone")
		if got := r.mustOK(`LSUB "" "top/*"`); len(got) != 1 {
			t.Errorf("after UNSUBSCRIBE of a deleted folder: %q", got)
		}
		if got := r.mustOK(`LIST "" "INBOX" RETURN (SUBSCRIBED)`); !hasLine(got, `* LIST (\Subscribed \HasNoChildren) "/" INBOX`) {
			t.Errorf("the default folders are subscribed: %q", got)
		}
	})
}

// TestIDAndUnknownCommands: ID (RFC 2971) answers in every state and is
// advertised; an unknown command or a line without a tag before login is
// answered BAD without disconnecting, up to three in a row.
func TestIDAndUnknownCommands(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "id")
		r := e.raw(t)
		if caps, _ := r.cmd("CAPABILITY"); len(caps) != 1 || !strings.Contains(caps[0]+" ", " ID ") {
			t.Errorf("CAPABILITY before login: %q", caps)
		}
		if got := r.mustOK("ID NIL"); len(got) != 1 || got[0] != `* ID ("name" "tenantferry")` {
			t.Errorf("ID NIL: %q", got)
		}
		long := strings.Repeat("1234567890", 102)
		var pairs []string
		for i := 0; i < 30; i++ {
			pairs = append(pairs, fmt.Sprintf(`"f%02d" "%s"`, i, long))
		}
		r.mustOK("ID (" + strings.Join(pairs, " ") + ")") // a 31 KB line
		// A literal in ID gets its continuation request.
		r.send("L1 ID (\"name\" {5}\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+ ") {
			t.Fatalf("no continuation for a literal in ID: %q", l)
		}
		r.send("xyzzy)\r\n")
		if _, done := r.until("L1"); !strings.HasPrefix(done, "OK") {
			t.Errorf("ID with a literal: %s", done)
		}
		if _, done := r.cmd("ID"); !strings.HasPrefix(done, "BAD") {
			t.Errorf("ID without arguments: %s", done)
		}
		if _, done := r.cmd("XYZZY 1 2"); !strings.HasPrefix(done, "BAD") {
			t.Errorf("unknown command before login: %s", done)
		}
		r.send("no-tag-here\r\n")
		if l := r.line(); !strings.HasPrefix(l, "* BAD") {
			t.Errorf("a line without a command: %q", l)
		}
		if _, done := r.cmd("LOGIN %s %q", addr, password); !strings.HasPrefix(done, "OK") || !strings.Contains(done, " ID") {
			t.Errorf("LOGIN after invalid commands: %s", done)
		}
		if got := r.mustOK("ID NIL"); len(got) != 1 {
			t.Errorf("ID after login: %q", got)
		}
		if _, done := r.cmd("XYZZY"); !strings.HasPrefix(done, "BAD") {
			t.Errorf("unknown command after login: %s", done)
		}
		r.mustOK("NOOP")

		// Three invalid commands in a row before login end the connection.
		g := e.raw(t)
		g.cmd("GET / HTTP/1.1")
		g.cmd("Host: x")
		g.n++
		g.send(fmt.Sprintf("t%d User-Agent: y\r\n", g.n))
		if l := g.line(); !strings.HasPrefix(l, "t3 BAD") {
			t.Errorf("third invalid command: %q", l)
		}
		if l := g.line(); !strings.HasPrefix(l, "* BYE") {
			t.Errorf("no BYE after three invalid commands: %q", l)
		}
	})
}

// TestClientLinesNotCommands: the lines a client sends inside a command —
// SASL responses after AUTHENTICATE's continuation, DONE ending IDLE, the
// rest of a line after a literal — reach go-imap untouched by the command
// interception (no BAD for "a line without a tag").
func TestClientLinesNotCommands(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "lines")
		r := e.raw(t)
		r.send("A1 AUTHENTICATE PLAIN\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("AUTHENTICATE continuation: %q", l)
		}
		r.send(base64.StdEncoding.EncodeToString([]byte("\x00"+addr+"\x00"+password)) + "\r\n")
		if _, done := r.until("A1"); !strings.HasPrefix(done, "OK") {
			t.Fatalf("AUTHENTICATE with a continuation: %s", done)
		}
		r.mustOK("SELECT INBOX")
		r.send("I1 IDLE\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("IDLE continuation: %q", l)
		}
		r.send("DONE\r\n")
		if untagged, done := r.until("I1"); !strings.HasPrefix(done, "OK") || len(untagged) != 0 {
			t.Errorf("IDLE: %q %s", untagged, done)
		}
		r.send("L1 STATUS {5}\r\n")
		if l := r.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("literal continuation: %q", l)
		}
		r.send("INBOX (MESSAGES)\r\n")
		if untagged, done := r.until("L1"); !strings.HasPrefix(done, "OK") || len(untagged) != 1 {
			t.Errorf("STATUS with a literal mailbox name: %q %s", untagged, done)
		}
	})
}

// indexOf returns the index of the first line with prefix, or -1.
func indexOf(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// keywordTracker checks, as imaptest does, that every keyword in a FETCH
// response's FLAGS was announced by an earlier FLAGS response.
type keywordTracker struct {
	t     *testing.T
	who   string
	known map[string]bool
}

// observe checks untagged lines in order.
func (k *keywordTracker) observe(lines []string) {
	k.t.Helper()
	for _, l := range lines {
		if list, ok := strings.CutPrefix(l, "* FLAGS ("); ok {
			k.known = map[string]bool{}
			for _, f := range strings.Fields(strings.TrimSuffix(list, ")")) {
				k.known[strings.ToLower(f)] = true
			}
			continue
		}
		i := strings.Index(l, "FLAGS (")
		if !strings.Contains(l, " FETCH (") || i < 0 {
			continue
		}
		list, _, _ := strings.Cut(l[i+len("FLAGS ("):], ")")
		for _, f := range strings.Fields(list) {
			if !strings.HasPrefix(f, `\`) && !k.known[strings.ToLower(f)] {
				k.t.Errorf("%s: keyword %s used without being in FLAGS: %q", k.who, f, l)
			}
		}
	}
}

// cmd runs a command and checks its untagged responses.
func (k *keywordTracker) cmd(r *rawConn, line string) []string {
	k.t.Helper()
	lines := r.mustOK(line)
	k.observe(lines)
	return lines
}

// TestNewKeywordFlagsFirst: a FETCH response never carries a keyword the
// client has not seen in FLAGS: STORE of a new keyword sends FLAGS and
// PERMANENTFLAGS before its FETCH; another session gets FLAGS before the
// FETCH update; and a FETCH of a message whose new keyword only the store
// knows of yet (set by another process) is preceded by FLAGS too.
func TestNewKeywordFlagsFirst(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, addr := rawSession(t, e, "kw", "Subject: 1\r\n\r\n1\r\n", "Subject: 2\r\n\r\n2\r\n")
		other := e.rawLogin(t, addr)
		a := &keywordTracker{t: t, who: "storing session"}
		b := &keywordTracker{t: t, who: "other session"}
		b.cmd(other, "SELECT INBOX")
		a.cmd(r, "SELECT INBOX")

		got := a.cmd(r, "STORE 1 +FLAGS ($Hello)")
		f, p, x := indexOf(got, "* FLAGS ("), indexOf(got, "* OK [PERMANENTFLAGS ("), indexOf(got, "* 1 FETCH")
		if f < 0 || p < 0 || x < 0 || !(f < p && p < x) || !strings.Contains(got[p], `$Hello \*)`) {
			t.Errorf("STORE of a new keyword: %q", got)
		}
		if got := b.cmd(other, "NOOP"); indexOf(got, "* 1 FETCH") < 0 {
			t.Errorf("the other session was not told: %q", got)
		}

		mb := e.mailbox(t, addr)
		if _, err := e.Store.StoreFlags(bg, mb.ID, e.folder(t, mb, "INBOX").ID, mailstore.UIDSet{{Start: 2, Stop: 2}},
			mailstore.FlagsAdd, []string{"$Fresh"}); err != nil {
			t.Fatal(err)
		}
		if got := a.cmd(r, "FETCH 1:* (FLAGS)"); !strings.Contains(strings.Join(got, "\n"), "$Fresh") {
			t.Errorf("FETCH does not show the new keyword: %q", got)
		}
		a.cmd(r, "NOOP")
		b.cmd(other, "FETCH 2 (FLAGS)")
	})
}

// recentUIDs returns the UIDs FETCH 1:* shows with \Recent.
func recentUIDs(r *rawConn) []string {
	var out []string
	for _, l := range r.mustOK("FETCH 1:* (UID FLAGS)") {
		if f := strings.Fields(l); len(f) > 4 && f[2] == "FETCH" && strings.Contains(l, `\Recent`) {
			out = append(out, f[4])
		}
	}
	return out
}

// TestRecent: \Recent per RFC 3501 section 2.3.2: messages that arrived
// since the last session were told of them are recent in exactly one
// session. EXAMINE and STATUS show them without claiming; SELECT claims
// them; a new arrival is claimed by one of the sessions that have the
// folder selected, which gets * n RECENT after its EXISTS; SEARCH RECENT,
// NEW and OLD follow the session's \Recent.
func TestRecent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, addr := rawSession(t, e, "recent", "Subject: 1\r\n\r\n1\r\n", "Subject: 2\r\n\r\n2\r\n")
		if got := r.mustOK("EXAMINE INBOX"); !hasLine(got, "* 2 RECENT") {
			t.Errorf("EXAMINE: %q", got)
		}
		if got := recentUIDs(r); len(got) != 2 {
			t.Errorf("EXAMINE shows \\Recent on %v, want 2 messages", got)
		}
		r.mustOK("CLOSE")
		if got := r.mustOK("STATUS INBOX (RECENT)"); !hasLine(got, "* STATUS INBOX (RECENT 2)") {
			t.Errorf("STATUS after EXAMINE: %q", got)
		}
		if got := r.mustOK("SELECT INBOX"); !hasLine(got, "* 2 RECENT") {
			t.Errorf("SELECT: %q", got)
		}
		if got := r.mustOK("STATUS INBOX (RECENT)"); !hasLine(got, "* STATUS INBOX (RECENT 0)") {
			t.Errorf("STATUS after SELECT: %q", got)
		}
		other := e.rawLogin(t, addr)
		if got := other.mustOK("SELECT INBOX"); !hasLine(got, "* 0 RECENT") {
			t.Errorf("a second SELECT: %q", got)
		}
		if got := r.mustOK("SEARCH RECENT"); !hasLine(got, "* SEARCH 1 2") {
			t.Errorf("SEARCH RECENT: %q", got)
		}
		r.mustOK(`STORE 1 +FLAGS.SILENT (\Seen)`)
		for q, want := range map[string]string{"NEW": "* SEARCH 2", "OLD": "* SEARCH", "NOT RECENT": "* SEARCH"} {
			if got := r.mustOK("SEARCH " + q); !hasLine(got, want) {
				t.Errorf("SEARCH %s: %q, want %q", q, got, want)
			}
		}
		if got := other.mustOK("SEARCH OLD"); !hasLine(got, "* SEARCH 1 2") {
			t.Errorf("SEARCH OLD in the second session: %q", got)
		}

		// A new arrival: recent in exactly one of the two sessions.
		third := e.rawLogin(t, addr)
		third.appendRaw("INBOX", "Subject: 3\r\n\r\n3\r\n")
		a, b := r.mustOK("NOOP"), other.mustOK("NOOP")
		if !hasLine(a, "* 3 EXISTS") || !hasLine(b, "* 3 EXISTS") {
			t.Fatalf("no EXISTS: %q / %q", a, b)
		}
		ra, rb := hasLine(a, "* 3 RECENT"), hasLine(b, "* 1 RECENT") // the claimer's count grows by one
		if ra == rb || !ra && !hasLine(a, "* 2 RECENT") || !rb && !hasLine(b, "* 0 RECENT") {
			t.Errorf("RECENT after an arrival: first %q, second %q", a, b)
		}
		na, nb := len(recentUIDs(r)), len(recentUIDs(other))
		if na+nb != 3 || (ra && na != 3) || (rb && nb != 1) {
			t.Errorf("\\Recent messages: %d in the first session, %d in the second", na, nb)
		}
	})
}

// TestCreateSpecialUse: CREATE-SPECIAL-USE (RFC 6154) is advertised;
// CREATE with a supported use makes the folder with it, a use another
// folder has or an unsupported one is NO [USEATTR].
func TestCreateSpecialUse(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "use")
		if got := r.mustOK("CAPABILITY"); len(got) != 1 || !strings.Contains(got[0], " CREATE-SPECIAL-USE") {
			t.Errorf("CAPABILITY: %q", got)
		}
		r.mustOK(`DELETE Archive`)
		r.mustOK(`CREATE Old (USE (\Archive))`)
		if got := r.mustOK(`LIST "" Old`); !hasLine(got, `* LIST (\HasNoChildren \Archive) "/" "Old"`) {
			t.Errorf("LIST of the new folder: %q", got)
		}
		for _, c := range []string{`CREATE Other (USE (\Archive))`, `CREATE Flag (USE (\Flagged))`} {
			if _, done := r.cmd("%s", c); !strings.HasPrefix(done, "NO [USEATTR]") {
				t.Errorf("%s: %s", c, done)
			}
		}
		if got := r.mustOK(`LIST "" Flag`); len(got) != 0 {
			t.Errorf("a refused CREATE made a folder: %q", got)
		}
	})
}

// TestLiteralPlus: LITERAL+ (RFC 7888) is advertised and a
// non-synchronizing literal works in APPEND (also over 4096 bytes, within
// APPENDLIMIT) and other commands, with the bytes stored exactly.
func TestLiteralPlus(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r, _ := rawSession(t, e, "litplus")
		if got := r.mustOK("CAPABILITY"); len(got) != 1 || !strings.Contains(got[0]+" ", " LITERAL+ ") {
			t.Errorf("CAPABILITY: %q", got)
		}
		msg := "Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 1000)
		r.n++
		r.send(fmt.Sprintf("t%d APPEND INBOX (\\Seen) {%d+}\r\n%s\r\n", r.n, len(msg), msg))
		if _, done := r.until(fmt.Sprintf("t%d", r.n)); !strings.HasPrefix(done, "OK [APPENDUID") {
			t.Fatalf("APPEND with a non-synchronizing literal: %s", done)
		}
		r.n++
		r.send(fmt.Sprintf("t%d STATUS {5+}\r\nINBOX (MESSAGES SIZE)\r\n", r.n))
		if untagged, done := r.until(fmt.Sprintf("t%d", r.n)); !strings.HasPrefix(done, "OK") ||
			!hasLine(untagged, fmt.Sprintf("* STATUS INBOX (MESSAGES 1 SIZE %d)", len(msg))) {
			t.Errorf("STATUS with a non-synchronizing literal: %q %s", untagged, done)
		}
		r.mustOK("SELECT INBOX")
		r.n++
		r.send(fmt.Sprintf("t%d FETCH 1 BODY.PEEK[]\r\n", r.n))
		if l := r.line(); !strings.HasSuffix(l, fmt.Sprintf("{%d}", len(msg))) {
			t.Fatalf("FETCH: %q", l)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(r.br, got); err != nil || string(got) != msg {
			t.Errorf("the stored message differs (%v)", err)
		}
		r.until(fmt.Sprintf("t%d", r.n))
	})
}
