package imapsrc

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Transport security modes of an IMAP endpoint (Exchange's -Security).
const (
	// SecurityAuto: implicit TLS for imaps://; for imap:// STARTTLS when
	// the server offers it, plain text only to a loopback address.
	SecurityAuto = ""
	// SecuritySsl: implicit TLS (port 993 by default).
	SecuritySsl = "Ssl"
	// SecurityTls: STARTTLS, required.
	SecurityTls = "Tls"
	// SecurityNone: plain text, never STARTTLS (the admin's explicit
	// choice for a trusted network).
	SecurityNone = "None"
)

// Server says where an IMAP source is and how to reach it.
type Server struct {
	// URL is imap://host[:port] or imaps://host[:port].
	URL string
	// Security is one of the Security* modes.
	Security string
	// TLSConfig, when set, replaces the default TLS configuration (the
	// system's roots, the URL's host name).
	TLSConfig *tls.Config
	// Timeout bounds connecting and each response (default 2 minutes).
	Timeout time.Duration
	// Dial, when set, makes the TCP connection (the migration service
	// passes its endpoint policy's); nil dials directly.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// OAuth, when set, signs users in with OAuth2 tokens: the password
	// given to a login is then the user's OAuth secret (a refresh token).
	OAuth *OAuth
}

// address returns host:port and whether the connection uses implicit TLS.
func (s Server) address() (string, bool, error) {
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "imap" && u.Scheme != "imaps") || u.Host == "" {
		return "", false, errs.Invalidf("InvalidRemoteServer", "remote server %q is not an imap:// or imaps:// URL", s.URL).
			WithHint("use imap://host:143 or imaps://host:993")
	}
	implicit := u.Scheme == "imaps" || s.Security == SecuritySsl
	port := u.Port()
	if port == "" {
		port = "143"
		if implicit {
			port = "993"
		}
	}
	return net.JoinHostPort(u.Hostname(), port), implicit, nil
}

func (s Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 2 * time.Minute
}

// unreachable is the coded error of a server that cannot be used.
func unreachable(server string, format string, args ...any) *errs.Error {
	e := errs.New(errs.Unavailable, "EndpointUnreachable", format, args...).WithObject(server)
	return e.WithHint("check the endpoint's RemoteServer (imap://host:port or imaps://host:port), its Security and that the IMAP server is running")
}

// noIMAP is the one answer for every way a connection can fail before an
// IMAP greeting (refused, timed out, reset, TLS failure, not IMAP): telling
// them apart would let an endpoint test scan ports. The detail is kept as
// the cause, for the server's log.
func noIMAP(server string, cause error) *errs.Error {
	return unreachable(server, "the IMAP server %s cannot be reached, or did not answer as an IMAP server (with TLS when required)", server).WithCause(cause)
}

// Probe is what connecting to a server showed, before any login.
type Probe struct {
	Address      string   // host:port connected to
	TLS          string   // "implicit TLS", "STARTTLS" or "none"
	Capabilities []string // as announced before login, sorted
}

// conn is one connection to the server.
type conn struct {
	c     *imapclient.Client
	srv   Server
	probe Probe
}

// dial connects and negotiates TLS per the server's security mode.
func dial(ctx context.Context, srv Server) (*conn, error) {
	addr, implicit, err := srv.address()
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	tc := srv.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: host, NextProtos: []string{"imap"}}
	}
	dialFn := (&net.Dialer{Timeout: srv.timeout()}).DialContext
	if srv.Dial != nil {
		dialFn = srv.Dial
	}
	raw := func() (net.Conn, error) {
		dctx, cancel := context.WithTimeout(ctx, srv.timeout())
		defer cancel()
		nc, err := dialFn(dctx, "tcp", addr)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var e *errs.Error
			if errors.As(err, &e) && e.Kind == errs.Forbidden {
				return nil, e // the endpoint policy refused the address
			}
			return nil, noIMAP(srv.URL, err)
		}
		return nc, nil
	}
	out := &conn{srv: srv, probe: Probe{Address: addr, TLS: "none"}}
	nc, err := raw()
	if err != nil {
		return nil, err
	}
	switch {
	case implicit:
		tlsConn := tls.Client(nc, tc)
		hctx, cancel := context.WithTimeout(ctx, srv.timeout())
		err := tlsConn.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			return nil, noIMAP(srv.URL, err)
		}
		out.c, out.probe.TLS = imapclient.New(tlsConn, nil), "implicit TLS"
	case srv.Security == SecurityTls:
		c, err := imapclient.NewStartTLS(nc, &imapclient.Options{TLSConfig: tc})
		if err != nil {
			nc.Close()
			return nil, noIMAP(srv.URL, err)
		}
		out.c, out.probe.TLS = c, "STARTTLS"
	default:
		out.c = imapclient.New(nc, nil)
	}
	stop := context.AfterFunc(ctx, func() { out.c.Close() })
	defer stop()
	if err := out.c.WaitGreeting(); err != nil {
		out.c.Close()
		return nil, noIMAP(srv.URL, err)
	}
	caps, err := out.c.Capability().Wait()
	if err != nil {
		out.c.Close()
		return nil, noIMAP(srv.URL, err)
	}
	if out.probe.TLS == "none" && srv.Security == SecurityAuto {
		if caps.Has(imap.CapStartTLS) {
			// Upgrade: a new connection that starts with STARTTLS.
			out.c.Close()
			nc, err := raw()
			if err != nil {
				return nil, err
			}
			c, err := imapclient.NewStartTLS(nc, &imapclient.Options{TLSConfig: tc})
			if err != nil {
				nc.Close()
				return nil, noIMAP(srv.URL, err)
			}
			out.c, out.probe.TLS = c, "STARTTLS"
			if caps, err = c.Capability().Wait(); err != nil {
				c.Close()
				return nil, noIMAP(srv.URL, err)
			}
		} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			out.c.Close()
			return nil, errs.New(errs.Unavailable, "EndpointUnreachable", "the IMAP server %s offers no STARTTLS: passwords would cross the network in plain text", srv.URL).
				WithObject(srv.URL).WithHint("use imaps://, or set the endpoint's Security to None to allow plain text on a trusted network")
		}
	}
	for c := range caps {
		out.probe.Capabilities = append(out.probe.Capabilities, string(c))
	}
	sort.Strings(out.probe.Capabilities)
	return out, nil
}

