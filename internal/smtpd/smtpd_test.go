package smtpd_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/smtpd"
)

// TestMXListener: the MX listener advertises SIZE and no AUTH, delivers
// mail for a hosted mailbox byte-exact behind one Received header, refuses
// unknown local recipients (550 5.1.1), foreign domains (554 5.7.1, no open
// relay) and oversized messages (552 5.3.4, by SIZE and by DATA), queuing
// nothing it refused.
func TestMXListener(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := startServer(t, dialect, func(c *config.Config) { c.MaxMessageSize = 64 << 10 })
		s.tenant("contoso")
		alice := s.mailbox("contoso", "alice")
		mx := s.Addr("smtp")

		r := dialRaw(t, mx)
		ehlo := r.cmd("EHLO client.test", "250")
		if !strings.Contains(ehlo, "SIZE 65536") || strings.Contains(ehlo, "AUTH") {
			t.Fatalf("EHLO reply:\n%s", ehlo)
		}
		r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice.PrimarySmtpAddress+"\x00pw-alice")), "5")
		r.cmd("MAIL FROM:<x@example.org> SIZE=100000", "552 5.3.4")
		r.cmd("MAIL FROM:<x@example.org>", "250")
		r.cmd("RCPT TO:<ghost@contoso.tenantferry.test>", "550 5.1.1")
		r.cmd("RCPT TO:<someone@elsewhere.example>", "554 5.7.1")
		r.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+">", "250")
		r.cmd("DATA", "354")
		r.send(strings.Repeat(strings.Repeat("x", 998)+"\r\n", 70) + ".\r\n")
		r.expect("552 5.3.4")
		r.cmd("QUIT", "221")

		body := message("x@example.org", alice.PrimarySmtpAddress, "mx1", "hello\r\n..leading dot\r\n"+strings.Repeat("long line ", 500))
		if err := sendMail(mx, "x@example.org", []string{alice.PrimarySmtpAddress}, body); err != nil {
			t.Fatal(err)
		}
		got := s.waitInbox(alice, 1)
		stripped, ok := stripReceived(got[0])
		if !ok || stripped != body || !strings.Contains(got[0], "with ESMTP id") || !strings.Contains(got[0], "for <"+alice.PrimarySmtpAddress+">") {
			t.Fatalf("stored message:\n%q\nwant Received + %q", got[0], body)
		}
		s.drained()
		if st, _ := s.Delivery.QueueStats(bg); st["delivered"] != 1 || len(st) != 1 {
			t.Fatalf("queue rows %v: refused messages were queued", st)
		}
	})
}

