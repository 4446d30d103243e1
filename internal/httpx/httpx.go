// Package httpx holds the JSON conventions every HTTP adapter of
// tenantferry shares (admin API, replication API, identity): strict bounded
// request decoding and coded error replies.
//
// Invariants: an error reply is always {"Code","Message","Hint","Object"}
// with the status from errs.HTTPStatus; internal causes are logged, never
// sent; a malformed or oversized body is a 4xx with a stable code.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// ErrorBody is the JSON form of an error reply.
type ErrorBody struct {
	Code    string
	Message string
	Hint    string `json:",omitempty"`
	Object  string `json:",omitempty"`
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
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		// RFC 6750 section 3: the API takes bearer tokens.
		w.Header().Set("WWW-Authenticate", `Bearer realm="tenantferry"`)
	}
	if status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "60")
	}
	WriteJSON(w, status, ErrorBody{Code: e.Code, Message: e.Message, Hint: e.Hint, Object: e.Object})
}

// WriteJSON writes v as a compact JSON reply with the status. A reply is
// never sniffed, and not cached unless the handler set its own
// Cache-Control first.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
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
