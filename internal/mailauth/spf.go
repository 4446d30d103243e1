package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/tenantferry/tenantferry/internal/dnsx"
)

// SPFResult is the result of an SPF check (RFC 7208 section 2.6).
type SPFResult string

// The SPF results.
const (
	SPFNone      SPFResult = "none"
	SPFNeutral   SPFResult = "neutral"
	SPFPass      SPFResult = "pass"
	SPFFail      SPFResult = "fail"
	SPFSoftFail  SPFResult = "softfail"
	SPFTempError SPFResult = "temperror"
	SPFPermError SPFResult = "permerror"
)

// SPF processing limits (RFC 7208 section 4.6.4).
const (
	spfMaxLookups = 10 // terms that cause DNS queries
	spfMaxVoids   = 2  // lookups answering NXDOMAIN or no records
	spfMaxMX      = 10 // MX names per mx mechanism, PTR names per ptr
)

// errSPFPerm and errSPFTemp end an evaluation with permerror / temperror.
var (
	errSPFPerm = errors.New("spf permerror")
	errSPFTemp = errors.New("spf temperror")
)

// CheckSPF runs check_host() (RFC 7208 section 4) for a client at ip that
// said helo and gave the envelope sender from ("" is the null sender, for
// which the HELO identity is checked, as section 2.4 asks). It returns the
// result, the domain checked and a detail for logs and the
// Authentication-Results comment.
func (s *Service) CheckSPF(ctx context.Context, ip net.IP, helo, from string) (SPFResult, string, string) {
	local, domain, ok := splitAddr(from)
	if from == "" || !ok {
		local, domain = "postmaster", strings.ToLower(strings.TrimSuffix(helo, "."))
	}
	if local == "" {
		local = "postmaster"
	}
	c := &spfCheck{s: s, ctx: ctx, ip: ip, sender: local + "@" + domain, local: local, senderDomain: domain, helo: helo}
	r, err := c.checkHost(domain, 0)
	detail := c.detail
	if err != nil && detail == "" {
		detail = err.Error()
	}
	return r, domain, detail
}

// spfCheck is one evaluation with its counters.
type spfCheck struct {
	s                   *Service
	ctx                 context.Context
	ip                  net.IP
	sender, local, helo string
	senderDomain        string
	lookups, voids      int
	detail              string
}

// spfTerm is a parsed directive.
type spfTerm struct {
	qual  byte // '+', '-', '~', '?'
	mech  string
	arg   string // domain-spec (unexpanded) or address
	cidr4 int    // -1: none given
	cidr6 int
}

// checkHost evaluates the SPF record of domain.
func (c *spfCheck) checkHost(domain string, depth int) (SPFResult, error) {
	if depth > spfMaxLookups || !validDomain(domain) {
		return SPFNone, nil
	}
	rec, r := c.record(domain)
	if r != "" {
		return r, nil
	}
	terms, redirect, err := parseSPF(rec)
	if err != nil {
		c.detail = fmt.Sprintf("%s: %v", domain, err)
		return SPFPermError, err
	}
	for _, t := range terms {
		match, err := c.match(t, domain, depth)
		if errors.Is(err, errSPFTemp) {
			return SPFTempError, err
		}
		if err != nil {
			return SPFPermError, err
		}
		if match {
			c.detail = fmt.Sprintf("%s matched %c%s in the record of %s", c.ip, t.qual, t.mech, domain)
			return qualResult(t.qual), nil
		}
	}
	if redirect != "" {
		if err := c.count(); err != nil {
			return SPFPermError, err
		}
		target, err := c.expand(redirect, domain)
		if err != nil {
			return SPFPermError, err
		}
		r, err := c.checkHost(target, depth+1)
		if r == SPFNone {
			c.detail = "redirect to " + target + " without an SPF record"
			return SPFPermError, errSPFPerm
		}
		return r, err
	}
	c.detail = fmt.Sprintf("no mechanism of %s matched %s", domain, c.ip)
	return SPFNeutral, nil
}

