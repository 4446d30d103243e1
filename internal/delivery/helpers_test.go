package delivery_test

import (
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
	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

var bg = context.Background()

// env is a delivery service over a real database, blob store, mailbox store
// and directory, with a running job runner.
type env struct {
	t     *testing.T
	d     *db.DB
	dir   *directory.Directory
	store *mailstore.Store
	svc   *delivery.Service
	jobs  *jobs.Runner
}

func testLog(t *testing.T) *slog.Logger {
	if os.Getenv("TF_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newEnv builds the environment; tune adjusts the service before the
// runner starts.
func newEnv(t *testing.T, d *db.DB, transports map[string]string, tune func(*delivery.Service)) *env {
	t.Helper()
	return newEnvOn(t, blobtest.NewEnv(t, "files", d, blobstore.Options{}), transports, tune)
}

// newEnvOn builds the environment on a blob backend of the matrix.
func newEnvOn(t *testing.T, be *blobtest.Env, transports map[string]string, tune func(*delivery.Service)) *env {
	t.Helper()
	d := be.DB
	bs := be.Open(t)
	st := mailstore.New(d, bs)
	t.Cleanup(func() {
		if err := st.CheckConsistency(context.Background()); err != nil {
			t.Errorf("store consistency: %v", err)
		}
	})
	dir := directory.New(d, "tenantferry.test", bytes.Repeat([]byte{7}, 32))
	log := testLog(t)
	svc := delivery.New(delivery.Options{DB: d, Dir: dir, Store: st, Hostname: "mx.test", Transports: transports, Log: log})
	svc.RetryBase, svc.RetryMax = 50*time.Millisecond, 200*time.Millisecond
	t.Cleanup(func() {
		if err := svc.CheckConsistency(context.Background()); err != nil {
			t.Errorf("queue consistency: %v", err)
		}
	})
	if tune != nil {
		tune(svc)
	}
	w := river.NewWorkers()
	svc.Register(w)
	r, err := jobs.New(d, w, jobs.Options{Exclusive: d.Dialect == db.SQLite, PollInterval: 20 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	svc.Attach(r)
	if err := r.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(bg, 10*time.Second)
		defer cancel()
		r.Stop(ctx)
	})
	return &env{t: t, d: d, dir: dir, store: st, svc: svc, jobs: r}
}

func (e *env) tenant(name string) *directory.Tenant {
	e.t.Helper()
	tn, err := e.dir.CreateTenant(bg, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// mailbox creates a UserMailbox with its content store.
func (e *env) mailbox(tn *directory.Tenant, alias string) *directory.Recipient {
	e.t.Helper()
	r, err := e.dir.CreateRecipient(bg, tn.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias, Password: "secret-" + alias})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.store.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tn.ID, GUID: r.ExchangeGuid, DefaultFolders: true}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) mailUser(tn *directory.Tenant, alias, external string) *directory.Recipient {
	e.t.Helper()
	r, err := e.dir.CreateRecipient(bg, tn.ID, directory.RecipientSpec{Type: directory.MailUser, Alias: alias, ExternalEmail: external})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) group(tn *directory.Tenant, alias string, members ...*directory.Recipient) *directory.Recipient {
	e.t.Helper()
	g, err := e.dir.CreateRecipient(bg, tn.ID, directory.RecipientSpec{Type: directory.DistributionGroup, Alias: alias})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		if err := e.dir.AddMember(bg, tn.ID, g.ID, m.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return g
}

// send enqueues a message like the MX listener would.
func (e *env) send(from string, to []string, body string) *delivery.Queued {
	e.t.Helper()
	q, err := e.svc.Enqueue(bg, delivery.Envelope{From: from, To: to, Source: "test",
		Trace: delivery.Trace{Helo: "client.test", RemoteAddr: "192.0.2.1:4000", Protocol: "ESMTP"}}, strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("enqueue: %v", err)
	}
	return q
}

// inbox returns the raw messages in a recipient's Inbox.
func (e *env) inbox(r *directory.Recipient) []string {
	e.t.Helper()
	mb, err := e.store.Mailbox(bg, r.TenantID, r.ExchangeGuid)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := e.store.FolderBySpecialUse(bg, mb.ID, mailstore.UseInbox)
	if err != nil {
		e.t.Fatal(err)
	}
	items, err := e.store.Fetch(bg, mb.ID, f.ID, mailstore.AllUIDs)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		b, err := e.store.OpenItem(bg, mb.ID, it.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		raw, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, string(raw))
	}
	return out
}

// waitInbox waits until the Inbox holds n messages.
func (e *env) waitInbox(r *directory.Recipient, n int) []string {
	e.t.Helper()
	var got []string
	eventually(e.t, 20*time.Second, func() bool {
		got = e.inbox(r)
		return len(got) >= n
	}, func() string {
		return fmt.Sprintf("%s has %d messages, want %d; queue %v", r.PrimarySmtpAddress, len(got), n, e.states())
	})
	return got
}

// states returns the queue's recipient states.
func (e *env) states() map[string]int64 {
	st, err := e.svc.QueueStats(bg)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// row returns state, result and attempts of the queue row for rcpt.
func (e *env) row(queueID, rcpt string) (state, result string, attempts int) {
	e.t.Helper()
	err := e.d.Read().QueryRowContext(bg, `SELECT r.state, r.result, r.attempts FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id
		WHERE m.uid = ? AND r.rcpt_key = ?`, queueID, strings.ToLower(rcpt)).Scan(&state, &result, &attempts)
	if err != nil {
		e.t.Fatalf("row %s %s: %v", queueID, rcpt, err)
	}
	return
}

// heldJob returns the job id a queue row is held under (0 when none).
func (e *env) heldJob(queueID, rcpt string) int64 {
	e.t.Helper()
	var id int64
	err := e.d.Read().QueryRowContext(bg, `SELECT r.job_id FROM queue_recipients r JOIN queue_messages m ON m.id = r.message_id
		WHERE m.uid = ? AND r.rcpt_key = ? AND r.state = 'held'`, queueID, strings.ToLower(rcpt)).Scan(&id)
	if err != nil && !db.IsNoRows(err) {
		e.t.Fatalf("held job %s %s: %v", queueID, rcpt, err)
	}
	return id
}

// waitState waits for a queue row to reach a state.
func (e *env) waitState(queueID, rcpt, want string) (result string) {
	e.t.Helper()
	var st string
	eventually(e.t, 20*time.Second, func() bool {
		st, result, _ = e.row(queueID, rcpt)
		return st == want
	}, func() string { return fmt.Sprintf("row %s/%s is %s (%s), want %s", queueID, rcpt, st, result, want) })
	return result
}

// eventually waits (wait.For) until cond holds; msg explains a timeout.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	wait.For(t, timeout, "condition", func() error {
		if cond() {
			return nil
		}
		return errors.New(msg())
	})
}

// message builds a CRLF message.
func message(from, to, subject, body string) string {
	return "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@test>\r\n\r\n" + body + "\r\n"
}

// stripReceived removes the first header field (our Received header).
func stripReceived(t *testing.T, raw string) string {
	t.Helper()
	if !strings.HasPrefix(raw, "Received: ") {
		t.Fatalf("message does not start with our Received header: %q", raw[:min(len(raw), 80)])
	}
	i := 0
	for {
		j := strings.Index(raw[i:], "\r\n")
		if j < 0 {
			t.Fatalf("unterminated header")
		}
		i += j + 2
		if i >= len(raw) || (raw[i] != ' ' && raw[i] != '\t') {
			return raw[i:]
		}
	}
}

// sink is a fake remote SMTP server that records what it receives and
// refuses recipients whose local part is in refuse (with the given error).
type sink struct {
	Addr string
	mu   sync.Mutex
	got  []sunk
	// refuse maps recipient local parts to the error RCPT returns.
	refuse map[string]*smtp.SMTPError
}

type sunk struct {
	From string
	To   []string
	Data []byte
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{refuse: map[string]*smtp.SMTPError{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.ErrorLog = nopLog{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) messages() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.got...)
}

type sinkSession struct {
	s    *sink
	from string
	to   []string
}

func (x *sinkSession) Reset()        { x.from, x.to = "", nil }
func (x *sinkSession) Logout() error { return nil }
func (x *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	local, _, _ := strings.Cut(to, "@")
	x.s.mu.Lock()
	e := x.s.refuse[local]
	x.s.mu.Unlock()
	if e != nil {
		return e
	}
	x.to = append(x.to, to)
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, sunk{From: x.from, To: x.to, Data: b})
	x.s.mu.Unlock()
	return nil
}

type nopLog struct{}

func (nopLog) Printf(string, ...any) {}
func (nopLog) Println(...any)        {}

// TestMain shares one SeaweedFS among the package's s3 variants.
func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }
