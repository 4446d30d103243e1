package imapd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/server"
)

const password = "correct horse battery staple"

var bg = context.Background()

// env is a running IMAP server with a tenant "contoso" and its users.
type env struct {
	Srv    *imapd.Server // nil for a full server
	Dir    *directory.Directory
	Store  *mailstore.Store
	Addr   string
	Tenant *directory.Tenant
}

// testLog returns a logger that writes to the test log when -v is given.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newEnv starts an imapd server directly over a mailstore and directory on
// d, listening on 127.0.0.1:0. mod may change the options.
func newEnv(t *testing.T, d *db.DB, mod func(*imapd.Options)) *env {
	t.Helper()
	bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(t.TempDir(), "blobs")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	e := &env{Dir: directory.New(d, "tenantferry.test", make([]byte, 32)), Store: mailstore.New(d, bs)}
	opts := imapd.Options{Dir: e.Dir, Store: e.Store, Log: testLog(t), AllowPlainAuth: func(net.Conn) bool { return true },
		AuthFailDelay: 10 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	srv, err := imapd.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Cleanup(func() {
		if err := e.Store.CheckConsistency(context.Background()); err != nil {
			t.Errorf("store consistency: %v", err)
		}
	})
	e.Srv, e.Addr = srv, ln.Addr().String()
	if e.Tenant, err = e.Dir.CreateTenant(bg, "contoso"); err != nil {
		t.Fatal(err)
	}
	return e
}

// eachEnv runs f on every dialect with a fresh env.
func eachEnv(t *testing.T, f func(t *testing.T, e *env)) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) { f(t, newEnv(t, d, nil)) })
}

// fullServer starts a complete tenantferry server (internal/server) on a
// fresh database of the dialect, with IMAP on 127.0.0.1:0 and SMTP off,
// and returns an env over its directory and store.
func fullServer(t *testing.T, dialect db.Dialect) (*server.Server, *env) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DB = dbtest.DSN(t, dialect)
	cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = "127.0.0.1:0", "127.0.0.1:0", "off", "off"
	s, err := server.New(bg, cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(bg); err != nil {
		s.Shutdown(bg)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	e := &env{Dir: s.Dir, Store: s.Store, Addr: s.Addr("imap")}
	t.Cleanup(func() {
		if err := e.Store.CheckConsistency(context.Background()); err != nil {
			t.Errorf("store consistency: %v", err)
		}
	})
	if e.Addr == "" {
		t.Fatal("the server has no imap listener")
	}
	if e.Tenant, err = e.Dir.CreateTenant(bg, "contoso"); err != nil {
		t.Fatal(err)
	}
	return s, e
}

// eachFull runs f on every dialect against a full server.
func eachFull(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { _, e := fullServer(t, db.SQLite); f(t, e) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN to run the PostgreSQL variant")
		}
		_, e := fullServer(t, db.Postgres)
		f(t, e)
	})
}

// user creates a UserMailbox (alias) with the test password and returns
// its primary address. extra are additional SMTP proxies ("smtp:x@y").
func (e *env) user(t testing.TB, alias string, extra ...string) string {
	t.Helper()
	r, err := e.Dir.CreateRecipient(bg, e.Tenant.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias,
		Password: password, AddAddresses: extra})
	if err != nil {
		t.Fatal(err)
	}
	return r.PrimarySmtpAddress
}

// mailbox returns the store mailbox of a user (after its first login).
func (e *env) mailbox(t testing.TB, addr string) *mailstore.Mailbox {
	t.Helper()
	r, err := e.Dir.ResolveAddress(bg, addr)
	if err != nil || r == nil {
		t.Fatalf("resolve %s: %v", addr, err)
	}
	mb, err := e.Store.Mailbox(bg, r.TenantID, r.ExchangeGuid)
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

// folder returns a folder of a mailbox by path.
func (e *env) folder(t testing.TB, mb *mailstore.Mailbox, path string) *mailstore.Folder {
	t.Helper()
	f, err := e.Store.FolderByPath(bg, mb.ID, path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// client connects a go-imap client; h receives unilateral data.
func (e *env) client(t testing.TB, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(e.Addr, &imapclient.Options{UnilateralDataHandler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login connects and logs in as addr.
func (e *env) login(t testing.TB, addr string, h *imapclient.UnilateralDataHandler) *imapclient.Client {
	t.Helper()
	c := e.client(t, h)
	if err := c.Login(addr, password).Wait(); err != nil {
		t.Fatalf("login %s: %v", addr, err)
	}
	return c
}

// rawConn is a line-oriented IMAP connection for protocol-level checks.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
	n  int
}

// raw dials a raw connection and reads the greeting.
func (e *env) raw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", e.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawConn{t: t, c: c, br: bufio.NewReader(c)}
	if l := r.line(); !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting %q", l)
	}
	return r
}

// line reads one response line (without CRLF).
func (r *rawConn) line() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	l, err := r.br.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// send writes raw bytes.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// cmd sends a tagged command and returns the untagged lines and the
// tagged completion.
func (r *rawConn) cmd(format string, args ...any) (untagged []string, done string) {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.send(tag + " " + fmt.Sprintf(format, args...) + "\r\n")
	return r.until(tag)
}

// until reads lines up to the completion of tag.
func (r *rawConn) until(tag string) (untagged []string, done string) {
	r.t.Helper()
	for {
		l := r.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// flagSet turns a flag list into a set for comparisons.
func flagSet(fs []imap.Flag) map[imap.Flag]bool {
	m := map[imap.Flag]bool{}
	for _, f := range fs {
		m[f] = true
	}
	return m
}

// waitFor receives from ch or fails after a generous deadline (a hang, not
// a timing assertion).
func waitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("no %s", what)
		var zero T
		return zero
	}
}
