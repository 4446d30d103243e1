package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// dialFrom connects to addr from the loopback address from (127.0.0.0/8:
// a different client address on the same machine).
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// httpFrom is an HTTP client whose connections come from the address from.
func httpFrom(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// imapLogin sends one LOGIN on an IMAP connection and returns the tagged
// reply.
func imapLogin(t *testing.T, r *bufio.Reader, w io.Writer, tag, user, pass string) string {
	t.Helper()
	fmt.Fprintf(w, "%s LOGIN %q %q\r\n", tag, user, pass)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("LOGIN: %v", err)
		}
		if strings.HasPrefix(line, tag+" ") {
			return strings.TrimSpace(line)
		}
	}
}

// smtpAuth tries AUTH PLAIN at the submission listener from the address
// from, and returns the SMTP code (0: authenticated).
func smtpAuth(t *testing.T, from, addr, user, pass string) int {
	t.Helper()
	c := smtp.NewClient(dialFrom(t, from, addr))
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		t.Fatal(err)
	}
	err := c.Auth(sasl.NewPlainClient("", user, pass))
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// TestRateLimits (issue 10 item 8): with --auth-failures 3, a
// password-guessing loop from 127.0.0.1 against IMAP, submission, the
// token endpoint and the admin API gets its ordinary failures, then only
// refusals (even with the right password) without its guesses being
// checked, on every protocol; the same user from 127.0.0.2 logs in
// meanwhile. Every failure
// is logged with the address and counted in /metrics. --max-conns-per-ip
// 3 refuses a fourth IMAP connection of one address, not another
// address's; --messages-per-hour 2 refuses a third submitted message.
func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	var logs scenario.LogBuffer
	imapAddr, subAddr := scenario.FreeAddr(t), scenario.FreeAddr(t)
	s := scenario.StartWith(t, scenario.Options{IMAP: imapAddr, Log: &logs}, func(c *scenario.Config) {
		c.Submission = subAddr
		c.AuthFailures, c.AuthLockout, c.MaxConnsPerIP, c.MessagesPerHour = 3, time.Minute, 3, 2
	})
	ten := s.Tenant("contoso")
	u := s.Mailbox("contoso", "user01", "right-password", false)
	user := u.PrimarySmtpAddress

	t.Run("imap", func(t *testing.T) {
		c := dialFrom(t, "127.0.0.1", imapAddr)
		r := bufio.NewReader(c)
		r.ReadString('\n')
		for i := 0; i < 3; i++ {
			if got := imapLogin(t, r, c, fmt.Sprintf("g%d", i), user, fmt.Sprintf("guess%d", i)); !strings.Contains(got, "NO [AUTHENTICATIONFAILED]") {
				t.Fatalf("guess %d: %s", i, got)
			}
		}
		// The fourth failure locks the address out; from then on even the
		// right password is refused unchecked.
		imapLogin(t, r, c, "g3", user, "guess3")
		start := time.Now()
		if got := imapLogin(t, r, c, "g4", user, "right-password"); !strings.Contains(got, "NO [LIMIT]") || !strings.Contains(got, "TooManyAttempts") {
			t.Fatalf("after the lockout: %s", got)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("the refusal took %s: it should not wait like a checked failure", d)
		}
		o := dialFrom(t, "127.0.0.2", imapAddr)
		or := bufio.NewReader(o)
		or.ReadString('\n')
		if got := imapLogin(t, or, o, "ok", user, "right-password"); !strings.Contains(got, "OK") {
			t.Fatalf("the user from another address: %s", got)
		}
	})

	t.Run("submission", func(t *testing.T) {
		// An address locked out on one protocol is locked out on all.
		if code := smtpAuth(t, "127.0.0.1", subAddr, user, "right-password"); code != 454 {
			t.Fatalf("the address locked out on IMAP: %d, want 454", code)
		}
		for i := 0; i < 4; i++ {
			if code := smtpAuth(t, "127.0.0.11", subAddr, user, "guess"); code != 535 {
				t.Fatalf("guess %d: %d, want 535", i, code)
			}
		}
		if code := smtpAuth(t, "127.0.0.11", subAddr, user, "right-password"); code != 454 {
			t.Fatalf("after the lockout: %d, want 454", code)
		}
		if code := smtpAuth(t, "127.0.0.2", subAddr, user, "right-password"); code != 0 {
			t.Fatalf("the user from another address: %d", code)
		}
		// Two messages an hour: the third is refused at MAIL FROM.
		for i := 0; i < 3; i++ {
			c := smtp.NewClient(dialFrom(t, "127.0.0.2", subAddr))
			c.Hello("client.example")
			if err := c.Auth(sasl.NewPlainClient("", user, "right-password")); err != nil {
				t.Fatal(err)
			}
			err := c.Mail(user, nil)
			var se *smtp.SMTPError
			switch {
			case i < 2 && err != nil:
				t.Fatalf("message %d refused: %v", i, err)
			case i == 2 && (!errors.As(err, &se) || se.Code != 450 || se.EnhancedCode != smtp.EnhancedCode{4, 7, 1}):
				t.Fatalf("third message: %v, want 450 4.7.1", err)
			}
			c.Close()
		}
	})

	t.Run("token endpoint", func(t *testing.T) {
		client := uuid.NewString()
		try := func(from string) int {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {"guess"},
				"scope": {"https://" + ten.InitialDomain + "/.default"}}
			resp, err := httpFrom(from).PostForm(s.PublicURL+"/"+ten.Name+"/oauth2/v2.0/token", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		for i := 0; i < 4; i++ {
			if st := try("127.0.0.21"); st != 401 {
				t.Fatalf("guess %d: %d, want 401", i, st)
			}
		}
		if st := try("127.0.0.21"); st != 429 {
			t.Fatalf("after the lockout: %d, want 429", st)
		}
		if st := try("127.0.0.3"); st != 401 {
			t.Fatalf("another address is not locked out: %d, want 401", st)
		}
	})

	t.Run("admin API", func(t *testing.T) {
		get := func(from, token string) int {
			req, _ := http.NewRequest(http.MethodGet, s.PublicURL+"/api/v1/tenants", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := httpFrom(from).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case 401: // RFC 6750
				if h := resp.Header.Get("WWW-Authenticate"); h != `Bearer realm="tenantferry"` {
					t.Errorf("401 with WWW-Authenticate %q", h)
				}
			case 429:
				if resp.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
			return resp.StatusCode
		}
		for i := 0; i < 4; i++ {
			if st := get("127.0.0.31", "tf_guess"+fmt.Sprint(i)); st != 401 {
				t.Fatalf("guess %d: %d, want 401", i, st)
			}
		}
		if st := get("127.0.0.31", s.OperatorToken); st != 429 {
			t.Fatalf("after the lockout, the right token: %d, want 429", st)
		}
		if st := get("127.0.0.2", s.OperatorToken); st != 200 {
			t.Fatalf("the operator from another address: %d", st)
		}
	})

	t.Run("connections", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			c := dialFrom(t, "127.0.0.4", imapAddr)
			if line, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(line, "* OK") {
				t.Fatalf("connection %d: %q", i, line)
			}
		}
		over := dialFrom(t, "127.0.0.4", imapAddr)
		if line, _ := bufio.NewReader(over).ReadString('\n'); line != "* BYE too many connections from your address\r\n" {
			t.Fatalf("fourth connection: %q", line)
		}
		if line, _ := bufio.NewReader(dialFrom(t, "127.0.0.5", imapAddr)).ReadString('\n'); !strings.HasPrefix(line, "* OK") {
			t.Fatalf("another address: %q", line)
		}
	})

	// Metrics and logs name what happened.
	resp, err := httpFrom("127.0.0.6").Get(s.PublicURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`tenantferry_auth_failures_total{protocol="imap"} 4`,
		`tenantferry_auth_failures_total{protocol="submission"} 4`,
		`tenantferry_auth_failures_total{protocol="token"} 5`, // the last from another address
		`tenantferry_auth_failures_total{protocol="api"} 4`,
		`tenantferry_ratelimit_refusals_total{limit="auth_address",protocol="imap"} 1`,
		`tenantferry_ratelimit_refusals_total{limit="connections",protocol="imap"} 1`,
		`tenantferry_ratelimit_refusals_total{limit="messages",protocol="submission"} 1`,
		fmt.Sprintf("tenantferry_password_hash_limit %d", identity.PasswordHashLimit()),
		"tenantferry_password_hashes_in_flight ",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, want := range []string{"authentication failed", "protocol=imap ip=127.0.0.1", "locked out after too many failed authentications",
		"connection refused: too many connections from one address"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %q", want)
		}
	}
	_ = ctx
}
