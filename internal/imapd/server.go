package imapd

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// DefaultAuthFailDelay is how long a failed LOGIN or AUTHENTICATE waits
// before its NO, to slow down password guessing.
const DefaultAuthFailDelay = time.Second

// Options configure a Server.
type Options struct {
	// Dir resolves login addresses to mailbox users. Required.
	Dir *directory.Directory
	// Store holds the mailbox content. Required.
	Store *mailstore.Store
	// Log receives connection and error logs; nil discards them.
	Log *slog.Logger
	// TLSConfig enables STARTTLS. nil disables it. (Implicit TLS needs no
	// option: pass Serve a tls.NewListener.)
	TLSConfig *tls.Config
	// AllowPlainAuth reports whether a plain-text (not TLS) connection may
	// authenticate. When it returns false the connection advertises
	// LOGINDISABLED until STARTTLS. nil allows none.
	AllowPlainAuth func(conn net.Conn) bool
	// AppendLimit is the largest message APPEND accepts (APPENDLIMIT).
	// 0 means the store's maximum item size.
	AppendLimit int64
	// AuthFailDelay delays the reply to a failed login; 0 means
	// DefaultAuthFailDelay, a negative value no delay.
	AuthFailDelay time.Duration
	// Limits, when set, slows down password guessing (per client address
	// and per account; LOGIN and AUTHENTICATE).
	Limits *ratelimit.Guard
	// Quota, when set, enables QUOTA (RFC 9208) and refuses APPEND, COPY
	// and MOVE into a mailbox without room (quota.go).
	Quota *quota.Checker
}

// Server is the IMAP server: it accepts connections on any number of
// listeners and serves them with go-imap's imapserver.
type Server struct {
	opts     Options
	log      *slog.Logger
	store    *mailstore.Store
	dir      *directory.Directory
	quota    *quota.Checker
	watchers *watchers

	// Three go-imap servers differ only in their authentication policy:
	// strict (plain text, LOGINDISABLED until STARTTLS), plain (plain text
	// with authentication allowed) and secure (TLS, authentication
	// allowed, no STARTTLS).
	strict, plain, secure *chanListener
	servers               []*imapserver.Server

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	lns    map[net.Listener]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a server; call Serve for each listener.
func New(o Options) (*Server, error) {
	if o.Dir == nil || o.Store == nil {
		return nil, errors.New("imapd: Options.Dir and Options.Store are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.AppendLimit <= 0 {
		o.AppendLimit = o.Store.MaxItemSize
	}
	if o.AppendLimit <= 0 || o.AppendLimit > math.MaxUint32 {
		o.AppendLimit = math.MaxUint32
	}
	if o.AuthFailDelay == 0 {
		o.AuthFailDelay = DefaultAuthFailDelay
	}
	s := &Server{opts: o, log: o.Log, store: o.Store, dir: o.Dir, quota: o.Quota, lns: map[net.Listener]struct{}{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.watchers = newWatchers(s.ctx, o.Store, o.Log)
	s.strict, s.plain, s.secure = newChanListener(), newChanListener(), newChanListener()
	for _, inst := range []struct {
		ln       *chanListener
		tls      *tls.Config
		insecure bool
	}{{s.strict, o.TLSConfig, false}, {s.plain, o.TLSConfig, true}, {s.secure, nil, true}} {
		is := imapserver.New(&imapserver.Options{
			NewSession:   s.newSession,
			Caps:         capabilities,
			Logger:       logAdapter{o.Log},
			TLSConfig:    inst.tls, // advertises STARTTLS; filterConn performs it
			InsecureAuth: inst.insecure,
		})
		s.servers = append(s.servers, is)
		s.wg.Add(1)
		go func(ln *chanListener) {
			defer s.wg.Done()
			is.Serve(ln)
		}(inst.ln)
	}
	return s, nil
}

// capabilities are the extensions advertised besides those imapserver
// adds by itself (IDLE, UNSELECT, ENABLE, SASL-IR, APPENDLIMIT from the
// session) and those filterConn adds (ID). LITERAL+ is safe because
// filterConn skips a non-synchronizing literal go-imap refuses
// (literal.go). BINARY is not advertised: go-imap's FETCH writer drops the
// origin of a partial BINARY section.
var capabilities = imap.CapSet{
	imap.CapIMAP4rev1:        {},
	imap.CapIMAP4rev2:        {},
	imap.CapUIDPlus:          {},
	imap.CapMove:             {},
	imap.CapNamespace:        {},
	imap.CapSpecialUse:       {},
	imap.CapListExtended:     {},
	imap.CapListStatus:       {},
	imap.CapStatusSize:       {},
	imap.CapChildren:         {},
	imap.CapESearch:          {},
	imap.CapSearchRes:        {},
	imap.CapAppendLimit:      {},
	imap.CapCreateSpecialUse: {},
	imap.CapLiteralPlus:      {},
}

// Serve accepts connections on ln until it is closed or the server is
// closed. A listener yielding *tls.Conn (tls.NewListener) serves implicit
// TLS; others serve plain text with STARTTLS when Options.TLSConfig is set.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("imapd: accept: %w", err)
		}
		delay = 0
		var target *chanListener
		var fc *filterConn
		switch {
		case isTLS(c):
			target, fc = s.secure, newFilterConn(s, c, nil)
		case s.opts.AllowPlainAuth != nil && s.opts.AllowPlainAuth(c):
			target, fc = s.plain, newFilterConn(s, c, s.opts.TLSConfig)
		default:
			target, fc = s.strict, newFilterConn(s, c, s.opts.TLSConfig)
		}
		if !s.dispatch(target, fc) {
			c.Close()
			return nil
		}
	}
}

func isTLS(c net.Conn) bool {
	_, ok := c.(*tls.Conn)
	return ok
}

// dispatch hands a connection to a go-imap server instance; false when the
// server is closed.
func (s *Server) dispatch(l *chanListener, c net.Conn) bool { return l.offer(c) }

// Close stops the listeners, closes every connection (sessions release
// their selected folders) and waits for the accept loops.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for ln := range s.lns {
		ln.Close()
	}
	s.mu.Unlock()
	for _, l := range []*chanListener{s.strict, s.plain, s.secure} {
		l.serving() // imapserver's Serve must be registered before its Close
	}
	for _, is := range s.servers {
		is.Close()
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// appendLimit is the APPENDLIMIT value.
func (s *Server) appendLimit() uint32 { return uint32(s.opts.AppendLimit) }

// logAdapter sends go-imap's log lines to slog.
type logAdapter struct{ l *slog.Logger }

// Printf implements imapserver.Logger.
func (a logAdapter) Printf(format string, args ...any) {
	a.l.Warn("imap: " + fmt.Sprintf(format, args...))
}
