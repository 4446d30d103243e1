-- +goose Up
-- Domain ownership (internal/directory, issue 7): an accepted domain routes
-- mail locally only once its tenant proved it owns it (a DNS TXT record) or
-- the operator approved it. Rows of domains are accepted (verified)
-- domains; a tenant's unproven claims live in domain_claims, where several
-- tenants may claim one domain until one of them proves it.
-- Domains accepted before this version stay accepted, marked 'upgrade' so
-- the operator can review them (domain list shows VerifiedBy).
ALTER TABLE domains ADD COLUMN verified_by TEXT NOT NULL DEFAULT 'upgrade'; -- initial | dns | operator | upgrade
ALTER TABLE domains ADD COLUMN verified_at INTEGER NOT NULL DEFAULT 0;
UPDATE domains SET verified_by = 'initial', verified_at = created_at WHERE is_initial = 1;
UPDATE domains SET verified_at = created_at WHERE verified_at = 0;

CREATE TABLE domain_claims (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    domain     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, domain)
);
CREATE INDEX domain_claims_domain ON domain_claims(domain);

-- +goose Down
DROP TABLE domain_claims;
ALTER TABLE domains DROP COLUMN verified_at;
ALTER TABLE domains DROP COLUMN verified_by;
