package directory

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Domain ownership (issue 7, hole 2). A tenant's domain routes mail locally
// and takes addresses only once it is Verified: the tenant proved it owns
// the domain with a DNS TXT record (VerifyDomain), the operator approved it
// (AcceptDomain by VerifiedByOperator), or it is the tenant's initial
// domain. Until then it is a Pending claim: it routes nothing (mail to it
// goes out by MX or transport as for any domain not hosted here), no
// address may be created in it (ErrDomainNotVerified), and several tenants
// may claim the same domain — a claim takes nothing from the domain's real
// owner. The first tenant to prove it gets it; the other claims are
// dropped.

// Domain statuses.
const (
	DomainVerified = "Verified"
	DomainPending  = "Pending"
)

// How a domain was verified (Domain.VerifiedBy).
const (
	VerifiedByInitial  = "initial"  // the tenant's initial domain
	VerifiedByDNS      = "dns"      // the TXT record was found
	VerifiedByOperator = "operator" // approved with the operator token
	VerifiedByUpgrade  = "upgrade"  // accepted before domains were verified
)

// Errors of domain ownership.
var (
	// ErrDomainNotVerified refuses a use of a pending domain where a
	// verified one is needed (an address in it, a target delivery domain).
	ErrDomainNotVerified = errs.Sentinel(errs.Conflict, "DomainNotVerified")
	// ErrDomainVerificationFailed is a `domain verify` that found no
	// matching TXT record.
	ErrDomainVerificationFailed = errs.Sentinel(errs.Conflict, "DomainVerificationFailed")
)

// VerificationRecord is the DNS record that proves a tenant owns a domain:
// a TXT record at Name (or at the domain's apex) with value Value.
type VerificationRecord struct {
	Name  string // _tenantferry.<domain>
	Type  string // TXT
	Value string // tenantferry-verification=<token>
}

// Domain is one of a tenant's domains, accepted or claimed.
type Domain struct {
	Name       string
	Status     string // DomainVerified | DomainPending
	Initial    bool
	VerifiedBy string    // VerifiedBy* ("" while pending)
	VerifiedAt time.Time // zero while pending
	CreatedAt  time.Time
	// Record is what to publish to verify the domain (for a verified
	// domain: what proved it, or would).
	Record VerificationRecord
}

// VerificationPrefix starts the TXT value of a verification record.
const VerificationPrefix = "tenantferry-verification="

// VerificationRecordFor returns the record that proves tenantID owns
// domain. The token is derived from the server key, the tenant and the
// domain: stable, different for every tenant, and not guessable.
func (x *Directory) VerificationRecordFor(tenantID, domain string) VerificationRecord {
	m := hmac.New(sha256.New, x.serverKey)
	m.Write([]byte("tenantferry domain verification\x00" + tenantID + "\x00" + domain))
	return VerificationRecord{Name: "_tenantferry." + domain, Type: "TXT", Value: VerificationPrefix + hex.EncodeToString(m.Sum(nil))[:32]}
}

// checkClaimable validates a domain a tenant may claim or be given.
func (x *Directory) checkClaimable(domain string) (string, error) {
	d, err := CheckDomain(domain)
	if err != nil {
		return "", err
	}
	if d == x.serviceDomain || strings.HasSuffix(d, "."+x.serviceDomain) {
		// Initial domains live there; accepting one would take another
		// (present or future) tenant's initial domain.
		return "", errs.Invalidf("ReservedDomain", "domain %s is under the service domain %s, which holds the tenants' initial domains", d, x.serviceDomain).
			WithHint("add a domain your organization owns, e.g. contoso.com").WithObject(d)
	}
	return d, nil
}