// record fetches the one SPF record of domain. A non-empty result ends the
// check (none, temperror, permerror).
func (c *spfCheck) record(domain string) (string, SPFResult) {
	txts, err := c.s.res.LookupTXT(c.ctx, domain)
	if errors.Is(err, dnsx.ErrNotFound) {
		return "", SPFNone
	}
	if err != nil {
		c.detail = err.Error()
		return "", SPFTempError
	}
	var recs []string
	for _, t := range txts {
		l := strings.ToLower(t)
		if l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		return "", SPFNone
	case 1:
		return recs[0], ""
	}
	c.detail = domain + " publishes more than one SPF record"
	return "", SPFPermError
}

// parseSPF parses a record into directives and the redirect modifier. Any
// syntax error is a permerror for the whole record (section 4.6).
func parseSPF(rec string) ([]spfTerm, string, error) {
	var terms []spfTerm
	redirect, exp := "", false
	for _, w := range strings.Fields(rec)[1:] {
		if name, val, ok := modifier(w); ok {
			switch name {
			case "redirect":
				if redirect != "" {
					return nil, "", fmt.Errorf("%w: two redirect modifiers", errSPFPerm)
				}
				redirect = val
			case "exp":
				if exp {
					return nil, "", fmt.Errorf("%w: two exp modifiers", errSPFPerm)
				}
				exp = true
			}
			if err := checkMacros(val); err != nil {
				return nil, "", err
			}
			continue
		}
		t := spfTerm{qual: '+', cidr4: -1, cidr6: -1}
		if strings.ContainsRune("+-~?", rune(w[0])) {
			t.qual, w = w[0], w[1:]
		}
		name, arg, hasArg := strings.Cut(w, ":")
		t.mech = strings.ToLower(name)
		if !hasArg {
			if i := strings.IndexByte(name, '/'); i >= 0 {
				t.mech, arg = strings.ToLower(name[:i]), name[i:]
			}
		}
		var err error
		switch t.mech {
		case "all":
			if hasArg || arg != "" {
				err = fmt.Errorf("%w: all takes no argument", errSPFPerm)
			}
		case "include", "exists":
			if !hasArg || arg == "" {
				err = fmt.Errorf("%w: %s needs a domain", errSPFPerm, t.mech)
			}
			t.arg = arg
			if err == nil {
				err = checkMacros(arg)
			}
		case "a", "mx", "ptr":
			t.arg, t.cidr4, t.cidr6, err = parseDualCIDR(arg, t.mech != "ptr")
			if err == nil {
				err = checkMacros(t.arg)
			}
			if hasArg && t.arg == "" {
				err = fmt.Errorf("%w: empty domain in %s", errSPFPerm, w)
			}
		case "ip4", "ip6":
			if !hasArg {
				err = fmt.Errorf("%w: %s needs an address", errSPFPerm, t.mech)
			} else {
				err = checkIPArg(t.mech, arg)
			}
			t.arg = arg
		default:
			err = fmt.Errorf("%w: unknown mechanism %q", errSPFPerm, w)
		}
		if err != nil {
			return nil, "", err
		}
		terms = append(terms, t)
	}
	return terms, redirect, nil
}

