package server

import (
	"crypto/subtle"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tenantferry/tenantferry/internal/buildinfo"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/dav"
	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// Metrics is the server's Prometheus registry and its collectors.
//
// Invariants: every label has a bounded set of values — HTTP requests
// are labelled with the ServeMux pattern they matched (never the raw
// path, which carries tenant names and addresses) and a known method,
// mail connections with the listener's name; nothing is labelled per
// tenant or per user.
type Metrics struct {
	Registry     *prometheus.Registry
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	conns        map[string]*connMetrics // by protocol: imap, smtp
	// token, when set, is the bearer token GET /metrics requires
	// (--metrics-token-file).
	token []byte
}

// routeOther is the route label of a request no ServeMux pattern matched.
const routeOther = "other"

// httpMethods are the methods counted under their own name; any other is
// counted as "other" (a client chooses the method: it must not grow the
// label set).
var httpMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodOptions: true,
	"PROPFIND": true, "PROPPATCH": true, "REPORT": true, "MKCOL": true, "MKCALENDAR": true, "MOVE": true, "COPY": true,
}

func newMetrics(token []byte) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), token: token}
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tenantferry_http_requests_total",
		Help: "HTTP requests by method, route (the matched pattern, \"other\" when none matched) and status code."},
		[]string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tenantferry_http_request_duration_seconds",
		Help:    "HTTP request duration by method and route, until the handler returned.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8)}, []string{"method", "route"})
	b := buildinfo.Read()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tenantferry_build_info",
		Help: "Always 1; the labels describe the running binary (module version, VCS revision, Go version)."},
		[]string{"version", "revision", "goversion"})
	rev := b.Revision
	if rev == "" {
		rev = "unknown"
	} else if b.Modified {
		rev += "-modified"
	}
	build.WithLabelValues(b.Version, rev, b.GoVersion).Set(1)
	m.conns = map[string]*connMetrics{"imap": newConnMetrics("imap", "IMAP"), "smtp": newConnMetrics("smtp", "SMTP")}
	m.Registry.MustRegister(m.httpRequests, m.httpDuration, build)
	for _, c := range m.conns {
		m.Registry.MustRegister(c.opened, c.open)
	}
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tenantferry_password_hashes_in_flight",
		Help: "argon2id password hashes and verifications running now (at most tenantferry_password_hash_limit)."},
		func() float64 { n, _ := identity.PasswordHashStats(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tenantferry_password_hash_limit",
			Help: "How many argon2id password hashes may run at once (the CPUs, at least 2)."},
			func() float64 { return float64(identity.PasswordHashLimit()) }))
	return m
}

// readMetricsToken reads the bearer token of --metrics-token-file (nil
// without one).
func readMetricsToken(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, config.ErrInvalidSetting.Newf("--metrics-token-file %s cannot be read: %v", path, err).
			WithHint("write the token Prometheus sends (its bearer_token_file) to a file only the server's user can read")
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" {
		return nil, config.ErrInvalidSetting.Newf("--metrics-token-file %s is empty", path).
			WithHint("write a random token to it, e.g. openssl rand -hex 32 > %s", path)
	}
	return []byte(tok), nil
}

// Handler serves /metrics: open to everyone, or, with a token
// (--metrics-token-file), only to requests with Authorization: Bearer
// <token>; others get 401 with a WWW-Authenticate challenge.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{})
	if m.token == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(httpx.Bearer(r)), m.token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tenantferry metrics"`)
			http.Error(w, "401 Unauthorized: /metrics needs Authorization: Bearer <the token of --metrics-token-file>", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int) {
	if w.code == 0 {
		w.code = c
	}
	w.ResponseWriter.WriteHeader(c)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap counts requests and their durations by method and route.
func (m *Metrics) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		route, method := routeOf(r), r.Method
		if !httpMethods[method] {
			method = "other"
		}
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		m.httpRequests.WithLabelValues(method, route, strconv.Itoa(sw.code)).Inc()
		m.httpDuration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
	})
}

// routeOf is the route label of a served request: the ServeMux pattern
// it matched without its method ("/api/v1/tenants/{t}"), the DAV prefix
// for the CalDAV/CardDAV tree (served in front of the mux), or "other".
func routeOf(r *http.Request) string {
	p := r.Pattern
	if p == "" {
		if dav.Owns(r.URL.Path) {
			return dav.Prefix
		}
		return routeOther
	}
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		p = strings.TrimLeft(p[i:], " \t") // "GET /x" → "/x"
	}
	return p
}
