// Package errs defines the one error type that crosses package boundaries in
// tenantferry: an error with a stable code, a message that names the object,
// and a hint that says how to fix it.
//
// Invariants:
//   - Code is stable: scripts and tests match on it; never rename a code.
//   - Message is safe to show to the caller (it never contains secrets); the
//     wrapped Cause carries internal detail for logs only.
//   - Kind decides the protocol mapping (HTTP status, SMTP/IMAP reply class) in
//     exactly one place per protocol; handlers never invent status codes.
//
// The shape follows maddy's SMTP error type: public text versus logged detail,
// temporary versus permanent.
package errs

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies an error for the protocol adapters.
type Kind int

// Kinds of errors. Each maps to one HTTP status in HTTPStatus.
const (
	Internal         Kind = iota // a bug or an unexpected failure (HTTP 500)
	Invalid                      // bad input (HTTP 400)
	Unauthorized                 // missing or bad credentials (HTTP 401)
	Forbidden                    // authenticated, but not allowed (HTTP 403)
	NotFound                     // no such object, or not visible to the caller (HTTP 404)
	Conflict                     // state does not allow it: duplicates, in use (HTTP 409)
	TooLarge                     // the request or item exceeds a limit (HTTP 413)
	Unavailable                  // a dependency is down; retry later (HTTP 503)
	RateLimited                  // too many attempts or messages; retry later (HTTP 429)
	UnsupportedMedia             // a request body of a media type the endpoint does not take (HTTP 415)
)

// Error is a coded error. Create it with New, or with one of the kind helpers.
type Error struct {
	Code    string // stable machine code, e.g. "NotAcceptedDomain"
	Kind    Kind   // how protocols report it
	Message string // human message naming the object
	Hint    string // how to fix it; may be empty
	Object  string // the object the error is about, e.g. "user01@contoso.tenantferry.test"
	Cause   error  // internal detail for logs; never shown to API callers
}

// Error implements error. It prints "Code: message (hint)".
func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Temporary reports whether retrying later may succeed.
func (e *Error) Temporary() bool {
	return e.Kind == Unavailable || e.Kind == Internal || e.Kind == RateLimited
}

// WithHint returns a copy of e with the hint set.
func (e *Error) WithHint(format string, args ...any) *Error {
	c := *e
	c.Hint = fmt.Sprintf(format, args...)
	return &c
}

// WithObject returns a copy of e naming the object it is about.
func (e *Error) WithObject(obj string) *Error {
	c := *e
	c.Object = obj
	return &c
}

// WithCause returns a copy of e wrapping an internal cause.
func (e *Error) WithCause(err error) *Error {
	c := *e
	c.Cause = err
	return &c
}

// New returns a coded error of the given kind.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Code: code, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalidf returns an Invalid error with the given code.
func Invalidf(code, format string, args ...any) *Error {
	return New(Invalid, code, format, args...)
}

// NotFoundf returns a NotFound error with the given code.
func NotFoundf(code, format string, args ...any) *Error {
	return New(NotFound, code, format, args...)
}

// Conflictf returns a Conflict error with the given code.
func Conflictf(code, format string, args ...any) *Error {
	return New(Conflict, code, format, args...)
}

// Forbiddenf returns a Forbidden error with the given code.
func Forbiddenf(code, format string, args ...any) *Error {
	return New(Forbidden, code, format, args...)
}

// Unauthorizedf returns an Unauthorized error with the given code.
func Unauthorizedf(code, format string, args ...any) *Error {
	return New(Unauthorized, code, format, args...)
}

// Internalf wraps an unexpected failure. The cause is kept for logs; the
// caller sees only a generic message.
func Internalf(cause error, format string, args ...any) *Error {
	return &Error{Code: "InternalError", Kind: Internal, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Sentinel declares an error code owned by a package, to be exported as a
// variable (var ErrMailboxNotFound = errs.Sentinel(errs.NotFound,
// "MailboxNotFound")). Callers match it with errors.Is(err, pkg.ErrX) —
// never by comparing code strings — and create instances with Newf.
func Sentinel(kind Kind, code string) *Error { return &Error{Code: code, Kind: kind} }

// Newf returns a new error with e's code and kind and the given message: the
// way to raise a sentinel declared with Sentinel.
func (e *Error) Newf(format string, args ...any) *Error {
	return &Error{Code: e.Code, Kind: e.Kind, Message: fmt.Sprintf(format, args...)}
}

// Is makes errors.Is(err, sentinel) true for every *Error that carries the
// sentinel's code, whatever its message, hint, object or cause.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns the code of err, "InternalError" for an uncoded error, and ""
// for nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	if e := As(err); e != nil {
		return e.Code
	}
	return "InternalError"
}

// Is reports whether err carries the given code.
func Is(err error, code string) bool { return err != nil && CodeOf(err) == code }

// HTTPStatus maps an error to its HTTP status code.
func HTTPStatus(err error) int {
	e := As(err)
	if e == nil {
		return http.StatusInternalServerError
	}
	switch e.Kind {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unavailable:
		return http.StatusServiceUnavailable
	case RateLimited:
		return http.StatusTooManyRequests
	case UnsupportedMedia:
		return http.StatusUnsupportedMediaType
	}
	return http.StatusInternalServerError
}

// FromHTTP rebuilds a coded error from an API reply (used by the CLI and by
// the replication client).
func FromHTTP(status int, code, message, hint string) *Error {
	k := Internal
	switch status {
	case http.StatusBadRequest:
		k = Invalid
	case http.StatusUnauthorized:
		k = Unauthorized
	case http.StatusForbidden:
		k = Forbidden
	case http.StatusNotFound:
		k = NotFound
	case http.StatusTooManyRequests:
		k = RateLimited
	case http.StatusConflict:
		k = Conflict
	case http.StatusRequestEntityTooLarge:
		k = TooLarge
	case http.StatusUnsupportedMediaType:
		k = UnsupportedMedia
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		k = Unavailable
	}
	if code == "" {
		code = http.StatusText(status)
	}
	return &Error{Code: code, Kind: k, Message: message, Hint: hint}
}