// TestSubmission: the submission listener needs AUTH before MAIL (530),
// refuses a wrong password (535 5.7.8) and a sender that is not the user's
// (550 5.7.1), accepts PLAIN and LOGIN, and relays an authenticated
// message to any domain (out through the transport map to a second server).
func TestSubmission(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		b := startServer(t, dialect, func(c *config.Config) { c.Hostname = "mx-b.test" })
		b.tenant("fabrikam")
		bob := b.mailbox("fabrikam", "bob")
		a := startServer(t, dialect, func(c *config.Config) {
			c.Transports = []string{"fabrikam.tenantferry.test=" + b.Addr("smtp")}
		})
		a.tenant("contoso")
		alice := a.mailbox("contoso", "alice")
		carol := a.mailbox("contoso", "carol")
		sub := a.Addr("submission")

		r := dialRaw(t, sub)
		if ehlo := r.cmd("EHLO client.test", "250"); !strings.Contains(ehlo, "AUTH PLAIN LOGIN") {
			t.Fatalf("EHLO on loopback submission lacks AUTH:\n%s", ehlo)
		}
		r.cmd("MAIL FROM:<"+alice.PrimarySmtpAddress+">", "530 5.7.0")
		r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice.PrimarySmtpAddress+"\x00wrong")), "535 5.7.8")
		r.cmd("AUTH LOGIN", "334 "+base64.StdEncoding.EncodeToString([]byte("Username:")))
		r.cmd(base64.StdEncoding.EncodeToString([]byte(alice.PrimarySmtpAddress)), "334 "+base64.StdEncoding.EncodeToString([]byte("Password:")))
		r.cmd(base64.StdEncoding.EncodeToString([]byte("pw-alice")), "235")
		r.cmd("MAIL FROM:<ceo@contoso.tenantferry.test>", "550 5.7.1")
		r.cmd("MAIL FROM:<"+alice.PrimarySmtpAddress+">", "250")
		r.cmd("RCPT TO:<ghost@contoso.tenantferry.test>", "550 5.1.1")
		r.cmd("RCPT TO:<"+bob.PrimarySmtpAddress+">", "250")
		r.cmd("RCPT TO:<"+carol.PrimarySmtpAddress+">", "250")
		r.cmd("DATA", "354")
		body := message(alice.PrimarySmtpAddress, bob.PrimarySmtpAddress, "sub1", "submitted")
		r.send(body + ".\r\n")
		r.expect("250")
		r.cmd("QUIT", "221")

		got := b.waitInbox(bob, 1)
		inner, ok := stripReceived(got[0]) // B's Received
		if !ok {
			t.Fatalf("no Received from B: %q", got[0])
		}
		if !strings.Contains(inner, "with ESMTPA id") {
			t.Fatalf("A's Received does not say ESMTPA: %q", inner)
		}
		if orig, _ := stripReceived(inner); orig != body {
			t.Fatalf("bytes changed on the way: %q", orig)
		}
		if got := a.waitInbox(carol, 1); !strings.Contains(got[0], "submitted") {
			t.Fatalf("carol got %q", got[0])
		}

		// PLAIN with go-smtp's client.
		c, err := smtp.Dial(sub)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", alice.PrimarySmtpAddress, "pw-alice")); err != nil {
			t.Fatal(err)
		}
		// Accepted for relay; B refuses the recipient; A bounces to alice.
		if err := c.SendMail(alice.PrimarySmtpAddress, []string{"nobody@fabrikam.tenantferry.test"}, strings.NewReader(message("a", "b", "sub2", "x"))); err != nil {
			t.Fatalf("an authenticated user cannot send to a remote domain: %v", err)
		}
		dsn := a.waitInbox(alice, 1)[0]
		if !strings.Contains(dsn, "Final-Recipient: rfc822; nobody@fabrikam.tenantferry.test") || !strings.Contains(dsn, "Status: 5.1.1") {
			t.Fatalf("DSN for the remote refusal:\n%s", dsn)
		}
	})
}

// TestAuthNeedsTLS: a submission listener that does not allow plain-text
// logins offers STARTTLS but no AUTH, answers AUTH with 523 5.7.10, and
// offers and accepts AUTH after STARTTLS.
func TestAuthNeedsTLS(t *testing.T) {
	s := startServer(t, db.SQLite, nil)
	s.tenant("contoso")
	alice := s.mailbox("contoso", "alice")
	srv := smtpd.New(s.Delivery, smtpd.Options{Name: "submission-tls", Submission: true, TLS: selfSigned(t), AllowPlainAuth: false},
		slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close(bg) })

	r := dialRaw(t, ln.Addr().String())
	ehlo := r.cmd("EHLO client.test", "250")
	if !strings.Contains(ehlo, "STARTTLS") || strings.Contains(ehlo, "AUTH") {
		t.Fatalf("EHLO without TLS:\n%s", ehlo)
	}
	r.cmd("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice.PrimarySmtpAddress+"\x00pw-alice")), "523 5.7.10")
	r.c.Close()

	c, err := smtp.DialStartTLS(ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("AUTH"); !ok {
		t.Fatal("no AUTH after STARTTLS")
	}
	if err := c.Auth(sasl.NewPlainClient("", alice.PrimarySmtpAddress, "pw-alice")); err != nil {
		t.Fatal(err)
	}
	if err := c.SendMail(alice.PrimarySmtpAddress, []string{alice.PrimarySmtpAddress}, strings.NewReader(message("a", "b", "tls1", "over tls"))); err != nil {
		t.Fatal(err)
	}
	if got := s.waitInbox(alice, 1); !strings.Contains(got[0], "with ESMTPSA id") {
		t.Fatalf("Received does not say ESMTPSA: %q", got[0])
	}
}

// TestHostileInput: garbage, NUL bytes, overlong lines, out-of-order
// commands, too many recipients and a client vanishing mid-DATA get clean
// errors (or a closed connection); nothing is queued, and the listener
// keeps serving.
func TestHostileInput(t *testing.T) {
	s := startServer(t, db.SQLite, nil)
	s.tenant("contoso")
	alice := s.mailbox("contoso", "alice")
	mx := s.Addr("smtp")

	r := dialRaw(t, mx)
	r.cmd("DATA", "502")
	r.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+">", "502")
	r.cmd("EHLO client.test", "250")
	r.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+">", "502")
	r.cmd("MAIL FROM:<<<>>>", "501")
	r.cmd("MAIL FROM:<x@example.org>", "250")
	r.cmd("DATA", "502")
	r.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+"> FOO=BAR", "5")
	r.cmd("NOOP", "250")

	g := dialRaw(t, mx)
	for range 5 {
		g.send("\x00\xff\xfe garbage \x01\x02\r\n")
	}
	for {
		if g.reply() == "" {
			break // closed after too many errors
		}
	}

	long := dialRaw(t, mx)
	long.send("EHLO " + strings.Repeat("a", smtpd.MaxLineLength+10) + "\r\n")
	long.expect("500 5.4.0")

	many := dialRaw(t, mx)
	many.cmd("EHLO client.test", "250")
	many.cmd("MAIL FROM:<x@example.org>", "250")
	for range 100 {
		many.cmd(fmt.Sprintf("RCPT TO:<%s>", alice.PrimarySmtpAddress), "250")
	}
	many.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+">", "452 4.5.3")

	cut := dialRaw(t, mx)
	cut.cmd("EHLO client.test", "250")
	cut.cmd("MAIL FROM:<x@example.org>", "250")
	cut.cmd("RCPT TO:<"+alice.PrimarySmtpAddress+">", "250")
	cut.cmd("DATA", "354")
	cut.send("Subject: cut off\r\n\r\nhalf a message")
	local := cut.c.LocalAddr().String()
	cut.c.Close()
	// The server logs the end of the cut DATA (the client's stream
	// failed): only then is the negative below proven.
	s.waitLog("remote="+local, "cmd=DATA")
	if st, _ := s.Delivery.QueueStats(bg); len(st) != 0 {
		t.Fatalf("hostile input queued something: %v", st)
	}
	if err := sendMail(mx, "x@example.org", []string{alice.PrimarySmtpAddress}, message("x", "y", "after", "still alive")); err != nil {
		t.Fatalf("listener broken after hostile input: %v", err)
	}
	s.waitInbox(alice, 1)
}

