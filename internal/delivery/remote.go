package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/dnsx"
)

// deliverRemote sends the message to another server: the transport map's
// next hop for the domain, else its MX hosts in preference order (RFC 5321
// section 5.1), each under its TLS policy (tlspolicy.go). A 5xx reply is
// permanent; anything else is temporary.
func (s *Service) deliverRemote(ctx context.Context, r *rcptRow, m *msgRow, t *target) error {
	_, domain, _ := SplitAddress(t.addr)
	hosts, mapped, err := s.nextHops(ctx, domain)
	if err != nil {
		return err
	}
	var sts *stsPolicy
	if !mapped {
		sts = s.mtaSTS(ctx, domain)
	}
	from, prefix := s.outbound(ctx, m, t)
	var last error
	for _, h := range hosts {
		host, _, _ := net.SplitHostPort(h)
		var mode tlsMode
		if !mapped {
			var skip bool
			if mode, skip = s.hopMode(ctx, host, sts); skip {
				last = errInsecure("%s is not an MX host of the domain's MTA-STS policy", host)
				s.log.Warn("MTA-STS: MX host not in the enforced policy, skipped", "id", m.uid, "host", host, "domain", domain)
				continue
			}
		}
		used, err := s.sendTo(ctx, h, mode, m, from, prefix, t.addr)
		if err == nil {
			werr := s.d.Write(ctx, func(tx *db.Tx) error {
				_, err := finish(ctx, tx, r.id, StateRelayed, h+" "+used)
				return err
			})
			if werr != nil {
				// The remote server has the message; a retry may duplicate
				// it there (SMTP is at-least-once), never lose it.
				return internal(werr, "record relayed delivery")
			}
			s.m.result(StateRelayed)
			s.log.Info("relayed", "id", m.uid, "rcpt", r.rcpt, "to", t.addr, "via", t.via, "host", h, "tls", used)
			return nil
		}
		last = err
		if de := AsError(err); !de.Temporary() {
			return err // the destination refused it: no other MX will differ
		}
		s.log.Info("next hop failed", "id", m.uid, "host", h, "err", err)
	}
	return last
}

// nextHops returns the "host:port" list to try for a domain, and whether
// it comes from the transport map (the operator's route: no TLS policy).
func (s *Service) nextHops(ctx context.Context, domain string) ([]string, bool, error) {
	if a, ok := s.transports[domain]; ok {
		return []string{a}, true, nil
	}
	mxs, err := s.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound || errors.Is(err, dnsx.ErrNotFound) {
		return []string{net.JoinHostPort(domain, "25")}, false, nil // RFC 5321 5.1: implicit MX
	}
	if err != nil {
		return nil, false, newErr(451, smtp.EnhancedCode{4, 4, 3}, "cannot resolve the destination domain").withCause(err)
	}
	if len(mxs) == 0 {
		return []string{net.JoinHostPort(domain, "25")}, false, nil
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, false, newErr(556, smtp.EnhancedCode{5, 1, 10}, "the recipient domain does not accept mail (null MX)")
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, net.JoinHostPort(strings.TrimSuffix(mx.Host, "."), "25"))
	}
	return hosts, false, nil
}