// modifier recognises name=value (section 4.6.1).
func modifier(w string) (string, string, bool) {
	name, val, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return "", "", false
	}
	for i, r := range name {
		alpha := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !alpha && (i == 0 || !(r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(name), val, true
}

// parseDualCIDR splits "domain/24//64" style arguments.
func parseDualCIDR(arg string, dual bool) (string, int, int, error) {
	c4, c6 := -1, -1
	dom := arg
	if i := strings.IndexByte(arg, '/'); i >= 0 {
		dom = arg[:i]
		rest := arg[i:]
		if !dual {
			return "", 0, 0, fmt.Errorf("%w: ptr takes no CIDR length", errSPFPerm)
		}
		v4, v6, has6 := strings.Cut(rest, "//")
		if has6 {
			n, err := strconv.Atoi(v6)
			if err != nil || n < 0 || n > 128 || (len(v6) > 1 && v6[0] == '0') {
				return "", 0, 0, fmt.Errorf("%w: bad IPv6 CIDR length in %q", errSPFPerm, arg)
			}
			c6 = n
		}
		if v4 != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(v4, "/"))
			if !strings.HasPrefix(v4, "/") || err != nil || n < 0 || n > 32 || (len(v4) > 2 && v4[1] == '0') {
				return "", 0, 0, fmt.Errorf("%w: bad IPv4 CIDR length in %q", errSPFPerm, arg)
			}
			c4 = n
		}
	}
	return dom, c4, c6, nil
}

// checkIPArg validates an ip4/ip6 argument.
func checkIPArg(mech, arg string) error {
	addr, bits, hasBits := strings.Cut(arg, "/")
	ip := net.ParseIP(addr)
	is4 := ip != nil && !strings.Contains(addr, ":")
	if ip == nil || (mech == "ip4") != is4 {
		return fmt.Errorf("%w: bad %s address %q", errSPFPerm, mech, arg)
	}
	if hasBits {
		n, err := strconv.Atoi(bits)
		limit := 32
		if mech == "ip6" {
			limit = 128
		}
		if err != nil || n < 0 || n > limit || (len(bits) > 1 && bits[0] == '0') {
			return fmt.Errorf("%w: bad CIDR length in %q", errSPFPerm, arg)
		}
	}
	return nil
}

// qualResult maps a qualifier to its result.
func qualResult(q byte) SPFResult {
	switch q {
	case '-':
		return SPFFail
	case '~':
		return SPFSoftFail
	case '?':
		return SPFNeutral
	}
	return SPFPass
}

// count charges one DNS-querying term against the limit.
func (c *spfCheck) count() error {
	return c.charge(&c.lookups, spfMaxLookups, "more than 10 DNS-querying terms")
}

// void counts a lookup that found nothing.
func (c *spfCheck) void() error { return c.charge(&c.voids, spfMaxVoids, "more than 2 void lookups") }

// charge increments a counter and fails with permerror past its limit.
func (c *spfCheck) charge(n *int, limit int, what string) error {
	*n++
	if *n > limit {
		c.detail = what
		return errSPFPerm
	}
	return nil
}

// match evaluates one mechanism.
func (c *spfCheck) match(t spfTerm, domain string, depth int) (bool, error) {
	switch t.mech {
	case "all":
		return true, nil
	case "ip4", "ip6":
		return ipMatch(c.ip, t.arg), nil
	}
	if err := c.count(); err != nil {
		return false, err
	}
	target := domain
	if t.arg != "" {
		var err error
		if target, err = c.expand(t.arg, domain); err != nil {
			return false, err
		}
	}
	switch t.mech {
	case "include":
		r, err := c.checkHost(target, depth+1)
		switch r {
		case SPFPass:
			return true, nil
		case SPFTempError:
			return false, errSPFTemp
		case SPFPermError, SPFNone:
			if err == nil {
				c.detail = "include:" + target + " has no usable SPF record"
			}
			return false, errSPFPerm
		}
		return false, nil
	case "a":
		ips, err := c.addrs(target)
		if err != nil {
			return false, err
		}
		return c.anyInCIDR(ips, t), nil
	case "mx":
		return c.mx(target, t)
	case "ptr":
		return c.ptr(target)
	case "exists":
		a, err := c.s.res.Query(c.ctx, target, dns.TypeA)
		if errors.Is(err, dnsx.ErrNotFound) {
			return false, c.void()
		}
		if err != nil {
			return false, errSPFTemp
		}
		return len(a.Records) > 0, nil
	}
	return false, errSPFPerm
}

