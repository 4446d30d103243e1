package imapd_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/imapd"
)

// TestHostileInput sends garbage and oversized input and checks that the
// server answers with errors (BAD, NO [TOOBIG], BYE) instead of crashing,
// that an authenticated session survives bad commands, and that the
// server keeps serving new connections throughout.
func TestHostileInput(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.AppendLimit = 4096 })
		addr := e.user(t, "alice")

		// Binary garbage before login: BAD, and the connection stays;
		// the third invalid command in a row ends it (cross-protocol
		// protection).
		r := e.raw(t)
		r.send("\x00\xff\xfe\x16\x03\x01 garbage\r\n")
		if l := r.line(); !strings.HasPrefix(l, "* BAD") {
			t.Errorf("garbage before login: %q", l)
		}
		r = e.raw(t)
		r.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\n")
		r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if rest, err := io.ReadAll(r.br); err != nil || strings.Count(string(rest), "BAD") != 3 || !strings.Contains(string(rest), "* BYE") {
			t.Errorf("HTTP request: %q %v", rest, err)
		}

		r = e.raw(t)
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "OK") {
			t.Fatalf("login: %s", done)
		}
		r.cmd("SELECT INBOX")
		for _, g := range []string{
			"FOO BAR", "FETCH", "FETCH 1:* (((((", "UID FETCH x BODY[", "SEARCH NOT NOT", "SEARCH OR 1",
			"STORE 1 +FLAGS (\\Bogus)", "STORE 1:* FLAGS (a\"b)", strings.Repeat("A", 10000),
			"SELECT", "CREATE \"a/*/b\"", "CREATE \"\"", "RENAME INBOX INBOX", "FETCH 4294967295 BODY[]",
			"UID FETCH 1:4294967295 BODY[1.2.3.4.5.6.7.8.9.10]", "SEARCH CHARSET KOI8-R TEXT x",
		} {
			_, done := r.cmd("%s", g)
			if !strings.HasPrefix(done, "BAD") && !strings.HasPrefix(done, "NO") && !strings.HasPrefix(done, "OK") {
				t.Errorf("%.40q: %q", g, done)
			}
		}
		if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
			t.Errorf("session after garbage: %s", done)
		}
		// A command name that is not an atom: BAD, and the session goes on.
		r3 := e.raw(t)
		r3.cmd("LOGIN %q %q", addr, password)
		r3.send("t9 \x01\x02\x03\x04\r\n")
		if l := r3.line(); !strings.HasPrefix(l, "* BAD") {
			t.Errorf("a command name that is not an atom: %q", l)
		}
		if _, done := r3.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
			t.Errorf("session after a line without a command: %s", done)
		}

		// APPEND over APPENDLIMIT is refused before the literal is sent.
		for _, size := range []string{"4097", "99999999999", "18446744073709551615"} {
			if _, done := r.cmd("APPEND INBOX {%s}", size); !strings.HasPrefix(done, "NO [TOOBIG]") && !strings.HasPrefix(done, "BAD") {
				t.Errorf("APPEND {%s}: %s", size, done)
			}
		}
		if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
			t.Errorf("session after a refused APPEND: %s", done)
		}
		// A non-synchronizing literal over APPENDLIMIT is refused; its
		// bytes (which LITERAL+ lets the client send at once) are skipped,
		// and so is one over 4096 bytes in another command.
		for _, c := range []string{"APPEND INBOX {5000+}\r\n", "SEARCH TEXT {5000+}\r\n", "APPEND INBOX (\\Seen) {9999+}\r\n"} {
			n, _ := strconv.Atoi(c[strings.Index(c, "{")+1 : strings.Index(c, "+}")])
			r.n++
			tag := "lp" + itoa(r.n)
			r.send(tag + " " + c + strings.Repeat("a1 LOGOUT\r\n", n/11) + strings.Repeat("x", n%11) + "\r\n")
			if _, done := r.until(tag); !strings.HasPrefix(done, "NO") && !strings.HasPrefix(done, "BAD") {
				t.Errorf("%q: %s", c, done)
			}
			if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
				t.Errorf("session after a refused %q: %s", c, done)
			}
		}
		// An APPEND within the limit works with odd bytes, in a literal and
		// in a literal8.
		msg := "Subject: \xff\x00\r\r\nbare\nlf\x00\r"
		for _, c := range []struct{ tag, lit, want string }{{"a1", "{", "OK [APPENDUID"}, {"a2", "~{", "OK [APPENDUID"}} {
			r.send(c.tag + " APPEND INBOX " + c.lit + itoa(len(msg)) + "}\r\n")
			if l := r.line(); !strings.HasPrefix(l, "+") {
				t.Fatalf("APPEND continuation: %q", l)
			}
			r.send(msg + "\r\n")
			if _, done := r.until(c.tag); !strings.HasPrefix(done, c.want) {
				t.Errorf("APPEND of odd bytes in a %s}: %s", c.lit, done)
			}
		}

		// A line over the command size limit: the connection may end, the
		// server stays up.
		r2 := e.raw(t)
		r2.cmd("LOGIN %q %q", addr, password)
		r2.send("a " + strings.Repeat("x", 200000) + "\r\n")
		r2.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.Copy(io.Discard, r2.c)

		// Connections dropped mid-command.
		for _, partial := range []string{"a LOGIN {10}\r\nab", "a APPEND INBOX {100}\r\n", "a IDLE\r\n"} {
			c, err := net.Dial("tcp", e.Addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, partial)
			c.Close()
		}

		cl := e.login(t, addr, nil)
		if err := cl.Noop().Wait(); err != nil {
			t.Errorf("server after hostile input: %v", err)
		}
		if _, done := r.cmd("NOOP"); !strings.HasPrefix(done, "OK") {
			t.Errorf("first session at the end: %s", done)
		}
	})
}
