package delivery

import (
	"github.com/emersion/go-smtp"

	"bufio"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/tenantferry/tenantferry/internal/dnsx"
)

// Outbound TLS policy (RFC 8461 MTA-STS, RFC 7672 DANE for SMTP):
//
//   - DANE first: an MX host whose TLSA records (_25._tcp.HOST) the
//     resolver authenticated with DNSSEC gets STARTTLS required and its
//     certificate checked against them (DANE-EE and DANE-TA; PKIX usages
//     are not used for SMTP, RFC 7672 section 3.1.3);
//   - else MTA-STS: a domain with a _mta-sts TXT record and a policy
//     fetched over verified HTTPS from mta-sts.DOMAIN; in mode enforce
//     only MX hosts the policy names are tried, with STARTTLS required and
//     the certificate verified for the host name; in mode testing a
//     failure is logged and delivery goes on opportunistically;
//   - else opportunistic STARTTLS (RFC 7435), unverified.
//
// A required TLS that fails is a temporary failure (451 4.7.5): retried,
// then bounced at expiry; never a fallback to plain text. Policies are
// cached in memory for their max_age (refreshed when the TXT id changes).
// Next hops from the transport map are the operator's and get no policy.
// What was used is recorded with the delivery result ("TLS 1.3 DANE").

// errInsecure refuses a next hop that cannot meet the TLS policy.
func errInsecure(format string, args ...any) *Error {
	return newErr(451, smtp.EnhancedCode{4, 7, 5}, "cannot deliver securely: "+format, args...)
}

// tlsMode is what one next hop requires.
type tlsMode struct {
	name    string // "DANE", "MTA-STS", "" (opportunistic)
	require bool   // STARTTLS mandatory, verified
	tlsa    []*dns.TLSA
	testing bool // MTA-STS testing: verify and log, deliver anyway
}

// stsPolicy is a fetched MTA-STS policy.
type stsPolicy struct {
	id      string
	mode    string // enforce | testing | none
	mx      []string
	expires time.Time
}

// matches reports whether the policy names host (exact, or "*." one
// label deep).
func (p *stsPolicy) matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, m := range p.mx {
		m = strings.ToLower(m)
		if m == host {
			return true
		}
		if rest, ok := strings.CutPrefix(m, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}

// stsCache holds fetched policies by domain.
type stsCache struct {
	mu sync.Mutex
	m  map[string]*stsPolicy
}

// mtaSTS returns the domain's MTA-STS policy, or nil when it has none (or
// it cannot be fetched and none is cached: RFC 8461 section 5).
func (s *Service) mtaSTS(ctx context.Context, domain string) *stsPolicy {
	if s.resolver == nil || s.stsHTTP == nil {
		return nil
	}
	domain = strings.ToLower(domain)
	s.sts.mu.Lock()
	cached := s.sts.m[domain]
	s.sts.mu.Unlock()
	txts, err := s.resolver.LookupTXT(ctx, "_mta-sts."+domain)
	id := ""
	for _, t := range txts {
		if strings.HasPrefix(strings.ReplaceAll(t, " ", ""), "v=STSv1;") {
			for _, f := range strings.Split(t, ";") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(f), "id="); ok {
					id = v
				}
			}
		}
	}
	switch {
	case err != nil && !errors.Is(err, dnsx.ErrNotFound) || id == "":
		if cached != nil && time.Now().Before(cached.expires) {
			return cached
		}
		return nil
	case cached != nil && cached.id == id && time.Now().Before(cached.expires):
		return cached
	}
	p, err := s.fetchSTS(ctx, domain)
	if err != nil {
		s.log.Warn("MTA-STS policy fetch failed", "domain", domain, "err", err)
		if cached != nil && time.Now().Before(cached.expires) {
			return cached
		}
		return nil
	}
	p.id = id
	s.sts.mu.Lock()
	s.sts.m[domain] = p
	s.sts.mu.Unlock()
	return p
}

