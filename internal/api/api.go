// Package api is the HTTP JSON adapter of the admin core: /api/v1/...
//
// Invariants:
//   - Handlers only translate: decode the request, call one admin.Core
//     method with the authenticated principal, encode the result. No rule
//     lives here.
//   - Every error reply is an RFC 9457 problem (httpx.Problem,
//     application/problem+json) with the status from errs.HTTPStatus; bad
//     input never yields a 500. Internal causes are logged, never sent.
//   - Request bodies are bounded (MaxBody) and strictly decoded: unknown
//     fields and trailing data are errors.
//   - Field names are PascalCase as Exchange prints them.
package api

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"log/slog"
	"net/http"
	"slices"
	"sync"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// DefaultMaxBody bounds JSON request bodies.
const DefaultMaxBody = 1 << 20

// Server serves the admin API.
type Server struct {
	Core    *admin.Core
	Log     *slog.Logger
	MaxBody int64
	// Limits, when set, slows down token guessing (per client address):
	// the admin API's and the web admin's sign-in.
	Limits *ratelimit.Guard

	// routes are the patterns Routes registered, in order: the route
	// table the OpenAPI document describes.
	routes  []string
	spec    []byte
	specErr error
	once    sync.Once
}

// New returns an API server over the admin core.
func New(core *admin.Core, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{Core: core, Log: log, MaxBody: DefaultMaxBody}
}

// handlerFunc is an authenticated API handler returning a value to encode.
type handlerFunc func(r *http.Request, p *admin.Principal) (any, error)

// created marks a result that should be sent with 201 Created.
type created struct{ v any }

// paged is one page of a list: the items are the reply's body (a JSON
// array, as an unpaginated list was), the cursor of the next page goes in
// the NextCursorHeader and a Link rel="next" header (none after the last
// page).
type paged struct {
	items any
	next  string
}

// NextCursorHeader names the reply header that carries the cursor of a
// list's next page.
const NextCursorHeader = "X-Next-Cursor"

// pageOf reads the limit and cursor query parameters of a list request.
func pageOf(r *http.Request) (directory.Page, error) {
	q := r.URL.Query()
	return directory.ParsePage(q.Get("limit"), q.Get("cursor"))
}

// setNext announces the next page of a list reply.
func setNext(w http.ResponseWriter, r *http.Request, next string) {
	if next == "" {
		return
	}
	q := r.URL.Query()
	q.Set("cursor", next)
	w.Header().Set(NextCursorHeader, next)
	w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
}

// noContent is returned by handlers of deletions.
var noContent = &struct{}{}

// wrap authenticates the request and encodes the handler's result.
func (s *Server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := httpx.Bearer(r)
		if err := s.Limits.Allow("api", r.RemoteAddr, ""); err != nil {
			s.writeError(w, r, err)
			return
		}
		p, err := s.Core.Authenticate(r.Context(), tok)
		if err != nil {
			if e := errs.As(err); tok != "" && e != nil && e.Kind == errs.Unauthorized {
				s.Limits.Failed("api", r.RemoteAddr, "")
			}
			s.writeError(w, r, err)
			return
		}
		v, err := h(r, p)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		status := http.StatusOK
		if c, ok := v.(created); ok {
			status, v = http.StatusCreated, c.v
		}
		if pg, ok := v.(paged); ok {
			setNext(w, r, pg.next)
			v = pg.items
		}
		if v == noContent {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		httpx.WriteJSON(w, status, v)
	}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, s.Log, r, err)
}

// decode strictly decodes a bounded JSON body into v.
func (s *Server) decode(r *http.Request, v any) error {
	return httpx.DecodeJSON(r, s.MaxBody, v)
}

// Routes registers the admin API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	h := func(pattern string, f handlerFunc) { s.handle(mux, pattern, s.wrap(f)) }
	h("GET /api/v1/whoami", s.whoami)
	h("POST /api/v1/tenants", s.createTenant)
	h("GET /api/v1/tenants", s.listTenants)
	h("GET /api/v1/tenants/{t}", s.showTenant)
	h("DELETE /api/v1/tenants/{t}", s.deleteTenant)
	h("PATCH /api/v1/tenants/{t}", s.setTenant)
	h("POST /api/v1/tenants/{t}/admin-tokens", s.adminToken)
	h("GET /api/v1/tenants/{t}/admin-tokens", s.listAdminTokens)
	h("DELETE /api/v1/tenants/{t}/admin-tokens/{id}", s.revokeAdminToken)
	h("GET /api/v1/admin-tokens", s.listOperatorTokens)
	h("POST /api/v1/admin-tokens", s.issueOperatorToken)
	h("DELETE /api/v1/admin-tokens/{id}", s.revokeOperatorToken)
	h("GET /api/v1/tenants/{t}/domains", s.listDomains)
	h("POST /api/v1/tenants/{t}/domains", s.addDomain)
	h("DELETE /api/v1/tenants/{t}/domains/{d}", s.removeDomain)
	h("GET /api/v1/tenants/{t}/domains/{d}", s.showDomain)
	h("POST /api/v1/tenants/{t}/domains/{d}/verify", s.verifyDomain)
	h("GET /api/v1/tenants/{t}/domains/{d}/dns", s.domainDNS)
	h("GET /api/v1/tenants/{t}/domains/{d}/check", s.checkDomainDNS)
	h("POST /api/v1/tenants/{t}/domains/{d}/approve", s.approveDomain)
	s.dkimRoutes(h)
	s.recipientRoutes(h)
	s.permissionRoutes(h)
	s.trustRoutes(h)
	s.migrationRoutes(h)
	s.storageRoutes(h)
	s.handle(mux, "GET "+OpenAPIPath, http.HandlerFunc(s.openAPI))
	s.handle(mux, "GET "+migration.PasswordPath, http.HandlerFunc(s.passwordSet))
	s.handle(mux, "POST "+migration.PasswordPath, http.HandlerFunc(s.passwordSet))
	mux.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, httpx.ErrNoSuchRoute.Newf("no API route %s %s", r.Method, r.URL.Path).
			WithHint("the routes are in the OpenAPI document at %s (and docs/api.md)", OpenAPIPath))
	}))
}

// handle registers a route on mux and records it in the route table.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.Handler) {
	s.routes = append(s.routes, pattern)
	mux.Handle(pattern, h)
}

// RouteTable returns the "METHOD /path" patterns Routes registered, in
// order (the catch-all that answers NoSuchRoute aside).
func (s *Server) RouteTable() []string { return slices.Clone(s.routes) }

func (s *Server) whoami(r *http.Request, p *admin.Principal) (any, error) {
	v := &apitypes.Whoami{Operator: p.Operator, TokenName: p.Name}
	if !p.Operator {
		t, err := s.Core.Tenant(r.Context(), p, p.TenantID)
		if err != nil {
			return nil, err
		}
		v.Tenant = tenantView(t, "")
	}
	return v, nil
}
