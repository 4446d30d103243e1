// Package directory is the multi-tenant directory of tenantferry: tenants and
// their accepted domains, recipients (UserMailbox, MailUser, groups) with
// their proxy addresses, app registrations and secrets, consents (service
// principals of remote apps), organization relationships and migration
// endpoints.
//
// Invariants:
//   - Every row carries a tenant id, and every function that takes a tenant
//     id reads and writes only rows of that tenant. Cross-tenant reads happen
//     only in ResolveAddress (mail routing) and through the migration trust
//     path, never through admin calls.
//   - An SMTP address belongs to at most one recipient on the whole server,
//     and a recipient's SMTP proxies lie in domains its tenant accepted
//     (ExternalEmailAddress of a MailUser is exempt: it points elsewhere).
//   - A recipient has exactly one primary SMTP proxy, equal to
//     PrimarySmtpAddress. X500 proxies are unique within a tenant.
//   - Names and aliases are unique per tenant, case-insensitively; a
//     LegacyExchangeDN is unique on the server.
//   - A domain is accepted by at most one tenant; the service domain and
//     its subdomains are reserved for initial domains.
//   - Secrets are stored hashed (app secrets) or sealed with the server key
//     (endpoint secrets); this package never returns a stored secret except
//     EndpointSecret, which the migration engine needs to obtain tokens.
package directory

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Directory is the directory service over one database.
type Directory struct {
	d             *db.DB
	serviceDomain string
	serverKey     []byte
}

// New returns a directory. serviceDomain is the parent of every tenant's
// initial domain (e.g. "tenantferry.test"); serverKey seals endpoint secrets.
func New(d *db.DB, serviceDomain string, serverKey []byte) *Directory {
	return &Directory{d: d, serviceDomain: strings.ToLower(serviceDomain), serverKey: serverKey}
}

// DB returns the underlying database (for callers composing transactions).
func (x *Directory) DB() *db.DB { return x.d }

// ServiceDomain returns the service domain.
func (x *Directory) ServiceDomain() string { return x.serviceDomain }

// newID returns a new random GUID string.
func newID() string { return uuid.NewString() }

// ParseGUID validates a GUID string and returns it in canonical lower-case
// form. An empty string is returned unchanged.
func ParseGUID(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := uuid.Parse(s)
	if err != nil || strings.HasPrefix(s, "urn:") || (len(s) != 36 && len(s) != 38) {
		return "", errs.Invalidf("InvalidGuid", "%s %q is not a GUID", field, s).
			WithHint("use the form 0a1b2c3d-1111-2222-3333-444455556666")
	}
	return u.String(), nil
}

// q returns the read querier, or the transaction when one is given.
func (x *Directory) q(tx *db.Tx) db.Querier {
	if tx != nil {
		return tx
	}
	return x.d.Read()
}

// write runs f in tx when given, else in a new write transaction.
func (x *Directory) write(ctx context.Context, tx *db.Tx, f func(tx *db.Tx) error) error {
	if tx != nil {
		return f(tx)
	}
	return x.d.Write(ctx, f)
}

// splitList splits a comma-separated stored list, dropping empty parts.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
