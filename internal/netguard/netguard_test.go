package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/netguard"
)

func TestPolicyDecisions(t *testing.T) {
	p, err := netguard.New([]string{"10.1.0.0/16", "src.internal.example", "192.0.2.7"}, []string{"10.1.2.0/24", "bad.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, addr string
		ok         bool
	}{
		{"", "8.8.8.8", true},
		{"", "2606:4700::1111", true},
		{"", "127.0.0.1", false},
		{"", "::1", false},
		{"", "::ffff:127.0.0.1", false},
		{"", "169.254.169.254", false},
		{"", "fe80::1", false},
		{"", "10.9.9.9", false},
		{"", "172.16.0.1", false},
		{"", "192.168.1.1", false},
		{"", "100.64.0.1", false},
		{"", "0.0.0.0", false},
		{"", "fd00::1", false},
		{"", "224.0.0.1", false},
		{"", "10.1.5.5", true},                       // allowed network
		{"", "10.1.2.3", false},                      // denied beats allowed
		{"", "192.0.2.7", true},                      // allowed address
		{"src.internal.example", "10.200.0.1", true}, // allowed host, wherever it resolves
		{"SRC.Internal.Example.", "127.0.0.1", true},
		{"bad.example", "8.8.8.8", false}, // denied host
	} {
		err := p.Check(c.host, netip.MustParseAddr(c.addr))
		if (err == nil) != c.ok {
			t.Errorf("%s %s: %v, want allowed=%v", c.host, c.addr, err, c.ok)
		}
		if err != nil && (!errors.Is(err, netguard.ErrTargetForbidden) || errs.As(err).Hint == "") {
			t.Errorf("%s %s: %v is not a hinted EndpointTargetForbidden", c.host, c.addr, err)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "not a host", "http://x/"} {
		if _, err := netguard.New([]string{bad}, nil, nil); !errors.Is(err, netguard.ErrInvalidSetting) {
			t.Errorf("allow %q: %v", bad, err)
		}
	}
	for raw, ok := range map[string]bool{"https://8.8.8.8/": true, "http://127.0.0.1:8080": false, "imap://[::1]:143": false,
		"https://bad.example/x": false, "https://good.example": true, "imaps://user@10.0.0.1": false} {
		if err := p.CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL %s: %v", raw, err)
		}
	}
}

// TestDialChecksResolvedAddress: the policy is applied to the address a
// name resolves to when connecting (DNS rebinding), through a real DNS
// server on loopback; nothing reaches a refused address, and an HTTP
// client through the policy follows no redirect.
func TestDialChecksResolvedAddress(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://elsewhere.example/steal", http.StatusFound)
			return
		}
		w.Write([]byte("internal"))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := dnstest.Start(t, "rebind.test")
	dns.Add(t, "evil.rebind.test. 60 IN A 127.0.0.1", "fine.rebind.test. 60 IN A 127.0.0.1")
	res := dnsx.New(dns.Addr)
	ctx := context.Background()

	strict, _ := netguard.New(nil, nil, res)
	for _, host := range []string{"evil.rebind.test", "127.0.0.1", "localhost"} {
		_, err := strict.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if !errors.Is(err, netguard.ErrTargetForbidden) {
			t.Fatalf("dial %s: %v, want EndpointTargetForbidden", host, err)
		}
		resp, err := strict.HTTPClient(nil, 0).Get("http://" + net.JoinHostPort(host, port) + "/")
		if err == nil {
			resp.Body.Close()
		}
		if f := netguard.Forbidden(err); f == nil || !strings.Contains(f.Message, "127.0.0.1") {
			t.Fatalf("GET via %s: %v", host, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("%d requests reached the refused address", hits.Load())
	}

	// The operator allows one host by name: it alone gets through.
	p, _ := netguard.New([]string{"fine.rebind.test"}, nil, res)
	if _, err := p.DialContext(ctx, "tcp", net.JoinHostPort("evil.rebind.test", port)); !errors.Is(err, netguard.ErrTargetForbidden) {
		t.Fatalf("evil with fine allowed: %v", err)
	}
	c := p.HTTPClient(nil, 0)
	resp, err := c.Get("http://" + net.JoinHostPort("fine.rebind.test", port) + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Fatalf("redirect: status %d, %d hits (the redirect must be returned, not followed)", resp.StatusCode, hits.Load())
	}

	// This server's own URL is allowed, exactly its port.
	self, _ := netguard.New(nil, nil, res)
	self.AllowSelf(srv.URL)
	if c, err := self.DialContext(ctx, "tcp", srv.Listener.Addr().String()); err != nil {
		t.Fatalf("own URL: %v", err)
	} else {
		c.Close()
	}
	other, _ := net.Listen("tcp", "127.0.0.1:0")
	defer other.Close()
	if _, err := self.DialContext(ctx, "tcp", other.Addr().String()); !errors.Is(err, netguard.ErrTargetForbidden) {
		t.Fatalf("another port of the own host: %v", err)
	}
}
