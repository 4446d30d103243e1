package smtpd_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/server"
)

// crashMessages is how many messages each crash scenario submits.
const crashMessages = 500

// TestCrashSafety is issue 3's acceptance criterion 4. The server runs as a
// real process (`tenantferry serve`) and is killed with SIGKILL:
//   - kill-during-submit: a go-smtp client submits 500 messages, recording
//     exactly which got 250; the process is killed mid-stream, restarted on
//     the same data directory, the client submits the rest, and once the
//     queue has drained every acknowledged message is in the mailbox exactly
//     once (SHA-256 of the bytes after our Received header), and nothing is
//     there twice;
//   - kill-during-delivery: 500 messages are queued (acknowledged) before
//     the process starts; it is killed while it works through them and
//     restarted; each is delivered exactly once (idempotent delivery).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills processes; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "tenantferry")
	build := exec.Command("go", "build", "-o", bin, "github.com/tenantferry/tenantferry/cmd/tenantferry")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		t.Run("kill-during-submit", func(t *testing.T) { killDuringSubmit(t, bin, dialect) })
		t.Run("kill-during-delivery", func(t *testing.T) { killDuringDelivery(t, bin, dialect) })
	})
}

// crashEnv is a data directory (and database) shared by successive server
// processes.
type crashEnv struct {
	t       *testing.T
	bin     string
	dataDir string
	dsn     string
	alice   *directory.Recipient
}

