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
)
