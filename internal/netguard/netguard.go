// Package netguard is the operator's policy for outbound connections whose
// target a tenant chooses: migration endpoints (native and IMAP) and the
// issuers named in consents, whose keys are fetched. Without it a tenant
// admin could make the server connect anywhere it can reach — loopback
// services, the cloud metadata address, the private network — and learn
// from the answers (server-side request forgery).
//
// The policy, from `serve --endpoint-allow` and `--endpoint-deny` (CIDR or
// host name each, repeatable, also in the config file):
//  1. a target whose name or address is denied is refused;
//  2. else one whose name or address is allowed is accepted;
//  3. else an address in a loopback, private, link-local, shared
//     (100.64/10), unspecified, multicast or other special-purpose range is
//     refused;
//  4. everything else (public addresses) is accepted.
//
// This server's own public URL (exactly its host and port) is always
// accepted: moves between two tenants of one server go through it.
//
// Invariants:
//   - The decision is made on the address actually connected to, at connect
//     time: a name is resolved once, each address checked, and only checked
//     addresses are dialled, so a name that resolves to a public address
//     when an endpoint is created and to 127.0.0.1 later (DNS rebinding)
//     is still refused.
//   - Guarded HTTP clients use no proxy (a proxy would connect on the
//     target's behalf, unchecked) and follow no redirect.
//   - Refusals are ErrTargetForbidden, saying what was refused in our words;
//     nothing the target sent is echoed.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrTargetForbidden refuses a connection to a target the operator's
// policy does not allow.
var ErrTargetForbidden = errs.Sentinel(errs.Forbidden, "EndpointTargetForbidden")

// Policy decides which targets may be connected to. The zero value is not
// usable; create it with New. A Policy is safe for concurrent use.
type Policy struct {
	allowNets, denyNets   []netip.Prefix
	allowHosts, denyHosts map[string]bool
	self                  map[string]bool // "host:port" of this server's own URL
	resolver              *dnsx.Resolver  // nil: the system's resolver
	dialer                net.Dialer
}

// special are the ranges refused unless allowed: not the public Internet.
var special = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
		"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
		"224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// New parses the allow and deny entries (CIDR, IP address or host name).
// resolver resolves names (nil: the system's).
func New(allow, deny []string, resolver *dnsx.Resolver) (*Policy, error) {
	p := &Policy{allowHosts: map[string]bool{}, denyHosts: map[string]bool{}, self: map[string]bool{}, resolver: resolver,
		dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}}
	for _, e := range []struct {
		flag  string
		list  []string
		nets  *[]netip.Prefix
		hosts map[string]bool
	}{{"endpoint-allow", allow, &p.allowNets, p.allowHosts}, {"endpoint-deny", deny, &p.denyNets, p.denyHosts}} {
		for _, v := range e.list {
			v = strings.TrimSpace(v)
			if pre, err := netip.ParsePrefix(v); err == nil {
				*e.nets = append(*e.nets, pre.Masked())
				continue
			}
			if a, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
				*e.nets = append(*e.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			h := canonicalHost(v)
			if h == "" || strings.ContainsAny(h, "/:[] ") {
				return nil, ErrInvalidSetting.Newf("--%s %q is neither a CIDR, an IP address nor a host name", e.flag, v).
					WithHint("give e.g. 10.1.0.0/16, 192.0.2.7 or src.internal.example")
			}
			e.hosts[h] = true
		}
	}
	return p, nil
}

// AllowSelf allows connections to this server's own public URL (exactly
// its host and port), wherever it resolves: a move between two tenants of
// this server goes through it. Call it before the policy is used.
func (p *Policy) AllowSelf(publicURL string) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p.self[net.JoinHostPort(canonicalHost(u.Hostname()), port)] = true
}

// AllowAll returns a policy that accepts every target (for tools and tests
// that connect to what they started themselves).
func AllowAll() *Policy {
	p, _ := New([]string{"0.0.0.0/0", "::/0"}, nil, nil)
	return p
}

func canonicalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

func contains(nets []netip.Prefix, a netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// Check decides whether host, resolved to addr, may be connected to.
func (p *Policy) Check(host string, addr netip.Addr) error {
	host, addr = canonicalHost(host), addr.Unmap()
	switch {
	case p.denyHosts[host] || contains(p.denyNets, addr):
		return forbidden(host, addr, "the operator denies it")
	case p.allowHosts[host] || contains(p.allowNets, addr):
		return nil
	case contains(special, addr) || !addr.IsGlobalUnicast():
		return forbidden(host, addr, "it is a loopback, private, link-local or other non-public address")
	}
	return nil
}

func forbidden(host string, addr netip.Addr, why string) *errs.Error {
	target := addr.String()
	if host != "" && host != target {
		target = fmt.Sprintf("%s (%s)", host, addr)
	}
	return ErrTargetForbidden.Newf("this server does not connect to %s: %s", target, why).WithObject(host).
		WithHint("point the endpoint at a public address, or ask the operator to allow the host or its network with 'serve --endpoint-allow HOST|CIDR'")
}

// CheckURL checks what can be checked of a target URL before connecting:
// a denied host name, or an IP literal the policy refuses. Names are
// checked again, on their addresses, when connecting.
func (p *Policy) CheckURL(raw string) error {
	host := raw
	if i := strings.Index(raw, "://"); i >= 0 {
		host = raw[i+3:]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); err == nil {
		return p.Check("", a)
	}
	if p.denyHosts[canonicalHost(host)] {
		return ErrTargetForbidden.Newf("this server does not connect to %s: the operator denies it", host).WithObject(host).
			WithHint("point the endpoint at another server")
	}
	return nil
}

// resolve returns the addresses of host.
func (p *Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	h := canonicalHost(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") { // RFC 6761: always loopback
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
	}
	var ips []net.IP
	var err error
	if p.resolver != nil {
		ips, err = p.resolver.LookupIP(ctx, h)
	} else {
		ips, err = net.DefaultResolver.LookupIP(ctx, "ip", h)
	}
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// DialContext connects to address ("host:port") over a TCP network: it
// resolves the host once, keeps the addresses the policy accepts and dials
// those, so the address connected to is the address checked. When every
// address is refused the error is ErrTargetForbidden.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if p.self[net.JoinHostPort(canonicalHost(host), port)] {
		return p.dialer.DialContext(ctx, network, address)
	}
	addrs, err := p.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	var refused, last error
	for _, a := range addrs {
		if err := p.Check(host, a); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		c, err := p.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	if last != nil {
		return nil, last
	}
	if refused != nil {
		return nil, refused
	}
	return nil, fmt.Errorf("%s has no address", host)
}

// HTTPClient returns an HTTP client whose connections go through the
// policy, with no proxy and no redirects (a redirect is returned as the
// response). base, when not nil, supplies the other transport settings.
func (p *Policy) HTTPClient(base *http.Transport, timeout time.Duration) *http.Client {
	var tr *http.Transport
	if base != nil {
		tr = base.Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = nil
	tr.DialContext = p.DialContext
	tr.DialTLSContext = nil
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Forbidden returns the ErrTargetForbidden error inside err (a dial error
// wrapped by net/http or a protocol client), or nil.
func Forbidden(err error) *errs.Error {
	if !errors.Is(err, ErrTargetForbidden) {
		return nil
	}
	for ; err != nil; err = errors.Unwrap(err) {
		if e, ok := err.(*errs.Error); ok && errors.Is(e, ErrTargetForbidden) {
			return e
		}
	}
	return nil
}

// ErrInvalidSetting: an --endpoint-allow/--endpoint-deny entry that is not
// valid (config's InvalidSetting code).
var ErrInvalidSetting = errs.Sentinel(errs.Invalid, "InvalidSetting")
