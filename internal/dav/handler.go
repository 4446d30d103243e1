// Package dav serves CalDAV (RFC 4791) and CardDAV (RFC 6352) with
// WebDAV sync (RFC 6578) and extended MKCOL (RFC 5689) on the HTTP
// listener. It is a protocol adapter: it translates HTTP and XML to calls
// of the groupware core and never touches the database.
//
// URLs: /.well-known/caldav and /.well-known/carddav redirect to /dav/;
// /dav/principals/{address}/ is a user's principal,
// /dav/calendars/{address}/{name}/ a calendar or task list and
// /dav/addressbooks/{address}/{name}/ an address book, each holding its
// objects by name.
//
// Invariants:
//   - Every request but OPTIONS and the well-known redirects needs HTTP
//     Basic credentials of a mailbox; plain HTTP is refused unless the
//     connection is on loopback or plain text is explicitly allowed (as
//     for IMAP).
//   - A URL reaches only accounts the groupware core opens for the user;
//     anything else answers 404, the same as a mailbox that does not
//     exist. Path segments are decoded one by one: an encoded slash, ".",
//     ".." or an empty segment is refused, never resolved.
//   - Object bytes are served exactly as stored: GET writes them verbatim,
//     reports carry them with CR escaped as &#13; so XML end-of-line
//     handling cannot change them.
//   - Refusals carry a DAV precondition element where RFC 4791/6352/6578
//     define one, plus the core's error code, message and hint.
//
// go-webdav's caldav and carddav servers are not used: they decode and
// re-encode every object (not byte-exact), have no sync-collection, no
// PROPPATCH, no free-busy and a fixed URL layout. The core uses go-ical,
// go-vcard and rrule-go, which come with go-webdav.
package dav

import (
	"github.com/tenantferry/tenantferry/internal/ratelimit"

	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/groupware"
)

// ErrTLSRequired: credentials over plain HTTP on a non-loopback
// connection without --allow-plaintext.
var ErrTLSRequired = errs.Sentinel(errs.Forbidden, "TLSRequired")

// Handler serves the DAV tree and the well-known redirects.
type Handler struct {
	GW  *groupware.Service
	Log *slog.Logger
	// AllowPlain reports whether a plain-HTTP request may authenticate
	// (loopback, or --allow-plaintext). TLS requests always may.
	AllowPlain func(r *http.Request) bool
	// AuthFailDelay delays the answer to wrong credentials (not to a
	// request without any, which clients send first); 0 means
	// DefaultAuthFailDelay, a negative value no delay.
	AuthFailDelay time.Duration
	// RemoteFreeBusy answers a free-busy-query on a calendar URL of an
	// address that is no mailbox here, for the asking user's tenant: a
	// MailUser whose mailbox a trusted partner still holds during a
	// migration (free/busy coexistence). Nil disables it; any error but a
	// temporary one answers 404, as for an unknown address.
	RemoteFreeBusy func(ctx context.Context, tenantID, address string, start, end time.Time) ([]byte, error)
	// Limits, when set, slows down password guessing (per client address
	// and per account).
	Limits *ratelimit.Guard
}

// DefaultAuthFailDelay is how long wrong credentials wait for their 401,
// as IMAP waits for a failed LOGIN.
const DefaultAuthFailDelay = time.Second

// Owns reports whether a request path belongs to the DAV tree (the
// caller routes those requests here: a ServeMux prefix pattern for /dav/
// would clash with the identity routes /{tenant}/...).
func Owns(path string) bool {
	return path == "/.well-known/caldav" || path == "/.well-known/carddav" || path == strings.TrimSuffix(Prefix, "/") ||
		strings.HasPrefix(path, Prefix)
}

// allowHeader lists the methods the tree supports.
const allowHeader = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCOL, MKCALENDAR"

// request is one authenticated request being served.
type request struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	user *groupware.User
	t    *target
	acc  *groupware.Account // set when t names an address
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/.well-known/caldav" || r.URL.Path == "/.well-known/carddav" {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	w.Header().Set("DAV", "1, 3, extended-mkcol, calendar-access, addressbook")
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", allowHeader)
		w.WriteHeader(http.StatusOK)
		return
	}
	q := &request{h: h, w: w, r: r, ctx: r.Context()}
	if err := q.serve(); err != nil {
		q.fail(err)
	}
}

func (q *request) serve() error {
	if q.r.TLS == nil && q.h.AllowPlain != nil && !q.h.AllowPlain(q.r) {
		return ErrTLSRequired.Newf("CalDAV/CardDAV credentials are not accepted over plain HTTP").
			WithHint("connect with https://, or ask the administrator to serve TLS")
	}
	username, password, ok := q.r.BasicAuth()
	if !ok {
		return groupware.ErrAuthFailed.Newf("authentication required").WithHint("log in with the mailbox's e-mail address and password")
	}
	if err := q.h.Limits.Allow("dav", q.r.RemoteAddr, username); err != nil {
		return err
	}
	u, err := q.h.GW.Authenticate(q.ctx, username, password)
	if err != nil {
		q.h.log().Info("dav: login failed", "user", username, "remote", q.r.RemoteAddr)
		if errors.Is(err, groupware.ErrAuthFailed) {
			q.h.Limits.Failed("dav", q.r.RemoteAddr, username)
		}
		q.h.failDelay(q.ctx)
		return err
	}
	q.user = u
	if q.t, err = parseTarget(q.r.URL.EscapedPath()); err != nil {
		return err
	}
	if q.t.addr != "" {
		if q.acc, err = q.h.GW.Open(q.ctx, u, q.t.addr); err != nil {
			if errors.Is(err, groupware.ErrPrincipalNotFound) && q.r.Method == "REPORT" &&
				q.t.kind == resCollection && q.t.tree == groupware.KindCalendar {
				return q.otherFreeBusy(err)
			}
			return err
		}
	}
	switch q.r.Method {
	case http.MethodGet, http.MethodHead:
		return q.get()
	case http.MethodPut:
		return q.put()
	case http.MethodDelete:
		return q.delete()
	case "PROPFIND":
		return q.propfind()
	case "PROPPATCH":
		return q.proppatch()
	case "MKCALENDAR", "MKCOL":
		return q.mkcol()
	case "REPORT":
		return q.report()
	}
	q.w.Header().Set("Allow", allowHeader)
	return errMethod(q.r.Method)
}

