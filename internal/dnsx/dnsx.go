// Package dnsx resolves the DNS records tenantferry acts on — TXT (domain
// ownership, SPF, DKIM, DMARC, MTA-STS, TLS-RPT), MX, A/AAAA and TLSA — through
// one configurable resolver: the server given by `serve --dns-resolver
// HOST:PORT`, or the system's resolvers from /etc/resolv.conf.
//
// Invariants:
//   - A name that does not exist (NXDOMAIN) or has no record of the asked
//     type (NODATA) is ErrNotFound, never a temporary error: SPF, DMARC and
//     domain verification treat "none" and "temperror" differently (RFC 7208
//     §4.4), so the two must never be confused.
//   - Every other failure (timeout, SERVFAIL, refused, truncation that TCP
//     could not repair) is ErrTemporary, wrapped with the detail.
//   - Authenticated reports the AD bit of the answer. tenantferry does not
//     validate DNSSEC itself; like Postfix with smtp_dns_support_level=dnssec,
//     it trusts the AD bit of the resolver it is configured to use, which must
//     therefore be a validating resolver on a trusted path (loopback).
package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrNotFound is returned when the name does not exist or has no record of
// the asked type.
var ErrNotFound = errs.Sentinel(errs.NotFound, "DnsRecordNotFound")

// ErrTemporary is returned when the answer could not be obtained (timeout,
// SERVFAIL, refused); retrying later may succeed.
var ErrTemporary = errs.Sentinel(errs.Unavailable, "DnsTemporaryFailure")

// Resolver sends queries to one set of servers. The zero value is not
// usable; create it with New. A Resolver is safe for concurrent use.
type Resolver struct {
	servers []string // host:port, tried in order
	timeout time.Duration

	mu      sync.Mutex
	sysRead bool
}

// New returns a resolver that asks server ("HOST:PORT", or "HOST" for port
// 53). An empty server means the system's resolvers (/etc/resolv.conf, read
// on first use).
func New(server string) *Resolver {
	r := &Resolver{timeout: 5 * time.Second}
	if server != "" {
		if _, _, err := net.SplitHostPort(server); err != nil {
			server = net.JoinHostPort(server, "53")
		}
		r.servers = []string{server}
		r.sysRead = true
	}
	return r
}

// Server returns the first server the resolver asks ("" until the system
// configuration has been read).
func (r *Resolver) Server() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.servers) == 0 {
		return ""
	}
	return r.servers[0]
}

func (r *Resolver) serverList() ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.sysRead {
		cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err == nil {
			for _, s := range cfg.Servers {
				r.servers = append(r.servers, net.JoinHostPort(s, cfg.Port))
			}
		}
		r.sysRead = true
	}
	if len(r.servers) == 0 {
		return nil, ErrTemporary.Newf("no DNS resolver is configured").
			WithHint("pass --dns-resolver HOST:PORT or list a nameserver in /etc/resolv.conf")
	}
	return r.servers, nil
}

// Answer is the outcome of one query.
type Answer struct {
	// Records are the answer section's records of the asked type (CNAME
	// chains are followed by the resolver; records of other types are
	// dropped).
	Records []dns.RR
	// Authenticated is the AD bit: the resolver validated the answer with
	// DNSSEC.
	Authenticated bool
}

// Query asks for records of type qtype (dns.TypeTXT, ...) at name. It
// returns ErrNotFound for NXDOMAIN and NODATA, and ErrTemporary for every
// failure to get an answer.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	servers, err := r.serverList()
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(4096, true) // DO: ask for the AD bit
	m.AuthenticatedData = true
	var last error
	for _, s := range servers {
		in, err := r.exchange(ctx, m, s)
		if err != nil {
			last = err
			continue
		}
		switch in.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, ErrNotFound.Newf("%s has no %s record (NXDOMAIN)", name, dns.TypeToString[qtype]).WithObject(name)
		default:
			last = fmt.Errorf("%s from %s", dns.RcodeToString[in.Rcode], s)
			continue
		}
		a := &Answer{Authenticated: in.AuthenticatedData}
		for _, rr := range in.Answer {
			if rr.Header().Rrtype == qtype {
				a.Records = append(a.Records, rr)
			}
		}
		if len(a.Records) == 0 {
			return nil, ErrNotFound.Newf("%s has no %s record", name, dns.TypeToString[qtype]).WithObject(name)
		}
		return a, nil
	}
	return nil, ErrTemporary.Newf("DNS query %s %s failed", name, dns.TypeToString[qtype]).
		WithObject(name).WithCause(last).
		WithHint("check that the DNS resolver %s answers", strings.Join(servers, ", "))
}

// exchange sends m over UDP and retries over TCP when the reply is
// truncated.
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: "udp", Timeout: r.timeout}
	in, _, err := c.ExchangeContext(ctx, m, server)
	if err == nil && !in.Truncated {
		return in, nil
	}
	c.Net = "tcp"
	in, _, err = c.ExchangeContext(ctx, m, server)
	return in, err
}

// LookupTXT returns the TXT strings at name, each record's strings joined
// (RFC 7208 §3.3).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	a, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(a.Records))
	for _, rr := range a.Records {
		out = append(out, strings.Join(rr.(*dns.TXT).Txt, ""))
	}
	return out, nil
}

// LookupMX returns the MX records of name sorted by preference.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a, err := r.Query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(a.Records))
	for _, rr := range a.Records {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
	return out, nil
}

// LookupIP returns the IPv4 and IPv6 addresses of host. ErrNotFound only
// when neither family has an address.
func (r *Resolver) LookupIP(ctx context.Context, host string) ([]net.IP, error) {
	var ips []net.IP
	var errA error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		a, err := r.Query(ctx, host, t)
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				errA = err
			}
			continue
		}
		for _, rr := range a.Records {
			switch v := rr.(type) {
			case *dns.A:
				ips = append(ips, v.A)
			case *dns.AAAA:
				ips = append(ips, v.AAAA)
			}
		}
	}
	if len(ips) > 0 {
		return ips, nil
	}
	if errA != nil {
		return nil, errA
	}
	return nil, ErrNotFound.Newf("%s has no address record", host).WithObject(host)
}

// LookupTLSA returns the TLSA records at name (e.g. "_25._tcp.mx.example")
// and whether the resolver authenticated them (RFC 7672 uses them only
// when it did).
func (r *Resolver) LookupTLSA(ctx context.Context, name string) ([]*dns.TLSA, bool, error) {
	a, err := r.Query(ctx, name, dns.TypeTLSA)
	if err != nil {
		return nil, false, err
	}
	out := make([]*dns.TLSA, 0, len(a.Records))
	for _, rr := range a.Records {
		out = append(out, rr.(*dns.TLSA))
	}
	return out, a.Authenticated, nil
}

// FromEnv returns a resolver for the server in the environment variable
// name, or the system's when it is empty. Tools and tests use it.
func FromEnv(name string) *Resolver { return New(os.Getenv(name)) }