// ClaimDomain records a tenant's pending claim of a domain and returns it
// with the record to publish. Claiming a domain another tenant already
// verified is refused (DomainExists); several pending claims of one domain
// may coexist. Claiming again is harmless.
func (x *Directory) ClaimDomain(ctx context.Context, tenantID, domain string) (*Domain, error) {
	d, err := x.checkClaimable(domain)
	if err != nil {
		return nil, err
	}
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		if err := x.notAcceptedYet(ctx, tx, tenantID, d); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM domain_claims WHERE tenant_id = ? AND domain = ?`, tenantID, d).Scan(&n); err != nil || n > 0 {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO domain_claims (tenant_id, domain, created_at) VALUES (?, ?, ?)`, tenantID, d, db.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return x.GetDomain(ctx, tenantID, d)
}

// notAcceptedYet refuses a domain some tenant already accepted.
func (x *Directory) notAcceptedYet(ctx context.Context, tx *db.Tx, tenantID, d string) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM domains WHERE domain = ?`, d).Scan(&owner)
	if db.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if owner == tenantID {
		return errs.Conflictf("DomainExists", "domain %s is already an accepted domain of this tenant", d).WithObject(d)
	}
	return errs.Conflictf("DomainExists", "domain %s is already an accepted domain of another tenant", d).WithObject(d).
		WithHint("a domain can be accepted by one tenant only; remove it there first")
}

// AcceptDomain makes a domain a verified accepted domain of the tenant
// (by says how: VerifiedByDNS or VerifiedByOperator), in one transaction
// that drops every tenant's pending claim of it.
func (x *Directory) AcceptDomain(ctx context.Context, tenantID, domain, by string) (string, error) {
	d, err := x.checkClaimable(domain)
	if err != nil {
		return "", err
	}
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		if err := x.notAcceptedYet(ctx, tx, tenantID, d); err != nil {
			return err
		}
		now := db.Now()
		if _, err := tx.ExecContext(ctx, `INSERT INTO domains (domain, tenant_id, is_initial, created_at, verified_by, verified_at) VALUES (?, ?, ?, ?, ?, ?)`,
			d, tenantID, false, now, by, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM domain_claims WHERE domain = ?`, d)
		return err
	})
	return d, err
}

// ApproveDomain accepts a tenant's pending claim (the operator's
// `domain approve`). A domain the tenant did not claim is DomainNotFound.
func (x *Directory) ApproveDomain(ctx context.Context, tenantID, domain string) (*Domain, error) {
	dom, err := x.GetDomain(ctx, tenantID, domain)
	if err != nil {
		return nil, err
	}
	if dom.Status == DomainVerified {
		return dom, nil
	}
	if _, err := x.AcceptDomain(ctx, tenantID, dom.Name, VerifiedByOperator); err != nil {
		return nil, err
	}
	return x.GetDomain(ctx, tenantID, dom.Name)
}

// VerifyDomain looks for the verification record of a tenant's pending
// domain — a TXT record with the tenant's value at _tenantferry.<domain>
// or at the domain's apex — and accepts the domain when one matches.
// lookupTXT is the DNS lookup (dnsx.Resolver.LookupTXT); a name without TXT
// records must be an error for which notFound reports true. A domain that
// is already verified is returned as is.
func (x *Directory) VerifyDomain(ctx context.Context, tenantID, domain string, lookupTXT func(ctx context.Context, name string) ([]string, error), notFound func(error) bool) (*Domain, error) {
	dom, err := x.GetDomain(ctx, tenantID, domain)
	if err != nil {
		return nil, err
	}
	if dom.Status == DomainVerified {
		return dom, nil
	}
	found := false
	for _, name := range []string{dom.Record.Name, dom.Name} {
		txts, err := lookupTXT(ctx, name)
		if err != nil && !notFound(err) {
			return nil, err // temporary: retry later
		}
		for _, t := range txts {
			if strings.TrimSpace(t) == dom.Record.Value {
				found = true
			}
		}
	}
	if !found {
		return nil, ErrDomainVerificationFailed.Newf("no TXT record %q was found at %s or at %s", dom.Record.Value, dom.Record.Name, dom.Name).
			WithObject(dom.Name).
			WithHint("publish the TXT record %s with the value %s in the DNS of %s, wait for it to propagate, and run 'tenantferry domain verify %s' again",
				dom.Record.Name, dom.Record.Value, dom.Name, dom.Name)
	}
	if _, err := x.AcceptDomain(ctx, tenantID, dom.Name, VerifiedByDNS); err != nil {
		return nil, err
	}
	return x.GetDomain(ctx, tenantID, dom.Name)
}

