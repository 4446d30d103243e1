package source

import "github.com/tenantferry/tenantferry/internal/errs"

// Error codes of the source side, matched with errors.Is (also on the
// target, where the replication client decodes them from the wire).
var (
	// ErrAppNotConsented: the source tenant has not consented to the app.
	ErrAppNotConsented = errs.Sentinel(errs.Forbidden, "AppNotConsented")
	// ErrAppPermissionMissing: consent or token without Mailbox.Migration.
	ErrAppPermissionMissing = errs.Sentinel(errs.Forbidden, "AppPermissionMissing")
	// ErrSourceNotAuthorized: no usable RemoteOutbound organization
	// relationship names the token's tenant and app.
	ErrSourceNotAuthorized = errs.Sentinel(errs.Forbidden, "SourceNotAuthorized")
	// ErrSourceMailboxNotFound: the source tenant has no such mailbox.
	ErrSourceMailboxNotFound = errs.Sentinel(errs.NotFound, "SourceMailboxNotFound")
	// ErrMailboxNotInScope: the mailbox is in no published scope group.
	ErrMailboxNotInScope = errs.Sentinel(errs.Forbidden, "MailboxNotInScope")
	// ErrSourceNotAMailbox: the recipient is not (or no longer) a
	// UserMailbox.
	ErrSourceNotAMailbox = errs.Sentinel(errs.Conflict, "SourceNotAMailbox")
	// ErrGuidRequired: mailbox content is addressed by ExchangeGuid or
	// ArchiveGuid only.
	ErrGuidRequired = errs.Sentinel(errs.Invalid, "GuidRequired")
	// ErrAlreadyFinalized: the source was converted to a MailUser and
	// cannot be unlocked.
	ErrAlreadyFinalized = errs.Sentinel(errs.Conflict, "AlreadyFinalized")
	// ErrInvalidParameter: a request parameter is out of range.
	ErrInvalidParameter = errs.Sentinel(errs.Invalid, "InvalidParameter")
	// ErrFreeBusyNotShared: the RemoteOutbound relationship does not have
	// FreeBusyAccessEnabled.
	ErrFreeBusyNotShared = errs.Sentinel(errs.Forbidden, "FreeBusyNotShared")
)

// Error codes of registered moves (issue 7 hole 3: lock and finalize only
// for a move the target registered).
var (
	// ErrMoveNotRegistered: lock, unlock or finalize by an app with no
	// registered move (of that id) for the mailbox, or one the source
	// admin cancelled.
	ErrMoveNotRegistered = errs.Sentinel(errs.Forbidden, "MoveNotRegistered")
	// ErrMoveRegistrationCancelled: the target re-registers a move the
	// source admin cancelled.
	ErrMoveRegistrationCancelled = errs.Sentinel(errs.Forbidden, "MoveRegistrationCancelled")
	// ErrMoveRegistrationConflict: a move id already registered for
	// another mailbox.
	ErrMoveRegistrationConflict = errs.Sentinel(errs.Conflict, "MoveRegistrationConflict")
	// ErrMoveRegistrationNotFound: no registered move with that id (or
	// for that mailbox) in the tenant.
	ErrMoveRegistrationNotFound = errs.Sentinel(errs.NotFound, "MoveRegistrationNotFound")
	// ErrMoveRegistrationCompleted: a completed move cannot be cancelled.
	ErrMoveRegistrationCompleted = errs.Sentinel(errs.Conflict, "MoveRegistrationCompleted")
	// ErrDeliveryDomainNotProven: the target delivery domain is not a
	// domain the caller's token proves to be the target tenant's.
	ErrDeliveryDomainNotProven = errs.Sentinel(errs.Forbidden, "DeliveryDomainNotProven")
	// ErrForwardingOutsideDeliveryDomain: finalize names a forwarding
	// address outside the move's registered delivery domain.
	ErrForwardingOutsideDeliveryDomain = errs.Sentinel(errs.Forbidden, "ForwardingOutsideDeliveryDomain")
	// ErrSourceLockedByAnotherMove: another registered move holds the
	// source's lock.
	ErrSourceLockedByAnotherMove = errs.Sentinel(errs.Conflict, "SourceLockedByAnotherMove")
	// ErrSourceNotLocked: finalize before the move locked the source (its
	// final sync must run under the lock).
	ErrSourceNotLocked = errs.Sentinel(errs.Conflict, "SourceNotLocked")
)
