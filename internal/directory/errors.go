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
)