// addrs returns the addresses of name of the client's family; a name
// without any counts as a void lookup.
func (c *spfCheck) addrs(name string) ([]net.IP, error) {
	qt := dns.TypeAAAA
	if c.ip.To4() != nil {
		qt = dns.TypeA
	}
	a, err := c.s.res.Query(c.ctx, name, qt)
	if errors.Is(err, dnsx.ErrNotFound) {
		return nil, c.void()
	}
	if err != nil {
		c.detail = err.Error()
		return nil, errSPFTemp
	}
	var out []net.IP
	for _, rr := range a.Records {
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A)
		case *dns.AAAA:
			out = append(out, v.AAAA)
		}
	}
	return out, nil
}

// anyInCIDR reports whether the client is in any of the networks ips/len.
func (c *spfCheck) anyInCIDR(ips []net.IP, t spfTerm) bool {
	for _, ip := range ips {
		bits, size := t.cidr4, 32
		if ip.To4() == nil {
			bits, size = t.cidr6, 128
		}
		if bits < 0 {
			bits = size
		}
		n := net.IPNet{IP: ip, Mask: net.CIDRMask(bits, size)}
		if n.Contains(c.ip) {
			return true
		}
	}
	return false
}

// mx evaluates the mx mechanism.
func (c *spfCheck) mx(target string, t spfTerm) (bool, error) {
	a, err := c.s.res.Query(c.ctx, target, dns.TypeMX)
	if errors.Is(err, dnsx.ErrNotFound) {
		return false, c.void()
	}
	if err != nil {
		return false, errSPFTemp
	}
	if len(a.Records) > spfMaxMX {
		c.detail = target + " has more than 10 MX records"
		return false, errSPFPerm
	}
	for _, rr := range a.Records {
		ips, err := c.addrs(strings.TrimSuffix(rr.(*dns.MX).Mx, "."))
		if err != nil {
			return false, err
		}
		if c.anyInCIDR(ips, t) {
			return true, nil
		}
	}
	return false, nil
}

// ptr evaluates the (deprecated) ptr mechanism: a validated name of the
// client equal to or under target.
func (c *spfCheck) ptr(target string) (bool, error) {
	rev, err := dns.ReverseAddr(c.ip.String())
	if err != nil {
		return false, nil
	}
	a, err := c.s.res.Query(c.ctx, rev, dns.TypePTR)
	if err != nil {
		return false, nil // PTR failures are no match (section 5.5)
	}
	for i, rr := range a.Records {
		if i >= spfMaxMX {
			break
		}
		name := strings.ToLower(strings.TrimSuffix(rr.(*dns.PTR).Ptr, "."))
		ips, err := c.addrs(name)
		if err != nil {
			continue
		}
		for _, ip := range ips {
			if ip.Equal(c.ip) && (name == target || strings.HasSuffix(name, "."+target)) {
				return true, nil
			}
		}
	}
	return false, nil
}

// ipMatch reports whether ip is in the ip4/ip6 argument's network.
func ipMatch(ip net.IP, arg string) bool {
	addr, bits, hasBits := strings.Cut(arg, "/")
	n := net.ParseIP(addr)
	if n == nil {
		return false
	}
	size := 128
	if n.To4() != nil && !strings.Contains(addr, ":") {
		size, n = 32, n.To4()
		if ip.To4() == nil {
			return false
		}
		ip = ip.To4()
	} else if ip.To4() != nil {
		return false
	}
	b := size
	if hasBits {
		b, _ = strconv.Atoi(bits)
	}
	return (&net.IPNet{IP: n, Mask: net.CIDRMask(b, size)}).Contains(ip)
}

// validDomain reports whether a name can be checked: at least two labels,
// each 1–63 characters, 253 in all.
func validDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if len(d) == 0 || len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
	}
	return true
}
