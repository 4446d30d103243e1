package ratelimit

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// clock is a settable time for the guard.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newGuard(cfg Config) (*Guard, *clock) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := New(cfg, nil)
	g.now = c.now
	return g, c
}

func TestLockoutBackoffAndKnownGood(t *testing.T) {
	g, c := newGuard(Config{AuthFailures: 3, AuthWindow: time.Minute, Lockout: time.Minute, MaxLockout: 4 * time.Minute})
	const attacker, user = "192.0.2.1:1000", "198.51.100.7:2000"
	// The user logs in once: their address is known to the account.
	g.Succeeded("imap", user, "Alice@Example.com")
	for i := 0; i < 3; i++ {
		if err := g.Allow("imap", attacker, "alice@example.com"); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		g.Failed("imap", attacker, "alice@example.com")
	}
	// The fourth failure drains the bucket: locked out.
	g.Failed("imap", attacker, "alice@example.com")
	err := g.Allow("imap", attacker+"1", "bob@example.com") // another port, another account: same address
	if !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("after 4 failures: %v, want TooManyAttempts", err)
	}
	if err := g.Allow("imap", user, "alice@example.com"); err != nil {
		t.Fatalf("another address refused: %v", err)
	}
	c.advance(61 * time.Second)
	if err := g.Allow("imap", attacker, "alice@example.com"); err != nil {
		t.Fatalf("after the first lockout: %v", err)
	}
	// Failing again right after the lockout (probation) locks out at
	// once, for twice as long.
	g.Failed("imap", attacker, "alice@example.com")
	c.advance(61 * time.Second)
	if err := g.Allow("imap", attacker, "x"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("second lockout should last 2 minutes: %v", err)
	}
	c.advance(60 * time.Second)
	if err := g.Allow("imap", attacker, "x"); err != nil {
		t.Fatalf("after the second lockout: %v", err)
	}

	// Many addresses against one account lock the account (9 failures)
	// for new addresses, but not for the user's known address.
	for i := 0; i < 10; i++ {
		g.Failed("imap", "203.0.113."+string(rune('1'+i%9))+":1", "carol@example.com")
	}
	g.Succeeded("imap", user, "carol@example.com")
	if err := g.Allow("imap", "203.0.113.200:1", "carol@example.com"); !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("a new address on an attacked account: %v", err)
	}
	if err := g.Allow("imap", user, "CAROL@example.com"); err != nil {
		t.Fatalf("the user's known address on the attacked account: %v", err)
	}
}

func TestAddressKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:25": "192.0.2.1", "[2001:db8:1:2:3::4]:993": "2001:db8:1:2::/64", "2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.9]:1": "192.0.2.9", "not-an-ip": "not-an-ip",
	} {
		if got := AddressKey(in); got != want {
			t.Errorf("AddressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessageRate(t *testing.T) {
	g, c := newGuard(Config{MessagesPerHour: 4})
	for i := 0; i < 4; i++ {
		if err := g.Message("submission", "192.0.2.1:1", "a@example.com"); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := g.Message("submission", "192.0.2.1:1", "A@example.com"); !errors.Is(err, ErrMessageRate) {
		t.Fatalf("fifth message: %v", err)
	}
	if err := g.Message("submission", "192.0.2.1:1", "b@example.com"); err != nil {
		t.Fatalf("another account: %v", err)
	}
	c.advance(15 * time.Minute) // one message's worth refills
	if err := g.Message("submission", "192.0.2.1:1", "a@example.com"); err != nil {
		t.Fatalf("after 15 minutes: %v", err)
	}
	if err := g.Message("submission", "192.0.2.1:1", "a@example.com"); !errors.Is(err, ErrMessageRate) {
		t.Fatalf("only one refilled: %v", err)
	}
}

func TestNilGuardAllows(t *testing.T) {
	var g *Guard
	g.Failed("imap", "192.0.2.1:1", "a")
	if g.Allow("imap", "192.0.2.1:1", "a") != nil || g.Message("smtp", "x", "a") != nil {
		t.Fatal("a nil guard refused")
	}
}

// TestConnectionLimit: a real listener on loopback; the third connection
// of one address gets the refusal line and EOF, a connection from another
// loopback address is accepted, and a closed connection frees its slot.
func TestConnectionLimit(t *testing.T) {
	g := New(Config{ConnsPerIP: 2}, nil)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.Listener(raw, "imap", 0, []byte("* BYE too many\r\n"))
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(from string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wait := func(what string) net.Conn {
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not accepted", what)
		}
		return nil
	}
	dial("127.0.0.1")
	first := wait("first")
	dial("127.0.0.1")
	wait("second")
	over := dial("127.0.0.1")
	line, _ := bufio.NewReader(over).ReadString('\n')
	if line != "* BYE too many\r\n" {
		t.Fatalf("third connection got %q", line)
	}
	if _, err := over.Read(make([]byte, 1)); err != io.EOF && (err == nil || !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("third connection not closed: %v", err)
	}
	dial("127.0.0.2")
	wait("another address")
	first.Close()
	dial("127.0.0.1")
	wait("after a close")
}
