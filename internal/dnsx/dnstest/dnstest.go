// Package dnstest runs an authoritative DNS server on loopback for tests:
// zones are given as records in zone-file syntax, and the server answers
// over UDP and TCP on one 127.0.0.1 port, which tests pass to tenantferry
// as --dns-resolver (dnsx.New(srv.Addr)).
//
// It is a real DNS server speaking the wire protocol (github.com/miekg/dns),
// not a stub of the resolver: the code under test sends real queries.
//
// Invariants:
//   - A name with no records of any type below a served zone is NXDOMAIN; a
//     name with records of other types only is NODATA (NOERROR, empty
//     answer); a name outside every zone is REFUSED.
//   - CNAMEs are followed within the served zones, as a recursive resolver
//     would return them.
//   - Names under a zone marked Secure get the AD bit, standing in for a
//     validating resolver on loopback (see package dnsx). Tests of DNSSEC
//     policy mark zones secure or not.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running authoritative test DNS server.
type Server struct {
	// Addr is "127.0.0.1:PORT", the same port for UDP and TCP.
	Addr string

	mu      sync.RWMutex
	records map[string][]dns.RR // lower-case FQDN → records
	zones   map[string]bool     // lower-case zone FQDN → secure
	udp     *dns.Server
	tcp     *dns.Server
}

// Start starts a server on 127.0.0.1 with the given zones (apex names, e.g.
// "example.test") and stops it when the test ends.
func Start(t testing.TB, zones ...string) *Server {
	t.Helper()
	s := &Server{records: map[string][]dns.RR{}, zones: map[string]bool{}}
	for _, z := range zones {
		s.AddZone(z, false)
	}
	// Bind UDP and TCP on the same port: retry until a port is free for both.
	var pc net.PacketConn
	var ln net.Listener
	for i := 0; i < 20; i++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		pc, ln = nil, nil
	}
	if ln == nil {
		t.Fatal("dnstest: no port free for both UDP and TCP")
	}
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	t.Cleanup(func() {
		s.udp.Shutdown()
		s.tcp.Shutdown()
	})
	return s
}

// AddZone serves zone (an apex name); secure marks its answers with the AD
// bit.
func (s *Server) AddZone(zone string, secure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[strings.ToLower(dns.Fqdn(zone))] = secure
}

// Add adds records in zone-file syntax, one per string, e.g.
// `example.test. 300 IN TXT "v=spf1 -all"` or `example.test. MX 10 mx.example.test.`.
// The owner must be under a served zone. It fails the test on a syntax error.
func (s *Server) Add(t testing.TB, records ...string) {
	t.Helper()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("dnstest: bad record %q: %v", r, err)
		}
		if rr == nil {
			continue
		}
		if rr.Header().Ttl == 0 {
			rr.Header().Ttl = 300
		}
		name := strings.ToLower(rr.Header().Name)
		s.mu.Lock()
		s.records[name] = append(s.records[name], rr)
		s.mu.Unlock()
	}
}

// Remove deletes every record of type qtype at name (dns.TypeANY: all).
func (s *Server) Remove(name string, qtype uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	var keep []dns.RR
	for _, rr := range s.records[name] {
		if qtype != dns.TypeANY && rr.Header().Rrtype != qtype {
			keep = append(keep, rr)
		}
	}
	if len(keep) == 0 {
		delete(s.records, name)
	} else {
		s.records[name] = keep
	}
}

// Set replaces the records of the given records' owner and type with them.
func (s *Server) Set(t testing.TB, records ...string) {
	t.Helper()
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("dnstest: bad record %q: %v", r, err)
		}
		s.Remove(rr.Header().Name, rr.Header().Rrtype)
	}
	s.Add(t, records...)
}

// zoneOf returns the served zone containing name, and whether it is secure.
func (s *Server) zoneOf(name string) (string, bool, bool) {
	best := ""
	for z := range s.zones {
		if dns.IsSubDomain(z, name) && len(z) > len(best) {
			best = z
		}
	}
	if best == "" {
		return "", false, false
	}
	return best, s.zones[best], true
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.RLock()
	defer s.mu.RUnlock()
	zone, secure, ok := s.zoneOf(name)
	if !ok {
		m.Rcode = dns.RcodeRefused
		w.WriteMsg(m)
		return
	}
	for hops := 0; hops < 8; hops++ {
		rrs, exists := s.records[name]
		if !exists && !s.hasChildren(name) {
			if hops == 0 {
				m.Rcode = dns.RcodeNameError
			}
			break
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(m.Answer) > 0 || cname == nil || q.Qtype == dns.TypeCNAME {
			break
		}
		m.Answer = append(m.Answer, dns.Copy(cname))
		name = strings.ToLower(cname.Target)
		if _, _, in := s.zoneOf(name); !in {
			break
		}
	}
	if len(m.Answer) == 0 && m.Rcode == dns.RcodeSuccess {
		m.Ns = append(m.Ns, &dns.SOA{
			Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
			Ns:  "ns." + zone, Mbox: "hostmaster." + zone, Serial: 1, Refresh: 60, Retry: 60, Expire: 600, Minttl: 60,
		})
	}
	m.AuthenticatedData = secure && req.IsEdns0() != nil && (req.IsEdns0().Do() || req.AuthenticatedData)
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), opt.Do())
	}
	w.WriteMsg(m)
}

// hasChildren reports whether a record exists strictly below name (an
// empty non-terminal is NODATA, not NXDOMAIN, per RFC 8020).
func (s *Server) hasChildren(name string) bool {
	for n := range s.records {
		if n != name && dns.IsSubDomain(name, n) {
			return true
		}
	}
	return false
}