// ErrMethodNotAllowed: the method is not supported on the resource.
var ErrMethodNotAllowed = errs.Sentinel(errs.Forbidden, "MethodNotAllowed")

func errMethod(m string) error {
	return ErrMethodNotAllowed.Newf("%s is not supported here", m).WithHint("supported methods: %s", allowHeader)
}

// failDelay waits AuthFailDelay (or until the request ends).
func (h *Handler) failDelay(ctx context.Context) {
	d := h.AuthFailDelay
	if d == 0 {
		d = DefaultAuthFailDelay
	}
	if d < 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (h *Handler) log() *slog.Logger {
	if h.Log == nil {
		return slog.Default()
	}
	return h.Log
}

// fail answers an error: its status, the DAV precondition element where
// one applies, and the coded error.
func (q *request) fail(err error) {
	e := errs.As(err)
	if e == nil || e.Kind == errs.Internal {
		q.h.log().Error("dav: request failed", "method", q.r.Method, "path", q.r.URL.Path, "err", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	status, cond := statusOf(err)
	switch status {
	case http.StatusUnauthorized:
		q.w.Header().Set("WWW-Authenticate", `Basic realm="tenantferry", charset="UTF-8"`)
	case http.StatusServiceUnavailable:
		q.w.Header().Set("Retry-After", "5")
	case http.StatusMethodNotAllowed:
		q.w.Header().Set("Allow", allowHeader)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<D:error xmlns:D="DAV:" xmlns:C="` + nsCalDAV + `" xmlns:CR="` + nsCardDV + `" xmlns:TF="` + nsTF + `">`)
	b.WriteString(cond)
	b.WriteString(x(name(nsTF, "code"), esc(e.Code)))
	b.WriteString(x(name(nsTF, "message"), esc(e.Message)))
	if e.Hint != "" {
		b.WriteString(x(name(nsTF, "hint"), esc(e.Hint)))
	}
	b.WriteString("</D:error>\n")
	q.w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	q.w.Header().Set("X-Error-Code", e.Code)
	q.w.WriteHeader(status)
	if q.r.Method != http.MethodHead {
		q.w.Write([]byte(b.String()))
	}
}

// statusOf maps a coded error to an HTTP status and a DAV precondition
// element (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1, RFC 6578 §3.2).
func statusOf(err error) (int, string) {
	cal := func(local string) string { return x(name(nsCalDAV, local), "") }
	card := func(local string) string { return x(name(nsCardDV, local), "") }
	switch {
	case errors.Is(err, groupware.ErrPreconditionFailed):
		return http.StatusPreconditionFailed, ""
	case errors.Is(err, groupware.ErrInvalidCalendarData):
		return http.StatusForbidden, cal("valid-calendar-data")
	case errors.Is(err, groupware.ErrInvalidCalendarObject):
		return http.StatusForbidden, cal("valid-calendar-object-resource")
	case errors.Is(err, groupware.ErrUnsupportedComponent):
		return http.StatusForbidden, cal("supported-calendar-component")
	case errors.Is(err, groupware.ErrInvalidContactData):
		return http.StatusForbidden, card("valid-address-data")
	case errors.Is(err, groupware.ErrObjectTooLarge):
		return http.StatusRequestEntityTooLarge, cal("max-resource-size") + card("max-resource-size")
	case errors.Is(err, groupware.ErrInvalidSyncToken):
		return http.StatusForbidden, x(name(nsDAV, "valid-sync-token"), "")
	case errors.Is(err, groupware.ErrInvalidFilter):
		return http.StatusForbidden, cal("valid-filter")
	case errors.Is(err, groupware.ErrCollectionExists):
		return http.StatusMethodNotAllowed, x(name(nsDAV, "resource-must-be-null"), "")
	case errors.Is(err, ErrMethodNotAllowed):
		return http.StatusMethodNotAllowed, ""
	case errors.Is(err, ErrReportNotSupported):
		return http.StatusForbidden, x(name(nsDAV, "supported-report"), "")
	case errors.Is(err, ErrCollectionLocation):
		return http.StatusForbidden, cal("calendar-collection-location-ok")
	case errors.Is(err, ErrProtectedProperty):
		return http.StatusForbidden, x(name(nsDAV, "cannot-modify-protected-property"), "")
	case errors.Is(err, mailstore.ErrMailboxLocked):
		return http.StatusServiceUnavailable, ""
	}
	return errs.HTTPStatus(err), ""
}

// isLoopback reports whether the request arrived on a loopback address.
func isLoopback(r *http.Request) bool {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if addr == nil {
		return false
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// LoopbackOr returns an AllowPlain function admitting loopback requests,
// and every request when allowAll is set (--allow-plaintext).
func LoopbackOr(allowAll bool) func(r *http.Request) bool {
	return func(r *http.Request) bool { return allowAll || isLoopback(r) }
}
