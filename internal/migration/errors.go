package migration

import "github.com/tenantferry/tenantferry/internal/errs"

// Error codes owned by the migration service, matched with errors.Is.
var (
	// ErrMoveNotFound: no move request with that id.
	ErrMoveNotFound = errs.Sentinel(errs.NotFound, "MoveNotFound")
	// ErrStateChanged: another worker changed the move's state first.
	ErrStateChanged = errs.Sentinel(errs.Conflict, "StateChanged")
)
