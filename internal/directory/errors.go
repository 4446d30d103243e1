package directory

import "github.com/tenantferry/tenantferry/internal/errs"

// Error codes owned by the directory, matched with errors.Is.
var (
	// ErrRecipientNotFound: no recipient of the tenant matches the
	// reference.
	ErrRecipientNotFound = errs.Sentinel(errs.NotFound, "RecipientNotFound")
	// ErrInvalidGuid: a reference that must be a GUID is not one.
	ErrInvalidGuid = errs.Sentinel(errs.Invalid, "InvalidGuid")
	// ErrTenantNotFound: no tenant has that id, name or domain.
	ErrTenantNotFound = errs.Sentinel(errs.NotFound, "TenantNotFound")
	// ErrSharedMailboxPassword: a password for a shared mailbox, which has
	// none (people use their own, with a mailbox permission).
	ErrSharedMailboxPassword = errs.Sentinel(errs.Invalid, "SharedMailboxPassword")
	// ErrInvalidAccessRight: an access right other than FullAccess or SendAs.
	ErrInvalidAccessRight = errs.Sentinel(errs.Invalid, "InvalidAccessRight")
	// ErrPermissionNotFound: removing a permission that was not granted.
	ErrPermissionNotFound = errs.Sentinel(errs.NotFound, "PermissionNotFound")
	// ErrPermissionTarget: a permission on something that is not a mailbox,
	// or for something that is not a mailbox user (or for the mailbox
	// itself).
	ErrPermissionTarget = errs.Sentinel(errs.Invalid, "InvalidPermissionTarget")
	// ErrOrgRelExists: an organization relationship of that name exists.
	ErrOrgRelExists = errs.Sentinel(errs.Conflict, "OrgRelExists")
	// ErrDomainNotFound: the domain is not one of the tenant's.
	ErrDomainNotFound = errs.Sentinel(errs.NotFound, "DomainNotFound")
	// ErrInvalidQuota: a negative quota.
	ErrInvalidQuota = errs.Sentinel(errs.Invalid, "InvalidQuota")
	// ErrAppNotConsented: the tenant has not consented to the app.
	ErrAppNotConsented = errs.Sentinel(errs.NotFound, "AppNotConsented")
)

// Errors of the paginated lists (Page).
var (
	// ErrInvalidLimit: a page size that is not a number from 1 to
	// MaxPageSize.
	ErrInvalidLimit = errs.Sentinel(errs.Invalid, "InvalidLimit")
	// ErrInvalidCursor: a cursor this server did not issue for that list
	// (tampered with, of another list, or of another tenant).
	ErrInvalidCursor = errs.Sentinel(errs.Invalid, "InvalidCursor")
	// ErrInvalidSearch: a recipient search text longer than MaxSearchLen.
	ErrInvalidSearch = errs.Sentinel(errs.Invalid, "InvalidSearch")
)

// Errors of bulk creation (CreateMailboxes, ReadMailboxCSV).
var (
	// ErrInvalidCSV: a mailbox file that is not a CSV with a header of
	// BulkColumns.
	ErrInvalidCSV = errs.Sentinel(errs.Invalid, "InvalidCsv")
	// ErrTooManyRows: more than MaxBulkRows rows in one bulk creation.
	ErrTooManyRows = errs.Sentinel(errs.TooLarge, "TooManyRows")
	// ErrInvalidRows: a refused bulk creation; its message lists every bad
	// row (row, column, code, message, hint) and errors.As finds them as
	// RowErrors. Nothing was created.
	ErrInvalidRows = errs.Sentinel(errs.Invalid, "InvalidRows")
	// ErrDuplicateRow: a row repeating the alias or address of an earlier
	// row of the same file.
	ErrDuplicateRow = errs.Sentinel(errs.Invalid, "DuplicateRow")
	// ErrAmbiguousPassword: a row giving both a Password and a
	// PasswordHash.
	ErrAmbiguousPassword = errs.Sentinel(errs.Invalid, "AmbiguousPassword")
)
