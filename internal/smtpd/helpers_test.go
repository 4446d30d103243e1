package smtpd_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// These tests start real servers (server.New + Start) with the SMTP and
// submission listeners on 127.0.0.1:0 and talk to them with real clients
// (go-smtp, swaks, raw TCP). Each runs on SQLite and, when
// TENANTFERRY_TEST_POSTGRES holds a DSN, on PostgreSQL.

var (
	bg = context.Background()
	op = &admin.Principal{Operator: true}
)

// logBuf collects a server's log output; it is printed when a test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// tserver is a running server under test.
type tserver struct {
	*server.Server
	t    testing.TB
	logs *logBuf
}

// waitLog waits for a log line of the server that contains every part.
func (s *tserver) waitLog(parts ...string) {
	s.t.Helper()
	wait.For(s.t, 20*time.Second, fmt.Sprintf("a log line with %q", parts), func() error {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return nil
			}
		}
		return errors.New("none yet")
	})
}

// startServer starts a server on a fresh data dir and database; mod
// adjusts the configuration.
func startServer(t testing.TB, dialect db.Dialect, mod func(*config.Config)) *tserver {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DB = dbtest.DSN(t, dialect)
	cfg.HTTP, cfg.IMAP = "127.0.0.1:0", "off"
	cfg.SMTP, cfg.Submission = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Hostname = "mx.test"
	cfg.InboundAuth = false // hermetic: no system DNS (internal/mailauth tests run their own)
	if mod != nil {
		mod(&cfg)
	}
	logs := &logBuf{}
	s, err := server.New(bg, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	s.Delivery.RetryBase, s.Delivery.RetryMax = 100*time.Millisecond, time.Second
	s.Delivery.LookupMX = func(context.Context, string) ([]*net.MX, error) { // tests route by transport map only
		return nil, &net.DNSError{Err: "no DNS in tests", IsTemporary: true}
	}
	if err := s.Start(bg); err != nil {
		s.Shutdown(bg)
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() || os.Getenv("TF_TEST_LOG") != "" {
			t.Logf("server %s log:\n%s", cfg.Hostname, logs)
		}
	})
	t.Cleanup(func() {
		if err := s.Store.CheckConsistency(context.Background()); err != nil {
			t.Errorf("store consistency: %v", err)
		}
		if err := s.Delivery.CheckConsistency(context.Background()); err != nil {
			t.Errorf("queue consistency: %v", err)
		}
	})
	return &tserver{Server: s, t: t, logs: logs}
}

func (s *tserver) tenant(name string) *admin.TenantCreated {
	s.t.Helper()
	tn, err := s.Admin.CreateTenant(bg, op, name)
	if err != nil {
		s.t.Fatal(err)
	}
	return tn
}

func (s *tserver) recipient(tenant string, spec directory.RecipientSpec) *directory.Recipient {
	s.t.Helper()
	r, err := s.Admin.CreateRecipient(bg, op, tenant, spec)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *tserver) mailbox(tenant, alias string) *directory.Recipient {
	return s.recipient(tenant, directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias, Password: "pw-" + alias})
}

// inbox returns the raw messages in a mailbox's Inbox, in UID order.
func (s *tserver) inbox(r *directory.Recipient) []string {
	s.t.Helper()
	return inboxOf(s.t, s.Store, r.TenantID, r.ExchangeGuid)
}

func inboxOf(t testing.TB, st *mailstore.Store, tenantID, guid string) []string {
	t.Helper()
	mb, err := st.Mailbox(bg, tenantID, guid)
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.FolderBySpecialUse(bg, mb.ID, mailstore.UseInbox)
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Fetch(bg, mb.ID, f.ID, mailstore.AllUIDs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		b, err := st.OpenItem(bg, mb.ID, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(raw))
	}
	return out
}

// waitInbox waits until the Inbox holds at least n messages.
func (s *tserver) waitInbox(r *directory.Recipient, n int) []string {
	s.t.Helper()
	var got []string
	wait.For(s.t, 30*time.Second, r.PrimarySmtpAddress+"'s messages", func() error {
		if got = s.inbox(r); len(got) >= n {
			return nil
		}
		st, _ := s.Delivery.QueueStats(bg)
		return fmt.Errorf("%d messages, want %d (queue %v)", len(got), n, st)
	})
	return got
}

// drained waits until no queue row is open.
func (s *tserver) drained() {
	s.t.Helper()
	wait.For(s.t, 30*time.Second, "queue drained", func() error {
		st, err := s.Delivery.QueueStats(bg)
		if err != nil {
			s.t.Fatal(err)
		}
		if st[delivery.StateQueued]+st[delivery.StateHeld] == 0 {
			return nil
		}
		return fmt.Errorf("open rows: %v", st)
	})
}

// message builds a CRLF message with a unique subject.
func message(from, to, subject, body string) string {
	return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@client.test>\r\n\r\n" + body + "\r\n"
}

// sendMail sends one message with go-smtp (no AUTH) and returns the error
// of the first refused step.
func sendMail(addr, from string, to []string, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}

// smtpCode returns the reply code and enhanced code of a go-smtp error.
func smtpCode(err error) (int, string) {
	se, ok := err.(*smtp.SMTPError)
	if !ok {
		return 0, fmt.Sprint(err)
	}
	return se.Code, fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
}

// stripReceived removes the first header field (the Received header the
// receiving server prepended), and reports whether there was one.
func stripReceived(raw string) (string, bool) {
	if !strings.HasPrefix(raw, "Received: ") {
		return raw, false
	}
	i := 0
	for {
		j := strings.Index(raw[i:], "\r\n")
		if j < 0 {
			return raw, false
		}
		i += j + 2
		if i >= len(raw) || (raw[i] != ' ' && raw[i] != '\t') {
			return raw[i:], true
		}
	}
}

// rawConn is a line-level SMTP client for hostile input.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	r.expect("220")
	return r
}

// send writes raw bytes.
func (r *rawConn) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply; "" on EOF.
func (r *rawConn) reply() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var all []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return strings.Join(all, "")
		}
		all = append(all, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(all, "")
		}
	}
}

// expect reads a reply and checks its start.
func (r *rawConn) expect(prefix string) string {
	r.t.Helper()
	got := r.reply()
	if !strings.HasPrefix(got, prefix) {
		r.t.Fatalf("reply %q, want %q...", got, prefix)
	}
	return got
}

// cmd sends one command line and checks the reply's start.
func (r *rawConn) cmd(line, prefix string) string {
	r.t.Helper()
	r.send(line + "\r\n")
	return r.expect(prefix)
}
