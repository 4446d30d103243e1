package delivery

import (
	"github.com/emersion/go-smtp"

	"errors"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Error is a refusal or failure with an SMTP meaning (after maddy's SMTP
// error): a reply code whose class says temporary (4xx) or permanent (5xx),
// an RFC 3463 enhanced status, a public message that is safe to show to the
// client or put in a DSN, and an internal cause for the logs only.
type Error struct {
	Code    int               // SMTP reply code, e.g. 550
	Status  smtp.EnhancedCode // RFC 3463 enhanced status code, e.g. {5, 1, 1}
	Message string            // public text
	Cause   error             // logged detail, never shown
}

// StatusText renders the enhanced status code, e.g. "5.1.1".
func (e *Error) StatusText() string {
	return fmt.Sprintf("%d.%d.%d", e.Status[0], e.Status[1], e.Status[2])
}

// Error implements error with the public text and the cause.
func (e *Error) Error() string {
	s := fmt.Sprintf("%d %s %s", e.Code, e.StatusText(), e.Message)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Temporary reports whether a later attempt may succeed (a 4xx code).
func (e *Error) Temporary() bool { return e.Code/100 == 4 }

// Reply returns the public reply line: "550 5.1.1 text".
func (e *Error) Reply() string { return fmt.Sprintf("%d %s %s", e.Code, e.StatusText(), e.Message) }

func newErr(code int, status smtp.EnhancedCode, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// withCause returns a copy of e with the internal cause set.
func (e *Error) withCause(err error) *Error {
	c := *e
	c.Cause = err
	return &c
}

// Refusals and failures used by this package.
var (
	// errUnknownRecipient: the recipient's domain is hosted here, but nobody
	// has the address.
	errUnknownRecipient = newErr(550, smtp.EnhancedCode{5, 1, 1}, "recipient address rejected: no such user here")
	// errRelayDenied: an unauthenticated client named a domain this server
	// does not host.
	errRelayDenied = newErr(554, smtp.EnhancedCode{5, 7, 1}, "relay access denied: this server accepts mail only for its own domains")
	// errTemporary: a database or other internal failure.
	errTemporary = newErr(451, smtp.EnhancedCode{4, 3, 0}, "temporary local problem, please try again later")
	// errLoop: too many Received fields.
	errLoop = newErr(554, smtp.EnhancedCode{5, 4, 6}, "mail loop detected: too many hops")
	// errRoutingLoop: forwarding or group nesting deeper than allowed.
	errRoutingLoop = newErr(554, smtp.EnhancedCode{5, 4, 6}, "routing loop detected while expanding the recipient")
	// errExpired: temporary failures until the lifetime ended.
	errExpired = newErr(451, smtp.EnhancedCode{4, 4, 7}, "delivery time expired")
	// errSendAs: a submission sender (MAIL FROM) that is neither one of
	// the user's addresses nor a mailbox the user holds SendAs on.
	errSendAs = newErr(550, smtp.EnhancedCode{5, 7, 1}, "sender address rejected: not an address of the authenticated user, and no SendAs permission on it (mailbox permission add --access-rights SendAs)")
	// errFromSendAs: the same for an address in the From header field.
	errFromSendAs = newErr(550, smtp.EnhancedCode{5, 7, 1}, "From header address rejected: not an address of the authenticated user, and no SendAs permission on it (mailbox permission add --access-rights SendAs)")
	// ErrAuthFailed: wrong address or password.
	ErrAuthFailed = newErr(535, smtp.EnhancedCode{5, 7, 8}, "authentication credentials invalid")
	// errBadSRS: a bounce address in SRS form whose hash or age does not
	// verify (forged, or too old).
	errBadSRS = newErr(550, smtp.EnhancedCode{5, 1, 1}, "recipient address rejected: invalid or expired bounce address")
	// errNoForward: a MailUser without an external address.
	errNoForward = newErr(550, smtp.EnhancedCode{5, 1, 6}, "recipient has moved and has no forwarding address")
)

// internal wraps an unexpected failure as a temporary error.
func internal(err error, what string) *Error {
	return errTemporary.withCause(fmt.Errorf("%s: %w", what, err))
}

// AsError returns err as a delivery *Error: itself when it is one, a mapped
// error for coded errors of other packages, and a temporary local error
// otherwise. It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return de
	}
	if e := errs.As(err); e != nil {
		switch e.Kind {
		case errs.Invalid:
			return newErr(550, smtp.EnhancedCode{5, 5, 4}, "%s", sanitize(e.Message, 200)).withCause(err)
		case errs.NotFound:
			return errUnknownRecipient.withCause(err)
		case errs.Forbidden:
			return newErr(550, smtp.EnhancedCode{5, 7, 1}, "%s", sanitize(e.Message, 200)).withCause(err)
		case errs.Unauthorized:
			return ErrAuthFailed.withCause(err)
		case errs.TooLarge:
			return newErr(552, smtp.EnhancedCode{5, 3, 4}, "message too large").withCause(err)
		}
	}
	return errTemporary.withCause(err)
}

// sanitize keeps printable ASCII of s, at most n bytes, for reply texts,
// headers and DSN fields.
func sanitize(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < n; i++ {
		c := s[i]
		switch {
		case c == '\t' || c == '\r' || c == '\n':
			b.WriteByte(' ')
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}