// sendTo runs one SMTP transaction with a next hop under mode: STARTTLS
// when offered (verified as mode says), required by DANE and an enforced
// MTA-STS policy. It returns what protected the session ("TLS 1.3 DANE",
// "TLS 1.2 unverified", "plaintext"). The envelope sender is from, and
// prefix (header fields from outbound) goes above the queued bytes.
func (s *Service) sendTo(ctx context.Context, hostport string, mode tlsMode, m *msgRow, from string, prefix []byte, rcpt string) (string, error) {
	c, err := s.secureClient(ctx, hostport, mode)
	if err != nil {
		return "", err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	used := "plaintext"
	if cs, ok := c.TLSConnectionState(); ok {
		used = tls.VersionName(cs.Version) + " unverified"
		if mode.name != "" && !mode.testing {
			used = tls.VersionName(cs.Version) + " " + mode.name
		}
	}
	blob, err := s.blobs.Open(ctx, m.sha256)
	if err != nil {
		return "", internal(err, "open queued message")
	}
	defer blob.Close()
	if err := c.SendMail(from, []string{rcpt}, io.MultiReader(bytes.NewReader(prefix), blob)); err != nil {
		return "", remoteError(hostport, err)
	}
	c.Quit()
	return used, nil
}

// secureClient connects and says EHLO, then STARTTLS when offered: under
// DANE and an enforced MTA-STS policy a missing STARTTLS or a failed
// verification ends it (errInsecure); under MTA-STS testing a failed
// verification is logged and the session goes on with unverified TLS;
// opportunistic TLS that fails falls back to plain text.
func (s *Service) secureClient(ctx context.Context, hostport string, mode tlsMode) (*smtp.Client, error) {
	host, _, _ := net.SplitHostPort(hostport)
	c, err := s.dial(ctx, hostport, nil)
	if err != nil {
		return nil, err
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		if mode.require {
			c.Close()
			return nil, errInsecure("%s does not offer STARTTLS, which its %s policy requires", host, mode.name)
		}
		return c, nil
	}
	c.Close()
	tc, err := s.dial(ctx, hostport, s.tlsConfig(host, mode))
	switch {
	case err == nil:
		return tc, nil
	case mode.require:
		return nil, errInsecure("%s: %s verification failed", host, mode.name).withCause(err)
	case mode.testing:
		s.log.Warn("MTA-STS (testing): TLS verification failed; delivering anyway", "host", host, "err", err)
		if tc, err = s.dial(ctx, hostport, s.tlsConfig(host, tlsMode{})); err == nil {
			return tc, nil
		}
	}
	return s.dial(ctx, hostport, nil)
}

// dial connects to a next hop (its addresses from the resolver when one
// is set) and says EHLO, after STARTTLS with tlsCfg when it is not nil.
func (s *Service) dial(ctx context.Context, hostport string, tlsCfg *tls.Config) (*smtp.Client, error) {
	d := net.Dialer{Timeout: s.DialTimeout}
	if s.bind != nil {
		d.LocalAddr = &net.TCPAddr{IP: s.bind}
	}
	conn, err := s.connect(ctx, &d, hostport)
	if err != nil {
		return nil, newErr(451, smtp.EnhancedCode{4, 4, 1}, "cannot connect to the destination server").withCause(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	var c *smtp.Client
	if tlsCfg != nil {
		c, err = smtp.NewClientStartTLS(conn, tlsCfg)
		if err != nil {
			conn.Close()
			return nil, remoteError(hostport, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = 2*time.Minute, 10*time.Minute
	if err := c.Hello(s.hostname); err != nil {
		c.Close()
		return nil, remoteError(hostport, err)
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// connect dials hostport, resolving a host name through the resolver
// when one is set (each address in turn).
func (s *Service) connect(ctx context.Context, d *net.Dialer, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || !s.hostsDNS || net.ParseIP(host) != nil {
		return d.DialContext(ctx, "tcp", hostport)
	}
	ips, err := s.resolver.LookupIP(ctx, host)
	if err != nil {
		return nil, err
	}
	var last error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// remoteError classifies a next hop's failure: its 5xx replies are
// permanent, everything else (4xx, network) temporary.
func remoteError(host string, err error) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		status := se.EnhancedCode
		if status == smtp.EnhancedCodeNotSet || status == smtp.NoEnhancedCode || status[0] != se.Code/100 {
			status = smtp.EnhancedCode{se.Code / 100, 0, 0}
		}
		code := se.Code
		if code/100 != 4 && code/100 != 5 {
			code, status = 451, smtp.EnhancedCode{4, 4, 0}
		}
		return newErr(code, status, "%s said: %d %s", host, se.Code, sanitize(se.Message, 300)).withCause(err)
	}
	return newErr(451, smtp.EnhancedCode{4, 4, 2}, "connection to the destination server failed").withCause(fmt.Errorf("%s: %w", host, err))
}
