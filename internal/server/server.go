// Package server wires every part of tenantferry into one running server:
// database, identity, directory, admin core and HTTP API, and the mail
// listeners. `tenantferry serve`, the demo, the benchmark and the scenario
// tests all start servers through this package.
//
// Invariants:
//   - Listeners are bound before anything is derived from their addresses
//     (the public URL defaults to the bound HTTP address), so tests can bind
//     port 0.
//   - Shutdown stops accepting, drains in-flight requests and jobs, then
//     closes the database; a killed process loses nothing that was
//     acknowledged, because every acknowledgement follows a commit.
package server

import (
	"crypto/tls"

	"github.com/tenantferry/tenantferry/internal/certs"

	"github.com/tenantferry/tenantferry/internal/wellknown"

	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/dav"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/netguard"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// OperatorTokenFile is the name of the operator token file in the data dir.
const OperatorTokenFile = "operator.token"

// Server is a running tenantferry server.
type Server struct {
	Cfg       config.Config
	Log       *slog.Logger
	DB        *db.DB
	ServerKey []byte
	Dir       *directory.Directory
	Keys      *identity.Keys
	Issuer    *identity.Issuer
	Verifier  *identity.Verifier
	Admin     *admin.Core
	API       *api.Server
	Blobs     *blobstore.Store
	Store     *mailstore.Store
	// Quota measures mailboxes and tenants against their quotas.
	Quota *quota.Checker
	Jobs  *jobs.Runner
	// Delivery is the mail queue (routing, local delivery, forwarding).
	Delivery *delivery.Service
	// Source is the source side of moves, served as the replication API
	// (its Releaser is set by the delivery queue when it is wired).
	Source *source.Core
	// Migration runs batches on the target side.
	Migration *migration.Service
	Metrics   *Metrics
	// Guard is the operator's policy for the servers migration endpoints
	// and remote issuers may be at (--endpoint-allow, --endpoint-deny).
	Guard *netguard.Policy
	// MailAuth signs, seals and checks mail (DKIM, SPF, DMARC, ARC, SRS).
	MailAuth *mailauth.Service
	// Groupware is the calendar and contacts core behind CalDAV/CardDAV.
	Groupware *groupware.Service
	// Certs supplies the listeners' certificates (files or ACME), nil
	// without TLS; TLS is the listeners' configuration over it.
	Certs certs.Source
	TLS   *tls.Config
	// Limits slows down password and token guessing and bounds
	// connections per address and messages per account (--auth-failures,
	// --auth-lockout, --max-conns-per-ip, --messages-per-hour).
	Limits *ratelimit.Guard
	// Resolver answers DNS queries (--dns-resolver, or the system's).
	Resolver  *dnsx.Resolver
	PublicURL string
	// OperatorToken is set when this start created the operator token.
	OperatorToken string

	httpLn  net.Listener
	httpSrv *http.Server
	mux     *http.ServeMux
	dav     *dav.Handler // CalDAV/CardDAV, in front of the mux

	closers   []func(context.Context) error
	listeners []namedListener
	workers   *river.Workers
	starters  []func()
	periodic  []*river.PeriodicJob
	wg        sync.WaitGroup
}

// New opens the data directory and database and builds the services, binding
// the HTTP listener. It does not serve yet: call Start.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s = &Server{Cfg: cfg, Log: log}
	built := s // s is nil once a failure returns (nil, err): close what was opened
	defer func() {
		if err != nil {
			built.closeAll(context.Background())
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	if s.ServerKey, err = identity.LoadOrCreateServerKey(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	if !strings.HasPrefix(cfg.DB, "postgres") {
		if err := s.lockDataDir(); err != nil {
			return nil, err
		}
	}
	if s.DB, err = db.Open(ctx, db.Options{DSN: cfg.DB, DataDir: cfg.DataDir}); err != nil {
		return nil, err
	}
	d := s.DB // not s: a failing New returns a nil s, then closes what it opened
	s.closers = append(s.closers, func(context.Context) error { return d.Close() })

	if s.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
		return nil, fmt.Errorf("listen http %s: %w", cfg.HTTP, err)
	}
	s.PublicURL = cfg.PublicURLFor(s.httpLn.Addr().String())

	token, err := readMetricsToken(cfg.MetricsTokenFile)
	if err != nil {
		return nil, err
	}
	s.Metrics = newMetrics(token)
	s.setupLimits()
	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	s.Resolver = dnsx.New(cfg.DNSResolver)
	// Endpoint names resolve through --dns-resolver when set, else through
	// the system (which honours /etc/hosts).
	var guardDNS *dnsx.Resolver
	if cfg.DNSResolver != "" {
		guardDNS = s.Resolver
	}
	if s.Guard, err = netguard.New(cfg.EndpointAllow, cfg.EndpointDeny, guardDNS); err != nil {
		return nil, err
	}
	s.Guard.AllowSelf(s.PublicURL) // same-server moves reach this server's own URL
	s.Dir = directory.New(s.DB, cfg.ServiceDomain, s.ServerKey)
	s.Keys = identity.NewKeys(s.DB, s.ServerKey)
	s.Issuer = identity.NewIssuer(s.DB, s.Keys, s.PublicURL)
	s.Issuer.Log = log
	s.Issuer.Clients = s.Dir
	s.Issuer.Limits = s.Limits
	s.Issuer.TenantDomains = func(ctx context.Context, tenantID string) ([]string, error) {
		t, err := s.Dir.GetTenant(ctx, tenantID)
		if errors.Is(err, directory.ErrTenantNotFound) {
			return nil, nil // Issue checks no tenant (the token endpoint does): no domains to vouch for
		}
		if err != nil {
			return nil, err
		}
		return t.Domains, nil
	}
	// Remote issuers' keys are fetched from URLs tenant admins put in
	// consents: through the endpoint policy, like endpoints.
	s.Verifier = identity.NewVerifier(s.Guard.HTTPClient(nil, 15*time.Second), identity.VerifierOptions{Local: s.Keys, LocalPublicURL: s.PublicURL})
	s.Admin = admin.New(s.Dir, s.PublicURL, log)
	s.Admin.Guard, s.Admin.Resolver = s.Guard, s.Resolver
	s.API = api.New(s.Admin, log)
	s.API.Limits = s.Limits
	if err := s.setupStore(); err != nil {
		return nil, err
	}
	if err := s.ensureOperatorToken(ctx); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.routes()

	// Components register their job workers, then the job runner starts
	// with all of them; listeners are bound last.
	s.workers = river.NewWorkers()
	for _, setup := range []func(context.Context) error{s.setupDelivery, s.setupMigration, s.setupJobsRunner, s.setupIMAP, s.setupSMTP, s.setupNotify} {
		if err := setup(ctx); err != nil {
			return nil, err
		}
	}
	s.Admin.Host = admin.Host{Hostname: cfg.Hostname, IMAPPort: s.port("imap"), IMAPSPort: s.port("imaps"),
		SubmissionPort: s.port("submission"), TLS: s.TLS != nil}
	return s, nil
}

// ensureOperatorToken creates the operator token on first start.
func (s *Server) ensureOperatorToken(ctx context.Context) error {
	has, err := s.Dir.HasOperatorToken(ctx)
	if err != nil || has {
		return err
	}
	tok, err := s.Dir.CreateAdminToken(ctx, "", "operator")
	if err != nil {
		return err
	}
	path := filepath.Join(s.Cfg.DataDir, OperatorTokenFile)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	s.OperatorToken = tok
	return nil
}

func (s *Server) routes() {
	s.API.Routes(s.mux)
	s.Issuer.Routes(s.mux)
	s.setupWeb()
	s.setupDAV()
	(&wellknown.Handler{Host: func() admin.Host { return s.Admin.Host }, Hosted: func(ctx context.Context, d string) (bool, error) {
		t, err := s.Dir.TenantOfDomain(ctx, nil, d)
		return t != "", err
	}}).Routes(s.mux)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", s.Metrics.Handler())
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, code := "ok", http.StatusOK
	if err := s.DB.W.PingContext(ctx); err != nil {
		status, code = "database unavailable", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"Status\":%q}\n", status)
}

// HTTPAddr returns the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// Start serves every listener in the background.
func (s *Server) Start(ctx context.Context) error {
	s.httpSrv = &http.Server{Handler: s.Metrics.wrap(s.front()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	serve := func() error { return s.httpSrv.Serve(s.httpLn) }
	if s.TLS != nil {
		s.httpSrv.TLSConfig = s.TLS
		serve = func() error { return s.httpSrv.ServeTLS(s.httpLn, "", "") }
	} else if !IsLoopback(s.HTTPAddr()) && !s.Cfg.AllowPlain {
		s.Log.Warn("serving plain HTTP on a non-loopback address: tokens and secrets cross the network unencrypted",
			"http", s.HTTPAddr(), "fix", "configure --tls-cert/--tls-key, bind --http to 127.0.0.1 behind a TLS proxy, or acknowledge with --allow-plaintext")
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Log.Error("http server stopped", "err", err)
		}
	}()
	if err := s.startJobs(ctx); err != nil {
		return err
	}
	for _, start := range s.starters {
		start()
	}
	s.Log.Info("tenantferry serving", "http", s.HTTPAddr(), "public_url", s.PublicURL, "data", s.Cfg.DataDir, "db", string(s.DB.Dialect))
	return nil
}

// Shutdown stops the server gracefully.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, l := range s.listeners {
		l.ln.Close()
	}
	if s.Migration != nil && s.Migration.HTTP != nil {
		// The migration client's pool may hold connections to this very
		// server (same-server moves) that never carried a request: the
		// HTTP server counts those as active for 5 s before it gives up
		// waiting, so close them first.
		s.Migration.HTTP.CloseIdleConnections()
	}
	if s.httpSrv != nil {
		s.httpSrv.Shutdown(ctx)
	} else if s.httpLn != nil {
		s.httpLn.Close()
	}
	err := s.closeAll(ctx)
	s.wg.Wait()
	return err
}

// closeAll runs the closers in reverse order.
func (s *Server) closeAll(ctx context.Context) error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	if s.httpLn != nil && s.httpSrv == nil {
		s.httpLn.Close()
	}
	return first
}

// IsLoopback reports whether a listener address is on a loopback interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ListenerSummary describes the mail listeners for the start-up line.
func (s *Server) ListenerSummary() string {
	var b strings.Builder
	for _, l := range s.listeners {
		fmt.Fprintf(&b, ", %s %s", l.name, l.ln.Addr())
	}
	return b.String()
}

// namedListener is a bound mail listener.
type namedListener struct {
	name string
	ln   net.Listener
}
