package cli

import (
	"errors"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Exit codes of the CLI, one per class of failure, so scripts can tell a
// typo from a missing object or a server that is down (as gh and kubectl
// do). Every failure also prints its stable error code.
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitError: the server failed, is unreachable or busy (5xx, 429), or
	// the command failed on this machine.
	ExitError = 1
	// ExitUsage: the command line or the input is invalid (unknown flag,
	// missing argument, a value the server refuses as invalid: 400, 413,
	// 415).
	ExitUsage = 2
	// ExitAuth: no token, a bad token (401), or not allowed (403).
	ExitAuth = 3
	// ExitNotFound: the object does not exist or is not visible (404).
	ExitNotFound = 4
	// ExitConflict: the object's state does not allow it, or it exists
	// already (409); also a refused confirmation.
	ExitConflict = 5
)

// exitCode maps an error to the exit code of its class.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		return ExitError
	}
	switch e.Kind {
	case errs.Invalid, errs.TooLarge, errs.UnsupportedMedia:
		return ExitUsage
	case errs.Unauthorized, errs.Forbidden:
		return ExitAuth
	case errs.NotFound:
		return ExitNotFound
	case errs.Conflict:
		return ExitConflict
	}
	return ExitError
}
