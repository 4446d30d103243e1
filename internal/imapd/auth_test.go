package imapd_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestLoginFailures checks that every bad login gets the same NO
// [AUTHENTICATIONFAILED] (wrong password, unknown address, a MailUser or a
// group address, an empty password, AUTHENTICATE PLAIN), and that the
// connection can still log in afterwards, with any SMTP address of the
// mailbox in any case.
func TestLoginFailures(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice", "smtp:alice.alias@contoso.tenantferry.test")
		if _, err := e.Dir.CreateRecipient(bg, e.Tenant.ID, directory.RecipientSpec{Type: directory.MailUser, Alias: "mu",
			ExternalEmail: "mu@elsewhere.test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Dir.CreateRecipient(bg, e.Tenant.ID, directory.RecipientSpec{Type: directory.DistributionGroup, Alias: "team"}); err != nil {
			t.Fatal(err)
		}
		r := e.raw(t)
		for _, tc := range [][2]string{
			{addr, "wrong password"},
			{"nobody@contoso.tenantferry.test", password},
			{"mu@contoso.tenantferry.test", password},
			{"team@contoso.tenantferry.test", password},
			{addr, ""},
			{"", ""},
			{"not an address", password},
		} {
			if _, done := r.cmd("LOGIN %q %q", tc[0], tc[1]); !strings.HasPrefix(done, "NO [AUTHENTICATIONFAILED]") {
				t.Errorf("LOGIN %q %q: %s", tc[0], tc[1], done)
			}
		}
		plain := func(user, pass string) string {
			return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
		}
		if _, done := r.cmd("AUTHENTICATE PLAIN %s", plain(addr, "nope")); !strings.HasPrefix(done, "NO [AUTHENTICATIONFAILED]") {
			t.Errorf("AUTHENTICATE with a wrong password: %s", done)
		}
		if _, done := r.cmd("LOGIN %q %q", strings.ToUpper(addr), password); !strings.HasPrefix(done, "OK") {
			t.Errorf("LOGIN after failures: %s", done)
		}
		r2 := e.raw(t)
		if _, done := r2.cmd("AUTHENTICATE PLAIN %s", plain("alice.alias@contoso.tenantferry.test", password)); !strings.HasPrefix(done, "OK") {
			t.Errorf("AUTHENTICATE PLAIN with a proxy address: %s", done)
		}
		if _, done := r2.cmd("SELECT INBOX"); !strings.HasPrefix(done, "OK [READ-WRITE]") {
			t.Errorf("SELECT after AUTHENTICATE: %s", done)
		}
	})
}

// selfSigned returns a server TLS configuration with a fresh self-signed
// certificate for 127.0.0.1.
func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTLS checks the authentication policy: a connection that may not use
// plain-text authentication advertises LOGINDISABLED and STARTTLS and
// refuses LOGIN; after STARTTLS the client logs in and works (and a locked
// mailbox still selects READ-ONLY over TLS); implicit TLS allows login at
// once; commands pipelined after STARTTLS are refused; without a
// certificate there is no way in.
func TestTLS(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		cfg := selfSigned(t)
		e := newEnv(t, d, func(o *imapd.Options) {
			o.TLSConfig = cfg
			o.AllowPlainAuth = func(net.Conn) bool { return false }
		})
		addr := e.user(t, "alice")

		r := e.raw(t)
		caps, _ := r.cmd("CAPABILITY")
		if c := strings.Join(caps, " "); !strings.Contains(c, "LOGINDISABLED") || !strings.Contains(c, "STARTTLS") || strings.Contains(c, "AUTH=PLAIN") {
			t.Errorf("plain-text capabilities: %s", c)
		}
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "NO [PRIVACYREQUIRED]") {
			t.Errorf("LOGIN in plain text: %s", done)
		}

		var wire syncBuffer
		clientTLS := &tls.Config{InsecureSkipVerify: true}
		c, err := imapclient.DialStartTLS(e.Addr, &imapclient.Options{TLSConfig: clientTLS, DebugWriter: &wire})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(addr, password).Wait(); err != nil {
			t.Fatalf("login after STARTTLS: %v", err)
		}
		tlsCaps, err := c.Capability().Wait()
		if err != nil || tlsCaps.Has(imap.CapStartTLS) || tlsCaps.Has(imap.CapLoginDisabled) || !tlsCaps.Has(imap.CapIMAP4rev2) {
			t.Errorf("capabilities after STARTTLS: %v %v", tlsCaps, err)
		}
		appendMsg(t, c, "INBOX", sampleMsg, nil)
		mb := e.mailbox(t, addr)
		if err := e.Store.SetMailboxState(bg, mb.ID, mailstore.StateLocked); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(wire.String(), "OK [READ-ONLY] SELECT completed") {
			t.Errorf("locked SELECT over STARTTLS is not READ-ONLY:\n%s", wire.String())
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil || len(msgs) != 1 || string(msgs[0].BodySection[0].Bytes) != sampleMsg {
			t.Errorf("fetch over STARTTLS: %v", err)
		}

		// Implicit TLS.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go e.Srv.Serve(tls.NewListener(ln, cfg))
		ct, err := imapclient.DialTLS(ln.Addr().String(), &imapclient.Options{TLSConfig: clientTLS})
		if err != nil {
			t.Fatal(err)
		}
		defer ct.Close()
		if err := ct.Login(addr, password).Wait(); err != nil {
			t.Errorf("login over implicit TLS: %v", err)
		}

		// A command pipelined after STARTTLS is not executed.
		r2 := e.raw(t)
		r2.send("a STARTTLS\r\nb LOGIN x y\r\n")
		if l := r2.line(); !strings.HasPrefix(l, "a BAD") {
			t.Errorf("pipelined STARTTLS: %q", l)
		}
	})
}

// TestNoTLSLoginDisabled checks that without a certificate a connection
// that may not authenticate in plain text has no way to log in.
func TestNoTLSLoginDisabled(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *imapd.Options) { o.AllowPlainAuth = nil })
		addr := e.user(t, "alice")
		r := e.raw(t)
		caps, _ := r.cmd("CAPABILITY")
		if c := strings.Join(caps, " "); !strings.Contains(c, "LOGINDISABLED") || strings.Contains(c, "STARTTLS") {
			t.Errorf("capabilities without certificate: %s", c)
		}
		if _, done := r.cmd("LOGIN %q %q", addr, password); !strings.HasPrefix(done, "NO") {
			t.Errorf("LOGIN without TLS: %s", done)
		}
	})
}
