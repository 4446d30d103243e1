// Package api is the HTTP JSON adapter of the admin core: /api/v1/...
//
// Invariants:
//   - Handlers only translate: decode the request, call one admin.Core
//     method with the authenticated principal, encode the result. No rule
//     lives here.
//   - Every error reply is {"Code","Message","Hint","Object"} with the status
//     from errs.HTTPStatus; bad input never yields a 500. Internal causes are
//     logged, never sent.
//   - Request bodies are bounded (MaxBody) and strictly decoded: unknown
//     fields and trailing data are errors.
//   - Field names are PascalCase as Exchange prints them.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// DefaultMaxBody bounds JSON request bodies.
const DefaultMaxBody = 1 << 20

// Server serves the admin API.
type Server struct {
	Core    *admin.Core
	Log     *slog.Logger
	MaxBody int64
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

// noContent is returned by handlers of deletions.
var noContent = &struct{}{}

// wrap authenticates the request and encodes the handler's result.
func (s *Server) wrap(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		p, err := s.Core.Authenticate(r.Context(), tok)
		if err != nil {
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
		if v == noContent {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeJSON(w, status, v)
	}
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ErrorBody is the JSON form of an error reply.
type ErrorBody struct {
	Code    string
	Message string
	Hint    string `json:",omitempty"`
	Object  string `json:",omitempty"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, s.Log, r, err)
}

// WriteError writes err as a JSON error reply (shared by other HTTP
// adapters such as the replication API).
func WriteError(w http.ResponseWriter, log *slog.Logger, r *http.Request, err error) {
	status := errs.HTTPStatus(err)
	e := errs.As(err)
	if e == nil || e.Kind == errs.Internal {
		if log != nil {
			log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		if e == nil {
			e = errs.Internalf(err, "internal error")
		}
		e = &errs.Error{Code: e.Code, Kind: e.Kind, Message: e.Message + " (see the server log)"}
	}
	writeJSON(w, status, ErrorBody{Code: e.Code, Message: e.Message, Hint: e.Hint, Object: e.Object})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// decode strictly decodes a bounded JSON body into v.
func (s *Server) decode(r *http.Request, v any) error {
	return DecodeJSON(r, s.MaxBody, v)
}

// DecodeJSON strictly decodes a JSON request body of at most max bytes.
func DecodeJSON(r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errs.Invalidf("UnsupportedMediaType", "request body must be application/json, not %q", ct)
	}
	body := http.MaxBytesReader(nil, r.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &mbe):
			return &errs.Error{Code: "RequestTooLarge", Kind: errs.TooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", max)}
		case errors.Is(err, io.EOF):
			return errs.Invalidf("InvalidJson", "request body is empty").WithHint("send a JSON object")
		case errors.As(err, &se):
			return errs.Invalidf("InvalidJson", "request body is not valid JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return errs.Invalidf("InvalidJson", "field %s must be of type %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return errs.Invalidf("UnknownField", "request has an %s", strings.TrimPrefix(err.Error(), "json: ")).
				WithHint("field names are PascalCase, e.g. PrimarySmtpAddress")
		}
		return errs.Invalidf("InvalidJson", "request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errs.Invalidf("InvalidJson", "request body has data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &errs.Error{Code: "RequestTooLarge", Kind: errs.TooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", max)}
		}
		return errs.Invalidf("InvalidJson", "request body has data after the JSON object")
	}
	return nil
}

// Routes registers the admin API on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	h := func(pattern string, f handlerFunc) { mux.Handle(pattern, s.wrap(f)) }
	h("GET /api/v1/whoami", s.whoami)
	h("POST /api/v1/tenants", s.createTenant)
	h("GET /api/v1/tenants", s.listTenants)
	h("GET /api/v1/tenants/{t}", s.showTenant)
	h("DELETE /api/v1/tenants/{t}", s.deleteTenant)
	h("POST /api/v1/tenants/{t}/admin-tokens", s.adminToken)
	h("GET /api/v1/tenants/{t}/domains", s.listDomains)
	h("POST /api/v1/tenants/{t}/domains", s.addDomain)
	h("DELETE /api/v1/tenants/{t}/domains/{d}", s.removeDomain)
	s.recipientRoutes(h)
	s.trustRoutes(h)
	mux.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, errs.NotFoundf("NoSuchRoute", "no API route %s %s", r.Method, r.URL.Path).
			WithHint("see docs/api.md for the routes"))
	}))
}

func (s *Server) whoami(r *http.Request, p *admin.Principal) (any, error) {
	v := map[string]any{"Operator": p.Operator, "TokenName": p.Name}
	if !p.Operator {
		t, err := s.Core.Tenant(r.Context(), p, p.TenantID)
		if err != nil {
			return nil, err
		}
		v["Tenant"] = tenantView(t, "")
	}
	return v, nil
}
