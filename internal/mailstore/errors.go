package mailstore

import "github.com/tenantferry/tenantferry/internal/errs"

// Error codes owned by the mailbox store, matched with errors.Is.
var (
	// ErrMailboxNotFound: no mailbox with that tenant and GUID (or id).
	ErrMailboxNotFound = errs.Sentinel(errs.NotFound, "MailboxNotFound")
	// ErrMailboxExists: CreateMailbox of a tenant and GUID that has one.
	ErrMailboxExists = errs.Sentinel(errs.Conflict, "MailboxExists")
	// ErrItemNotFound: no item with that id in the mailbox (or no object
	// of that name in a collection).
	ErrItemNotFound = errs.Sentinel(errs.NotFound, "ItemNotFound")
	// ErrCrossTenantCopy: CopyAcross between mailboxes of two tenants.
	ErrCrossTenantCopy = errs.Sentinel(errs.Forbidden, "CrossTenantCopy")
)
