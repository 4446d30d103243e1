// Package httpx holds the JSON conventions every HTTP adapter of
// tenantferry shares (admin API, replication API, identity): strict bounded
// request decoding and coded error replies.
//
// Invariants: an error reply is always an RFC 9457 problem details object
// (Problem, media type application/problem+json) whose status is
// errs.HTTPStatus of the error and whose type is ProblemTypeBase + its
// stable Code; internal causes are logged, never sent; a malformed or
// oversized body is a 4xx with a stable code, a body that is not JSON a 415.
package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Error codes of request decoding.
var (
	// ErrUnsupportedMediaType: a JSON endpoint got a body of another
	// Content-Type (415).
	ErrUnsupportedMediaType = errs.Sentinel(errs.UnsupportedMedia, "UnsupportedMediaType")
	// ErrInvalidJSON: the body is empty, not JSON, of a wrong field type
	// or followed by more data.
	ErrInvalidJSON = errs.Sentinel(errs.Invalid, "InvalidJson")
	// ErrUnknownField: the body names a field the request does not have.
	ErrUnknownField = errs.Sentinel(errs.Invalid, "UnknownField")
	// ErrRequestTooLarge: the body exceeds the endpoint's limit (413).
	ErrRequestTooLarge = errs.Sentinel(errs.TooLarge, "RequestTooLarge")
	// ErrNoSuchRoute: no route of the API has that method and path (404).
	ErrNoSuchRoute = errs.Sentinel(errs.NotFound, "NoSuchRoute")
)

// JSONMediaType is the media type of request and reply bodies.
const JSONMediaType = "application/json"

// ProblemMediaType is the media type of error replies (RFC 9457).
const ProblemMediaType = "application/problem+json"

// ProblemTypeBase is the base of every problem type URI: an error reply's
// "type" is ProblemTypeBase followed by its Code, e.g.
// https://tenantferry.dev/problems/TenantNotFound. The URI identifies the
// problem type; clients match on it (or on Code) and need not dereference it.
const ProblemTypeBase = "https://tenantferry.dev/problems/"

// Problem is the body of every error reply: an RFC 9457 problem details
// object with tenantferry's extension members Code, Hint and Object (kept
// PascalCase as every other field of the API).
type Problem struct {
	// Type identifies the problem type: ProblemTypeBase + Code.
	Type string `json:"type"`
	// Title is a short summary of the problem type, the same for every
	// occurrence of the code (derived from it: "Tenant not found").
	Title string `json:"title"`
	// Status is the HTTP status code of the reply.
	Status int `json:"status"`
	// Detail is the message of this occurrence, naming the object.
	Detail string `json:"detail"`
	// Instance is the request path the problem occurred at.
	Instance string `json:"instance,omitempty"`
	// Code is the stable machine code, e.g. TenantNotFound.
	Code string
	// Hint says how to fix it (may be absent).
	Hint string `json:",omitempty"`
	// Object names the object the problem is about (may be absent).
	Object string `json:",omitempty"`
}

// ProblemType returns the type URI of an error code.
func ProblemType(code string) string { return ProblemTypeBase + code }

// ProblemTitle returns the title of an error code: its words, the first
// capitalised ("TenantNotFound" is "Tenant not found"; acronyms stay).
func ProblemTitle(code string) string {
	var words []string
	rs := []rune(code)
	start := 0
	for i := 1; i <= len(rs); i++ {
		if i < len(rs) {
			prev, cur := rs[i-1], rs[i]
			next := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if !(unicode.IsUpper(cur) && (unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && next)) {
				continue
			}
		}
		words = append(words, string(rs[start:i]))
		start = i
	}
	for i, w := range words {
		if i > 0 && !isAcronym(w) {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}

func isAcronym(w string) bool {
	return len(w) > 1 && strings.ToUpper(w) == w
}

// NewProblem returns the problem details of a coded error replied to r
// with the status.
func NewProblem(r *http.Request, status int, e *errs.Error) Problem {
	return Problem{Type: ProblemType(e.Code), Title: ProblemTitle(e.Code), Status: status, Detail: e.Message,
		Instance: r.URL.EscapedPath(), Code: e.Code, Hint: e.Hint, Object: e.Object}
}

// WriteError writes err as an application/problem+json reply (shared by the
// HTTP adapters: admin API, replication API).
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
	h := w.Header()
	if status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
		// RFC 6750 section 3: the API takes bearer tokens.
		h.Set("WWW-Authenticate", `Bearer realm="tenantferry"`)
	}
	if status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "60")
	}
	if errors.Is(e, ErrUnsupportedMediaType) {
		// RFC 5789 section 3.1 (Accept-Patch) and the Linked Data
		// Platform's Accept-Post: what the resource takes instead.
		switch r.Method {
		case http.MethodPatch:
			h.Set("Accept-Patch", JSONMediaType)
		case http.MethodPost:
			h.Set("Accept-Post", JSONMediaType)
		}
	}
	writeBody(w, status, ProblemMediaType, NewProblem(r, status, e))
}

// WriteJSON writes v as a compact JSON reply with the status. A reply is
// never sniffed, and not cached unless the handler set its own
// Cache-Control first.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, JSONMediaType+"; charset=utf-8", v)
}

// writeBody writes v as JSON of the media type.
func writeBody(w http.ResponseWriter, status int, mediaType string, v any) {
	h := w.Header()
	h.Set("Content-Type", mediaType)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// Bearer returns the token of an "Authorization: Bearer TOKEN" header, or
// "" when the request carries none.
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// DecodeJSON strictly decodes a JSON request body of at most max bytes.
// The body must be application/json (any parameters, e.g. charset); a
// body without a Content-Type is taken as JSON too (a hand-written request
// need not say it), any other type is ErrUnsupportedMediaType.
func DecodeJSON(r *http.Request, max int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != JSONMediaType {
			return ErrUnsupportedMediaType.Newf("request body must be %s, not %q", JSONMediaType, ct).
				WithHint("send JSON with the header Content-Type: application/json (curl: --json BODY, or -H 'Content-Type: application/json' with -d: plain -d sends a form)")
		}
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
			return ErrRequestTooLarge.Newf("request body exceeds %d bytes", max)
		case errors.Is(err, io.EOF):
			return ErrInvalidJSON.Newf("request body is empty").WithHint("send a JSON object")
		case errors.As(err, &se):
			return ErrInvalidJSON.Newf("request body is not valid JSON at byte %d: %v", se.Offset, se)
		case errors.As(err, &te):
			return ErrInvalidJSON.Newf("field %s must be of type %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return ErrUnknownField.Newf("request has an %s", strings.TrimPrefix(err.Error(), "json: ")).
				WithHint("field names are PascalCase, e.g. PrimarySmtpAddress")
		}
		return ErrInvalidJSON.Newf("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return ErrInvalidJSON.Newf("request body has data after the JSON object")
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ErrRequestTooLarge.Newf("request body exceeds %d bytes", max)
		}
		return ErrInvalidJSON.Newf("request body has data after the JSON object")
	}
	return nil
}
