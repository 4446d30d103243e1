// Package apitypes holds the request and reply bodies of the admin HTTP
// API (/api/v1), shared by its server (internal/api) and its client (the
// CLI, internal/cli): one Go type per JSON body, so both sides and the
// OpenAPI document (GET /api/v1/openapi.json, generated from these types)
// say the same thing.
//
// Invariants:
//   - Field names are the JSON member names: PascalCase as Exchange
//     prints them; no json tag renames a field (only ",omitempty").
//   - A pointer field of a request means "absent keeps the current value"
//     (set/PATCH requests); the client leaves it nil unless the user gave
//     the flag, and omitempty keeps it off the wire.
//   - The package imports no other package of this module: a client needs
//     none of the server's code (internal/archtest enforces it).
//   - Replies the admin core builds itself (migration batches and users,
//     move registrations, storage figures) keep their types in their
//     owning packages; this package holds what the API adapter builds.
package apitypes

import "time"

// ZeroGUID is what Exchange prints for an absent GUID.
const ZeroGUID = "00000000-0000-0000-0000-000000000000"

// Whoami is the reply of GET /api/v1/whoami: who the token is.
type Whoami struct {
	// Operator is true for the server-wide operator token.
	Operator bool
	// Tenant is a tenant-admin token's tenant (absent for the operator).
	Tenant *TenantView `json:",omitempty"`
	// TokenName is the token's name.
	TokenName string
}

// TenantCreate is the body of POST /api/v1/tenants.
type TenantCreate struct {
	// Name is the tenant's name: lower-case letters, digits and hyphens.
	Name string
}

// AdminTokenCreate is the (optional) body of POST
// /api/v1/tenants/{t}/admin-tokens.
type AdminTokenCreate struct {
	// Name names the token (for audit and whoami).
	Name string `json:",omitempty"`
	// Expires is when the token stops working: a Go duration from now
	// (e.g. 720h) or an RFC 3339 time; empty: never.
	Expires string `json:",omitempty"`
}

// AdminTokenView is an admin token as GET .../admin-tokens lists it:
// never the token itself.
type AdminTokenView struct {
	Id          string
	Name        string
	WhenCreated time.Time
	// ExpiresAt is absent for a token that never expires.
	ExpiresAt *time.Time `json:",omitempty"`
	// Current is true for the token of the request.
	Current bool
}

// OperatorTokenIssued is the reply of POST /api/v1/admin-tokens: a new
// operator token (shown once), with the same field names as a tenant's
// TenantView.AdminToken*.
type OperatorTokenIssued struct {
	Name         string
	AdminToken   string
	AdminTokenId string
	// AdminTokenExpiresAt is absent for a token that never expires.
	AdminTokenExpiresAt *time.Time `json:",omitempty"`
}

// TenantSet is the body of PATCH /api/v1/tenants/{t}.
type TenantSet struct {
	// Quota is the tenant's quota over all its mailboxes in bytes (0:
	// unlimited); absent keeps it.
	Quota *int64 `json:",omitempty"`
}

// TenantView is the JSON form of a tenant.
type TenantView struct {
	Id            string
	Name          string
	InitialDomain string
	Domains       []string
	// Quota bounds all the tenant's mailboxes together, in bytes (0:
	// unlimited).
	Quota       int64
	WhenCreated time.Time
	// AdminToken is a new tenant-admin token, shown once (tenant create,
	// admin-tokens).
	AdminToken string `json:",omitempty"`
	// AdminTokenId and AdminTokenExpiresAt describe the new token
	// (admin-tokens).
	AdminTokenId        string     `json:",omitempty"`
	AdminTokenExpiresAt *time.Time `json:",omitempty"`
}

// DomainAdd is the body of POST /api/v1/tenants/{t}/domains.
type DomainAdd struct {
	DomainName string
	// Verified accepts the domain without DNS proof (operator only).
	Verified bool
}

// VerificationRecord is the DNS TXT record that proves a tenant owns a
// domain.
type VerificationRecord struct {
	Name  string // _tenantferry.<domain>
	Type  string // TXT
	Value string // tenantferry-verification=<token>
}

// DomainView is the JSON form of a tenant's domain.
type DomainView struct {
	DomainName string
	Default    bool       // the initial domain
	Status     string     // Verified | Pending
	VerifiedBy string     `json:",omitempty"` // initial | dns | operator | upgrade
	VerifiedAt *time.Time `json:",omitempty"`
	// VerificationRecord is the TXT record that proves ownership (what to
	// publish while the domain is pending).
	VerificationRecord VerificationRecord
}

// DNSRecordView is one record of `domain dns`, with its zone-file line.
type DNSRecordView struct {
	// Purpose says what the record is for (MX, SPF, DKIM, DMARC, MTA-STS,
	// TLS-RPT, autoconfig, autodiscover, SRV, verification).
	Purpose string
	Name    string // fully qualified, without the trailing dot
	Type    string // MX, TXT, CNAME, SRV
	Value   string // as in a zone file
	// Required marks records mail needs (MX, SPF, DKIM, DMARC).
	Required bool
	// Zone is the record as a zone-file line.
	Zone string
}

// DNSCheckView is one result of `domain check`: the record, what DNS has
// and how to fix it.
type DNSCheckView struct {
	DNSRecordView
	Status string
	Found  []string
	Hint   string
}

// DkimAdd is the (optional) body of POST .../domains/{d}/dkim.
type DkimAdd struct {
	// Algorithm is ed25519, rsa or both ("": both).
	Algorithm string
}

// DkimRotate is the (optional) body of POST .../domains/{d}/dkim/rotate.
type DkimRotate struct {
	// Grace is how long the old selectors stay published, a Go duration
	// ("": 168h).
	Grace string
}

// DkimKeyView is the JSON form of a DKIM key: its state and the DNS record
// to publish.
type DkimKeyView struct {
	Domain     string
	Selector   string
	Algorithm  string
	Status     string // Active, Retiring, Retired
	Created    time.Time
	RetiringAt *time.Time `json:",omitempty"` // when a rotation replaced it
	RetiredAt  *time.Time `json:",omitempty"` // end of the grace period: unpublish after
	// DnsRecordName, DnsRecordType and DnsRecordValue are the TXT record
	// to publish (while Active or Retiring); ZoneLine is the same in
	// zone-file syntax.
	DnsRecordName  string
	DnsRecordType  string
	DnsRecordValue string
	ZoneLine       string
}

// StorageGC is the (optional) body of POST /api/v1/storage/gc.
type StorageGC struct {
	// NoCompact skips compaction.
	NoCompact bool
	// Grace overrides the minimum age of unreferenced blobs and of
	// containers to compact, e.g. "0s" ("": the default, 1h).
	Grace string
	// ReaderGrace overrides how long retired containers wait for readers
	// before deletion, e.g. "0s" ("": the default, 15m).
	ReaderGrace string
}
