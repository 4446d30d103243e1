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
	// ErrFolderNotFound: no folder with that path or id in the mailbox.
	ErrFolderNotFound = errs.Sentinel(errs.NotFound, "FolderNotFound")
	// ErrFolderExists: a folder of that name exists already.
	ErrFolderExists = errs.Sentinel(errs.Conflict, "FolderExists")
	// ErrFolderOriginExists: another live folder of the mailbox already
	// replicates that source folder.
	ErrFolderOriginExists = errs.Sentinel(errs.Conflict, "FolderOriginExists")
	// ErrSpecialUseTaken: another live folder of the mailbox has that
	// special use.
	ErrSpecialUseTaken = errs.Sentinel(errs.Conflict, "SpecialUseTaken")
	// ErrMailboxLocked: the mailbox is locked for a move's completion.
	ErrMailboxLocked = errs.Sentinel(errs.Conflict, "MailboxLocked")
	// ErrMailboxRetired: the mailbox moved away and is read-only.
	ErrMailboxRetired = errs.Sentinel(errs.Conflict, "MailboxRetired")
	// ErrItemTooLarge: a message over the maximum item size.
	ErrItemTooLarge = errs.Sentinel(errs.TooLarge, "ItemTooLarge")
	// ErrInvalidFlag: a flag or keyword that is not valid.
	ErrInvalidFlag = errs.Sentinel(errs.Invalid, "InvalidFlag")
)