// fetchSTS reads https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
func (s *Service) fetchSTS(ctx context.Context, domain string) (*stsPolicy, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://mta-sts."+domain+"/.well-known/mta-sts.txt", nil)
	resp, err := s.stsHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	p := &stsPolicy{}
	maxAge := 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 64<<10))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "version":
			if v != "STSv1" {
				return nil, fmt.Errorf("version %q", v)
			}
		case "mode":
			p.mode = v
		case "mx":
			p.mx = append(p.mx, v)
		case "max_age":
			maxAge, _ = strconv.Atoi(v)
		}
	}
	if p.mode != "enforce" && p.mode != "testing" && p.mode != "none" {
		return nil, fmt.Errorf("mode %q", p.mode)
	}
	p.expires = time.Now().Add(time.Duration(min(max(maxAge, 0), 31557600)) * time.Second)
	return p, nil
}

// hopMode decides what the MX host requires: DANE when authenticated
// TLSA records exist, else the MTA-STS policy's. skip is set for a host
// an enforced policy does not name.
func (s *Service) hopMode(ctx context.Context, host string, sts *stsPolicy) (mode tlsMode, skip bool) {
	if s.resolver != nil {
		recs, authenticated, err := s.resolver.LookupTLSA(ctx, "_25._tcp."+strings.TrimSuffix(host, "."))
		if err == nil && authenticated {
			var usable []*dns.TLSA
			for _, r := range recs {
				if r.Usage == 2 || r.Usage == 3 {
					usable = append(usable, r)
				}
			}
			if len(usable) > 0 {
				return tlsMode{name: "DANE", require: true, tlsa: usable}, false
			}
		}
	}
	if sts == nil || sts.mode == "none" {
		return tlsMode{}, false
	}
	if !sts.matches(host) {
		if sts.mode == "enforce" {
			return tlsMode{}, true
		}
		s.log.Warn("MTA-STS (testing): the MX is not in the policy", "host", host)
	}
	return tlsMode{name: "MTA-STS", require: sts.mode == "enforce", testing: sts.mode == "testing"}, false
}

// tlsConfig is the client configuration for host under mode: verified
// for MTA-STS, checked against TLSA records for DANE, unverified for
// opportunistic TLS.
func (s *Service) tlsConfig(host string, mode tlsMode) *tls.Config {
	cfg := &tls.Config{ServerName: host, RootCAs: s.rootCAs, MinVersion: tls.VersionTLS12}
	switch {
	case mode.name == "DANE":
		cfg.InsecureSkipVerify = true //nolint:gosec // checked against the TLSA records in VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyDANE(cs, host, mode.tlsa) }
	case mode.name == "MTA-STS" && mode.require:
	default:
		cfg.InsecureSkipVerify = true //nolint:gosec // opportunistic TLS (RFC 7435)
	}
	return cfg
}

// verifyDANE checks the server's chain against the TLSA records: a
// DANE-EE record must match the leaf (name and dates are not checked,
// RFC 7672 section 3.1.1); a DANE-TA record must match a certificate of
// the chain that the leaf, valid for host, chains up to.
func verifyDANE(cs tls.ConnectionState, host string, recs []*dns.TLSA) error {
	chain := cs.PeerCertificates
	if len(chain) == 0 {
		return errors.New("DANE: no certificate")
	}
	for _, r := range recs {
		switch r.Usage {
		case 3:
			if tlsaMatches(r, chain[0]) {
				return nil
			}
		case 2:
			for _, ta := range chain[1:] {
				if !tlsaMatches(r, ta) {
					continue
				}
				roots, inter := x509.NewCertPool(), x509.NewCertPool()
				roots.AddCert(ta)
				for _, c := range chain[1:] {
					inter.AddCert(c)
				}
				if _, err := chain[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err == nil {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("DANE: the certificate of %s matches none of its %d TLSA records", host, len(recs))
}

// tlsaMatches compares one certificate with a TLSA record (selector 0:
// the whole certificate, 1: its public key; matching type 0: exact, 1:
// SHA-256, 2: SHA-512).
func tlsaMatches(r *dns.TLSA, c *x509.Certificate) bool {
	data := c.Raw
	if r.Selector == 1 {
		data = c.RawSubjectPublicKeyInfo
	}
	var sum string
	switch r.MatchingType {
	case 0:
		sum = hex.EncodeToString(data)
	case 1:
		h := sha256.Sum256(data)
		sum = hex.EncodeToString(h[:])
	case 2:
		h := sha512.Sum512(data)
		sum = hex.EncodeToString(h[:])
	default:
		return false
	}
	return strings.EqualFold(sum, r.Certificate)
}