// FuzzSMTPSession sends arbitrary client input to a live MX listener: the
// server must neither crash nor stop serving.
func FuzzSMTPSession(f *testing.F) {
	f.Add([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"))
	f.Add([]byte("HELO\r\nAUTH LOGIN\r\n*\r\nSTARTTLS\r\nBDAT 10 LAST\r\n0123456789"))
	f.Add([]byte("\x00\r\n\r\n\n\n.\r\nRSET\r\nVRFY x\r\nMAIL FROM:<> SIZE=99999999999\r\n"))
	s := startServer(f, db.SQLite, nil)
	s.tenant("contoso")
	alice := s.mailbox("contoso", "alice")
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", s.Addr("smtp"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(500 * time.Millisecond))
		c.Write(in)
		c.Write([]byte("\r\nQUIT\r\n"))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		if err := sendMail(s.Addr("smtp"), "x@example.org", []string{alice.PrimarySmtpAddress}, "Subject: ok\r\n\r\nok\r\n"); err != nil {
			t.Fatalf("listener broken after %q: %v", in, err)
		}
	})
}

// selfSigned returns a TLS config with a fresh self-signed certificate.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"}, DNSNames: []string{"mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// TestServerSTARTTLS: with --tls-cert/--tls-key configured, both listeners
// of a real server offer STARTTLS and carry mail over it.
func TestServerSTARTTLS(t *testing.T) {
	cfg := selfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cfg.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificates[0].Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, db.SQLite, func(c *config.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	s.tenant("contoso")
	alice := s.mailbox("contoso", "alice")
	for _, name := range []string{"smtp", "submission"} {
		c, err := smtp.DialStartTLS(s.Addr(name), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("%s: STARTTLS: %v", name, err)
		}
		if name == "submission" {
			if err := c.Auth(sasl.NewPlainClient("", alice.PrimarySmtpAddress, "pw-alice")); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.SendMail(alice.PrimarySmtpAddress, []string{alice.PrimarySmtpAddress}, strings.NewReader(message("a", "b", "tls-"+name, "x"))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c.Close()
	}
	got := s.waitInbox(alice, 2)
	if !strings.Contains(strings.Join(got, ""), "with ESMTPS id") || !strings.Contains(strings.Join(got, ""), "with ESMTPSA id") {
		t.Fatalf("Received headers do not record TLS:\n%s", strings.Join(got, "\n"))
	}
}