// Connect connects to the server without logging in and reports what it
// offers (`endpoint test`: connectivity, TLS and capabilities).
func Connect(ctx context.Context, srv Server) (*Probe, error) {
	c, err := dial(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer c.c.Close()
	p := c.probe
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	c.c.Logout().Wait()
	return &p, nil
}

// login authenticates with AUTHENTICATE PLAIN when offered, else LOGIN. A
// refusal is SourceLoginFailed naming the user.
func (c *conn) login(ctx context.Context, user, password string) error {
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	if c.srv.OAuth != nil {
		return c.loginOAuth(ctx, user, password)
	}
	caps := c.c.Caps()
	var err error
	switch {
	case caps.Has(imap.AuthCap(sasl.Plain)):
		err = c.c.Authenticate(sasl.NewPlainClient("", user, password))
	case caps.Has(imap.CapLoginDisabled):
		return errs.Forbiddenf("SourceLoginFailed", "the IMAP server %s refuses LOGIN and offers no AUTHENTICATE PLAIN for %s", c.srv.URL, user).
			WithObject(user).WithHint("connect over TLS (imaps:// or Security Tls), which servers require before a password login")
	default:
		err = c.c.Login(user, password).Wait()
	}
	if err == nil {
		return nil
	}
	return c.loginError(ctx, user, err, "check the UserName and Password columns of the batch CSV for this user")
}

// loginError maps a failed login: a refusal is SourceLoginFailed (with
// the hint), an unavailable server or a broken connection
// EndpointUnreachable.
func (c *conn) loginError(ctx context.Context, user string, err error, hint string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	// The server's text is not repeated (it goes to the log as the cause);
	// its response code, a protocol token, says why.
	var ie *imap.Error
	if errors.As(err, &ie) {
		code := ""
		if ie.Code != "" && len(ie.Code) <= 32 {
			code = " (" + string(ie.Code) + ")"
		}
		if ie.Code == imap.ResponseCodeUnavailable {
			return unreachable(c.srv.URL, "the IMAP server %s cannot log %s in now%s", c.srv.URL, user, code).WithCause(err)
		}
		return errs.Forbiddenf("SourceLoginFailed", "the IMAP server %s refused the credentials of user %s%s", c.srv.URL, user, code).
			WithObject(user).WithHint("%s", hint).WithCause(err)
	}
	if e := errs.As(err); e != nil {
		return err // from the token source
	}
	return unreachable(c.srv.URL, "logging %s in at %s failed", user, c.srv.URL).WithCause(err)
}

// hostPort is the server's host and port (for OAUTHBEARER).
func (c *conn) hostPort() (string, int) {
	addr, _, err := c.srv.address()
	if err != nil {
		return "", 0
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return host, p
}

// CheckLogin connects and logs a user in (the SourceLogin validation rule):
// nil, EndpointUnreachable or SourceLoginFailed.
func CheckLogin(ctx context.Context, srv Server, user, password string) error {
	c, err := dial(ctx, srv)
	if err != nil {
		return err
	}
	defer c.c.Close()
	if err := c.login(ctx, user, password); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	c.c.Logout().Wait()
	return nil
}