// prepare creates the tenant and mailbox with an in-process server, and
// lets fill queue messages while that server's job runner is not started.
func prepare(t *testing.T, bin string, dialect db.Dialect, fill func(s *server.Server, alice *directory.Recipient)) *crashEnv {
	e := &crashEnv{t: t, bin: bin, dataDir: t.TempDir(), dsn: dbtest.DSN(t, dialect)}
	s := e.inProcess()
	defer s.Shutdown(bg)
	if _, err := s.Admin.CreateTenant(bg, op, "contoso"); err != nil {
		t.Fatal(err)
	}
	alice, err := s.Admin.CreateRecipient(bg, op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	e.alice = alice
	if fill != nil {
		fill(s, alice)
	}
	return e
}

// inProcess opens the data directory in this process, listeners off and
// jobs not started.
func (e *crashEnv) inProcess() *server.Server {
	cfg := config.Default()
	cfg.DataDir, cfg.DB = e.dataDir, e.dsn
	cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = "127.0.0.1:0", "off", "off", "off"
	cfg.InboundAuth = false // hermetic: no system DNS
	s, err := server.New(bg, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// proc is a running `tenantferry serve`.
type proc struct {
	cmd  *exec.Cmd
	smtp string
	logs *logBuf
}

var smtpAddrRe = regexp.MustCompile(`, smtp ([0-9.]+:[0-9]+)`)

// start runs the server binary on the data directory.
func (e *crashEnv) start() *proc {
	e.t.Helper()
	args := []string{"serve", "--data", e.dataDir, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0", "--imap", "off",
		"--submission", "off", "--hostname", "mx.test", "--log-level", "info", "--inbound-auth=false"}
	if e.dsn != "" {
		args = append(args, "--db", e.dsn)
	}
	p := &proc{cmd: exec.Command(e.bin, args...), logs: &logBuf{}}
	p.cmd.Stderr = p.logs
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if e.t.Failed() {
			e.t.Logf("server process log:\n%s", p.logs)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := smtpAddrRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case p.smtp = <-found:
	case <-time.After(60 * time.Second):
		e.t.Fatalf("server did not start:\n%s", p.logs)
	}
	return p
}

// kill ends the process with SIGKILL.
func (p *proc) kill(t *testing.T) {
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

// stop ends the process gracefully.
func (p *proc) stop(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not stop")
	}
}

// queueCounts reads the queue rows straight from the database (the server
// process owns it; reading is safe in WAL mode and on PostgreSQL).
func (e *crashEnv) queueCounts() (open, delivered int) {
	e.t.Helper()
	dsn := e.dsn
	if dsn == "" {
		dsn = "sqlite:" + filepath.Join(e.dataDir, "tenantferry.db")
	}
	d, err := db.Open(bg, db.Options{DSN: dsn, SkipMigrate: true})
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	err = d.Read().QueryRowContext(bg, `SELECT
		COALESCE(SUM(CASE WHEN state IN ('queued', 'held') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) FROM queue_recipients`).Scan(&open, &delivered)
	if err != nil {
		e.t.Fatal(err)
	}
	return open, delivered
}

// waitDrained waits until no queue row is open and want rows are delivered.
func (e *crashEnv) waitDrained(want int) {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		open, delivered := e.queueCounts()
		if open == 0 && delivered >= want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("queue did not drain: %d open, %d delivered, want %d", open, delivered, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mailboxHashes returns SHA-256 → count of the Inbox messages after
// stripping our Received header (which every message must start with).
func (e *crashEnv) mailboxHashes() map[[32]byte]int {
	e.t.Helper()
	s := e.inProcess()
	defer s.Shutdown(bg)
	out := map[[32]byte]int{}
	for _, raw := range inboxOf(e.t, s.Store, e.alice.TenantID, e.alice.ExchangeGuid) {
		body, ok := stripReceived(raw)
		if !ok || !strings.Contains(raw, "by mx.test (tenantferry) with") && !strings.Contains(raw, "(tenantferry)") {
			e.t.Fatalf("stored message does not start with our Received header: %q", raw[:min(len(raw), 200)])
		}
		out[sha256.Sum256([]byte(body))]++
	}
	return out
}

// crashMessage returns message i: CRLF lines, sizes from ~300 bytes to
// ~60 KB so that kills land in DATA transfers too.
func crashMessage(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <sender@example.org>\r\nTo: <alice@contoso.tenantferry.test>\r\nSubject: crash %d\r\nMessage-ID: <crash-%d@client.test>\r\nX-Marker: %d\r\n\r\n", i, i, i)
	lines := 2 + (i*7919)%800
	for l := range lines {
		fmt.Fprintf(&b, "message %d line %d %s\r\n", i, l, strings.Repeat("=", l%60))
	}
	return b.String()
}

// checkExactlyOnce verifies that every acknowledged message is stored
// exactly once and that no message is stored twice; unacknowledged ones
// (at most one in flight at the kill) may be stored once.
func checkExactlyOnce(t *testing.T, got map[[32]byte]int, acked, unacked map[[32]byte]int) {
	total := 0
	for h, n := range got {
		total += n
		if n != 1 {
			t.Errorf("a message is stored %d times", n)
		}
		_, a := acked[h]
		_, u := unacked[h]
		if !a && !u {
			t.Errorf("a stored message was never sent")
		}
	}
	for h, i := range acked {
		if got[h] != 1 {
			t.Errorf("acknowledged message %d is stored %d times, want 1", i, got[h])
		}
	}
	t.Logf("%d acknowledged, %d sent without acknowledgement, %d stored", len(acked), len(unacked), total)
}

func killDuringSubmit(t *testing.T, bin string, dialect db.Dialect) {
	e := prepare(t, bin, dialect, nil)
	p := e.start()
	acked := map[[32]byte]int{}   // hash → message number
	unacked := map[[32]byte]int{} // sent, no 250 (in flight at the kill)
	next := 0
	killAt := crashMessages * 2 / 5

	// send submits messages over one connection until one fails; it
	// returns the number of the failed message or -1 when all are done.
	send := func(addr string, stopAt int, onAck func(n int)) int {
		c, err := smtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for ; next < stopAt; next++ {
			body := crashMessage(next)
			h := sha256.Sum256([]byte(body))
			if err := c.SendMail("sender@example.org", []string{e.alice.PrimarySmtpAddress}, strings.NewReader(body)); err != nil {
				if se, ok := err.(*smtp.SMTPError); ok && se.Code != 421 {
					t.Fatalf("message %d refused: %v", next, err)
				}
				unacked[h] = next
				next++
				return next - 1
			}
			acked[h] = next
			onAck(len(acked))
		}
		return -1
	}
	killed := make(chan struct{})
	failed := send(p.smtp, crashMessages, func(n int) {
		if n == killAt {
			go func() { p.kill(t); close(killed) }()
		}
	})
	<-killed
	if failed < 0 {
		t.Fatal("every message was acknowledged before the kill took effect")
	}
	open, delivered := e.queueCounts()
	t.Logf("killed after %d acknowledged messages (%d delivered, %d still queued); message %d was in flight", len(acked), delivered, open, failed)

	p = e.start()
	if send(p.smtp, crashMessages, func(int) {}) >= 0 {
		t.Fatalf("a message failed after the restart")
	}
	e.waitDrained(len(acked))
	p.stop(t)
	checkExactlyOnce(t, e.mailboxHashes(), acked, unacked)
}

func killDuringDelivery(t *testing.T, bin string, dialect db.Dialect) {
	acked := map[[32]byte]int{}
	e := prepare(t, bin, dialect, func(s *server.Server, alice *directory.Recipient) {
		ctx, cancel := context.WithTimeout(bg, 5*time.Minute)
		defer cancel()
		for i := range crashMessages {
			body := crashMessage(i)
			_, err := s.Delivery.Enqueue(ctx, delivery.Envelope{From: "sender@example.org", To: []string{alice.PrimarySmtpAddress}, Source: "smtp",
				Trace: delivery.Trace{Helo: "client.test", RemoteAddr: "127.0.0.1:1", Protocol: "ESMTP"}}, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			acked[sha256.Sum256([]byte(body))] = i
		}
	})
	if open, _ := e.queueCounts(); open != crashMessages {
		t.Fatalf("%d open queue rows before the first start, want %d", open, crashMessages)
	}
	p := e.start()
	var delivered int
	for {
		_, delivered = e.queueCounts()
		if delivered >= 25 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t)
	_, atKill := e.queueCounts()
	t.Logf("killed with %d of %d delivered", atKill, crashMessages)
	if atKill >= crashMessages {
		t.Logf("note: the queue drained before the kill took effect")
	}

	p = e.start()
	e.waitDrained(crashMessages)
	p.stop(t)
	t.Logf("restarted process rescued jobs left running by the killed one: %v", strings.Contains(p.logs.String(), "rescuing jobs of a dead process"))
	checkExactlyOnce(t, e.mailboxHashes(), acked, nil)
	if _, d := e.queueCounts(); d != crashMessages {
		t.Fatalf("%d rows delivered, want %d", d, crashMessages)
	}
}
