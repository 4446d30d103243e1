// Package smtpd is tenantferry's SMTP protocol adapter: the MX listener
// (mail for recipients hosted here, no AUTH) and the submission listener
// (AUTH PLAIN/LOGIN with a mailbox's primary SMTP address and password,
// then any recipient). It translates SMTP commands into delivery.Service
// calls and maps their typed errors to SMTP replies in one place (reply.go);
// every business rule lives in internal/delivery.
//
// Invariants:
//   - A message is answered 250 only after delivery.Service.Enqueue
//     returned: its bytes are fsynced and its queue rows and jobs committed.
//     Any failure before that is a 4xx/5xx reply, never a 250.
//   - The stored bytes are exactly the DATA payload after dot-unstuffing,
//     with our Received header prepended (and, on the MX, our
//     Authentication-Results field above it); nothing else is changed.
//   - Without TLS, AUTH is neither offered nor accepted, unless the listener
//     is on a loopback address or plain-text logins were allowed in the
//     configuration. The MX listener never offers AUTH.
//   - Reply texts are public: they never carry internal error detail, which
//     is logged instead.
//   - Hostile input ends in a protocol error, a closed connection or a
//     refused message, never in a crash: limits bound line length, message
//     size, recipients per message and idle time.
package smtpd

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/delivery"
)

// MaxLineLength bounds every input line, commands and message lines alike
// (go-smtp applies one limit to both). RFC 5321 allows 1000 octets, but real
// mail carries longer lines and content is stored byte-exact, so the limit
// only bounds memory; a longer line ends the connection with 500 5.4.0.
const MaxLineLength = 64 << 10

// Defaults of Options.
const (
	DefaultMaxRecipients = 100 // RFC 5321 4.5.3.1.8 minimum
	DefaultReadTimeout   = 5 * time.Minute
	DefaultWriteTimeout  = time.Minute
)

// Options configure a listener.
type Options struct {
	// Name labels logs and metrics: "smtp" or "submission".
	Name string
	// Submission requires AUTH before MAIL and lets authenticated users
	// send to any address; otherwise the listener is an MX.
	Submission bool
	// Hostname is the name in the greeting and the Received header.
	Hostname string
	// TLS enables STARTTLS when not nil.
	TLS *tls.Config
	// AllowPlainAuth allows AUTH without TLS (loopback listeners, or the
	// --allow-plaintext setting).
	AllowPlainAuth bool
	// MaxMessageSize is the largest DATA accepted (552 5.3.4 above);
	// advertised in EHLO SIZE. 0 means no limit.
	MaxMessageSize int64
	// MaxRecipients per message (452 4.5.3 above).
	MaxRecipients int
	// ReadTimeout and WriteTimeout bound idle clients.
	ReadTimeout, WriteTimeout time.Duration
	// Limits, when set, slows down password guessing (AUTH, per client
	// address and per account) and bounds each account's submission
	// rate.
	Limits *ratelimit.Guard
}

// Server is one SMTP listener.
type Server struct {
	svc  *delivery.Service
	opts Options
	log  *slog.Logger
	srv  *smtp.Server

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	busy   sync.WaitGroup // Enqueue calls in flight
}

// New returns a listener over the delivery service.
func New(svc *delivery.Service, opts Options, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if opts.Name == "" {
		opts.Name = "smtp"
		if opts.Submission {
			opts.Name = "submission"
		}
	}
	if opts.Hostname == "" {
		opts.Hostname = svc.Hostname()
	}
	if opts.MaxRecipients <= 0 {
		opts.MaxRecipients = DefaultMaxRecipients
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	s := &Server{svc: svc, opts: opts, log: log.With("component", "smtpd", "listener", opts.Name)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	srv := smtp.NewServer(s)
	srv.Domain = opts.Hostname
	srv.TLSConfig = opts.TLS
	srv.AllowInsecureAuth = opts.AllowPlainAuth
	srv.MaxMessageBytes = opts.MaxMessageSize
	srv.MaxRecipients = opts.MaxRecipients
	srv.MaxLineLength = MaxLineLength
	srv.ReadTimeout, srv.WriteTimeout = opts.ReadTimeout, opts.WriteTimeout
	srv.ErrorLog = errorLog{s.log}
	s.srv = srv
	return s
}

// Serve accepts connections on ln until Close or until ln is closed; it
// returns nil then.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("smtp listener serving", "addr", ln.Addr().String(), "tls", s.opts.TLS != nil,
		"plain_auth", s.opts.AllowPlainAuth, "submission", s.opts.Submission)
	err := s.srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// Close stops accepting, closes every connection, and waits (until ctx
// ends) for messages that were being committed; their clients get no 250.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Close()
	done := make(chan struct{})
	go func() {
		s.busy.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	s.cancel()
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		err = nil // closed already (the server closes its listeners first)
	}
	return err
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	base := &session{s: s, conn: c, remote: c.Conn().RemoteAddr().String()}
	base.log = s.log.With("remote", base.remote)
	if s.opts.Submission {
		return &authSession{session: base}, nil
	}
	return base, nil
}

// errorLog adapts slog to go-smtp's logger.
type errorLog struct{ l *slog.Logger }

// Printf implements smtp.Logger.
func (e errorLog) Printf(format string, v ...any) { e.l.Warn(fmt.Sprintf(format, v...)) }

// Println implements smtp.Logger.
func (e errorLog) Println(v ...any) { e.l.Warn(fmt.Sprint(v...)) }
