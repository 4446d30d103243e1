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
)

// deliverRemote sends the message to another server: the transport map's
// next hop for the domain, else its MX hosts in preference order (RFC 5321
// section 5.1). A 5xx reply is permanent; anything else is temporary.
func (s *Service) deliverRemote(ctx context.Context, r *rcptRow, m *msgRow, t *target) error {
	_, domain, _ := SplitAddress(t.addr)
	hosts, err := s.nextHops(ctx, domain)
	if err != nil {
		return err
	}
	from, prefix := s.outbound(ctx, m, t)
	var last error
	for _, h := range hosts {
		err := s.sendTo(ctx, h, m, from, prefix, t.addr)
		if err == nil {
			werr := s.d.Write(ctx, func(tx *db.Tx) error {
				_, err := finish(ctx, tx, r.id, StateRelayed, h)
				return err
			})
			if werr != nil {
				// The remote server has the message; a retry may duplicate
				// it there (SMTP is at-least-once), never lose it.
				return internal(werr, "record relayed delivery")
			}
			s.m.result(StateRelayed)
			s.log.Info("relayed", "id", m.uid, "rcpt", r.rcpt, "to", t.addr, "via", t.via, "host", h)
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

// nextHops returns the "host:port" list to try for a domain.
func (s *Service) nextHops(ctx context.Context, domain string) ([]string, error) {
	if a, ok := s.transports[domain]; ok {
		return []string{a}, nil
	}
	mxs, err := s.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return []string{net.JoinHostPort(domain, "25")}, nil // RFC 5321 5.1: implicit MX
	}
	if err != nil {
		return nil, newErr(451, "4.4.3", "cannot resolve the destination domain").withCause(err)
	}
	if len(mxs) == 0 {
		return []string{net.JoinHostPort(domain, "25")}, nil
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, newErr(556, "5.1.10", "the recipient domain does not accept mail (null MX)")
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		hosts = append(hosts, net.JoinHostPort(strings.TrimSuffix(mx.Host, "."), "25"))
	}
	return hosts, nil
}

// sendTo runs one SMTP transaction with a next hop, using opportunistic
// STARTTLS (unverified, as MTAs do by default: RFC 7435) when offered. The
// envelope sender is from, and prefix (header fields from outbound) goes
// above the queued bytes.
func (s *Service) sendTo(ctx context.Context, hostport string, m *msgRow, from string, prefix []byte, rcpt string) error {
	c, err := s.dial(ctx, hostport, false)
	if err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		c.Close()
		if tc, terr := s.dial(ctx, hostport, true); terr == nil {
			c = tc
		} else if c, err = s.dial(ctx, hostport, false); err != nil {
			return err
		}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	blob, err := s.blobs.Open(ctx, m.sha256)
	if err != nil {
		return internal(err, "open queued message")
	}
	defer blob.Close()
	if err := c.SendMail(from, []string{rcpt}, io.MultiReader(bytes.NewReader(prefix), blob)); err != nil {
		return remoteError(hostport, err)
	}
	c.Quit()
	return nil
}

// dial connects to a next hop and says EHLO (after STARTTLS when tls is
// set).
func (s *Service) dial(ctx context.Context, hostport string, useTLS bool) (*smtp.Client, error) {
	d := net.Dialer{Timeout: s.DialTimeout}
	if s.bind != nil {
		d.LocalAddr = &net.TCPAddr{IP: s.bind}
	}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, newErr(451, "4.4.1", "cannot connect to the destination server").withCause(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	var c *smtp.Client
	if useTLS {
		host, _, _ := net.SplitHostPort(hostport)
		c, err = smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // opportunistic TLS
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

// remoteError classifies a next hop's failure: its 5xx replies are
// permanent, everything else (4xx, network) temporary.
func remoteError(host string, err error) *Error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		status := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
		if se.EnhancedCode == smtp.EnhancedCodeNotSet || se.EnhancedCode == smtp.NoEnhancedCode || se.EnhancedCode[0] != se.Code/100 {
			status = fmt.Sprintf("%d.0.0", se.Code/100)
		}
		code := se.Code
		if code/100 != 4 && code/100 != 5 {
			code, status = 451, "4.4.0"
		}
		return newErr(code, status, "%s said: %d %s", host, se.Code, sanitize(se.Message, 300)).withCause(err)
	}
	return newErr(451, "4.4.2", "connection to the destination server failed").withCause(fmt.Errorf("%s: %w", host, err))
}
