package imapd

import (
	"context"
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// codeByError maps error codes of the core packages to IMAP response codes
// (RFC 5530) where the kind alone would be too coarse.
var codeByError = map[string]imap.ResponseCode{
	"FolderExists":      imap.ResponseCodeAlreadyExists,
	"FolderHasChildren": imap.ResponseCodeHasChildren,
	"MailboxLocked":     imap.ResponseCodeInUse,
	"MailboxRetired":    imap.ResponseCodeNoPerm,
	"CannotDeleteInbox": imap.ResponseCodeCannot,
	"InvalidFlag":       imap.ResponseCodeClientBug,
	"UIDsExhausted":     imap.ResponseCodeLimit,
	"SpecialUseTaken":   codeUseAttr,
	"InvalidSpecialUse": codeUseAttr,
}

// codeUseAttr is RFC 6154's response code for a special use that cannot
// be given (go-imap has no constant for it).
const codeUseAttr = imap.ResponseCode("USEATTR")

// codeByKind maps error kinds to IMAP response codes.
var codeByKind = map[errs.Kind]imap.ResponseCode{
	errs.Invalid:      imap.ResponseCodeCannot,
	errs.Unauthorized: imap.ResponseCodeAuthenticationFailed,
	errs.Forbidden:    imap.ResponseCodeNoPerm,
	errs.NotFound:     imap.ResponseCodeNonExistent,
	errs.Conflict:     imap.ResponseCodeCannot,
	errs.TooLarge:     imap.ResponseCodeTooBig,
	errs.Unavailable:  imap.ResponseCodeUnavailable,
	errs.RateLimited:  imap.ResponseCodeLimit,
}

// imapError is the one place where errors become IMAP replies. A coded
// error becomes NO with its response code and the text "Code: message
// (hint)"; internal errors are logged and become NO [SERVERBUG] without
// detail; *imap.Error passes through.
func (s *session) imapError(err error) error {
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie
	}
	if errors.Is(err, context.Canceled) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "the server is shutting down"}
	}
	e := errs.As(err)
	if e == nil || e.Kind == errs.Internal {
		s.log.Error("imap: command failed", "user", s.user, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug, Text: "internal server error; it has been logged"}
	}
	code, ok := codeByError[e.Code]
	if !ok {
		code = codeByKind[e.Kind]
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: responseText(e.Error())}
}

// responseText makes text safe for a status response: one line, no
// control characters, bounded length.
func responseText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 1000 {
		s = s[:1000]
	}
	return s
}

// readOnlyError is the reply to a change in a folder opened with EXAMINE.
var readOnlyError = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
	Text: "the folder is open read-only (EXAMINE); SELECT it to make changes"}

// tryCreateError is the reply to APPEND, COPY or MOVE into a folder that
// does not exist (RFC 9051 section 7.1: TRYCREATE).
func tryCreateError(name string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate,
		Text: responseText("FolderNotFound: folder \"" + name + "\" does not exist (create it first)")}
}

// statusLine is the tagged status response of a command answered below
// go-imap that failed with err (mapped by imapError).
func (s *session) statusLine(tag string, err error) string {
	ie := s.imapError(err).(*imap.Error)
	line := tag + " " + string(ie.Type)
	if ie.Code != "" {
		line += " [" + string(ie.Code) + "]"
	}
	return line + " " + responseText(ie.Text)
}