// GetDomain returns one of the tenant's domains, verified or pending.
func (x *Directory) GetDomain(ctx context.Context, tenantID, domain string) (*Domain, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	ds, err := x.Domains(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	for _, dom := range ds {
		if dom.Name == d {
			return dom, nil
		}
	}
	return nil, errs.NotFoundf("DomainNotFound", "domain %q is not a domain of this tenant", d).WithObject(d).
		WithHint("add it with 'tenantferry domain add %s'", d)
}

// Domains lists the tenant's domains: verified ones (initial domain first,
// then by name), then pending claims by name.
func (x *Directory) Domains(ctx context.Context, tenantID string) ([]*Domain, error) {
	q := x.d.Read()
	var out []*Domain
	rows, err := q.QueryContext(ctx, `SELECT domain, is_initial, verified_by, verified_at, created_at FROM domains WHERE tenant_id = ? ORDER BY is_initial DESC, domain`, tenantID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		dom := &Domain{Status: DomainVerified}
		var at, created int64
		if err := rows.Scan(&dom.Name, &dom.Initial, &dom.VerifiedBy, &at, &created); err != nil {
			rows.Close()
			return nil, err
		}
		dom.VerifiedAt, dom.CreatedAt = db.Time(at), db.Time(created)
		out = append(out, dom)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT domain, created_at FROM domain_claims WHERE tenant_id = ? ORDER BY domain`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		dom := &Domain{Status: DomainPending}
		var created int64
		if err := rows.Scan(&dom.Name, &created); err != nil {
			return nil, err
		}
		dom.CreatedAt = db.Time(created)
		out = append(out, dom)
	}
	for _, dom := range out {
		dom.Record = x.VerificationRecordFor(tenantID, dom.Name)
	}
	return out, rows.Err()
}

// pendingError returns ErrDomainNotVerified when the tenant has a pending
// claim of domain, else nil.
func (x *Directory) pendingError(ctx context.Context, q db.Querier, tenantID, domain, what string) error {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM domain_claims WHERE tenant_id = ? AND domain = ?`, tenantID, strings.ToLower(domain)).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return ErrDomainNotVerified.Newf("%s is in domain %s, which this tenant has not verified yet", what, strings.ToLower(domain)).WithObject(what).
		WithHint("publish the domain's verification record (see 'tenantferry domain show %s') and run 'tenantferry domain verify %s', or ask the operator to approve it",
			strings.ToLower(domain), strings.ToLower(domain))
}

// CheckDeliveryDomain returns nil when domain is a verified domain of the
// tenant, ErrDomainNotVerified when it is only claimed, and
// NotAcceptedDomain otherwise.
func (x *Directory) CheckDeliveryDomain(ctx context.Context, tenantID, domain string) error {
	owner, err := x.TenantOfDomain(ctx, nil, domain)
	if err != nil || owner == tenantID {
		return err
	}
	if err := x.pendingError(ctx, x.d.Read(), tenantID, domain, "target delivery domain "+strings.ToLower(domain)); err != nil {
		return err
	}
	return errs.Invalidf("NotAcceptedDomain", "target delivery domain %s is not an accepted domain of this tenant", domain).WithObject(domain).
		WithHint("add it with 'tenantferry domain add' and verify it, or pass one of the tenant's domains")
}

// removeClaim deletes a tenant's pending claim; false when there was none.
func removeClaim(ctx context.Context, tx *db.Tx, tenantID, d string) (bool, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM domain_claims WHERE tenant_id = ? AND domain = ?`, tenantID, d)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
