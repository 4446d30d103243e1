package dnsx_test

import (
	"context"
	"errors"
	"testing"

	"github.com/miekg/dns"

	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
)

func TestResolverAgainstLoopbackServer(t *testing.T) {
	srv := dnstest.Start(t, "example.test")
	srv.AddZone("secure.test", true)
	srv.Add(t,
		`example.test. TXT "v=spf1 " "ip4:127.0.0.1 -all"`,
		`example.test. MX 20 mx2.example.test.`,
		`example.test. MX 10 mx1.example.test.`,
		`mx1.example.test. A 127.0.0.1`,
		`mx1.example.test. AAAA ::1`,
		`alias.example.test. CNAME mx1.example.test.`,
		`a.b.example.test. TXT "deep"`,
		`_25._tcp.mx.secure.test. TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20`,
		`_25._tcp.mx1.example.test. TLSA 3 1 1 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20`,
	)
	r := dnsx.New(srv.Addr)
	ctx := context.Background()

	txt, err := r.LookupTXT(ctx, "example.test")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:127.0.0.1 -all" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	mx, err := r.LookupMX(ctx, "example.test")
	if err != nil || len(mx) != 2 || mx[0].Host != "mx1.example.test." {
		t.Fatalf("MX = %v, %v", mx, err)
	}
	ips, err := r.LookupIP(ctx, "alias.example.test")
	if err != nil || len(ips) != 2 {
		t.Fatalf("IP via CNAME = %v, %v", ips, err)
	}
	// NXDOMAIN, NODATA and the empty non-terminal are all "not found".
	for _, name := range []string{"nope.example.test", "mx1.example.test", "b.example.test"} {
		if _, err := r.LookupTXT(ctx, name); !errors.Is(err, dnsx.ErrNotFound) {
			t.Errorf("TXT %s: %v, want ErrNotFound", name, err)
		}
	}
	// A zone the server does not serve is a temporary failure, not "none".
	if _, err := r.LookupTXT(ctx, "other.invalid"); !errors.Is(err, dnsx.ErrTemporary) {
		t.Errorf("unserved zone: %v, want ErrTemporary", err)
	}
	tl, ad, err := r.LookupTLSA(ctx, "_25._tcp.mx.secure.test")
	if err != nil || len(tl) != 1 || !ad {
		t.Fatalf("secure TLSA = %v ad=%v %v", tl, ad, err)
	}
	if _, ad, err := r.LookupTLSA(ctx, "_25._tcp.mx1.example.test"); err != nil || ad {
		t.Fatalf("insecure TLSA ad=%v %v", ad, err)
	}
	srv.Set(t, `example.test. TXT "replaced"`)
	if txt, _ := r.LookupTXT(ctx, "example.test"); len(txt) != 1 || txt[0] != "replaced" {
		t.Fatalf("after Set TXT = %q", txt)
	}
	srv.Remove("example.test", dns.TypeTXT)
	if _, err := r.LookupTXT(ctx, "example.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestUnreachableResolverIsTemporary(t *testing.T) {
	r := dnsx.New("127.0.0.1:1")
	if _, err := r.LookupTXT(context.Background(), "example.test"); !errors.Is(err, dnsx.ErrTemporary) {
		t.Fatalf("got %v, want ErrTemporary", err)
	}
}
