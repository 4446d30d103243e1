-- +goose Up
-- DKIM signing keys per accepted domain (internal/mailauth). The private
-- half is sealed with the server key (identity.Seal); the public half is
-- the p= value of the DNS record to publish at
-- <selector>._domainkey.<domain>.
--
-- State: retiring_at = 0 is an active key (it signs); a key with
-- retiring_at > 0 was replaced by a rotation and no longer signs, but its
-- record stays published until retired_at (end of the grace period), so
-- mail it signed stays verifiable; after retired_at it is retired.
CREATE TABLE dkim_keys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    domain         TEXT NOT NULL,          -- lower case
    selector       TEXT NOT NULL,          -- e.g. tf20261203e
    algorithm      TEXT NOT NULL,          -- ed25519 | rsa
    private_sealed BLOB NOT NULL,          -- PKCS#8, sealed with the server key
    public_key     TEXT NOT NULL,          -- base64 p= value
    created_at     INTEGER NOT NULL,
    retiring_at    INTEGER NOT NULL DEFAULT 0,
    retired_at     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (domain, selector)
);
CREATE INDEX dkim_keys_tenant_domain ON dkim_keys(tenant_id, domain);

-- +goose Down
DROP TABLE dkim_keys;
