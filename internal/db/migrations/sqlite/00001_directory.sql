-- +goose Up
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tenants (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    initial_domain TEXT NOT NULL UNIQUE,
    created_at     INTEGER NOT NULL
);

CREATE TABLE domains (
    domain     TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    is_initial INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX domains_tenant ON domains(tenant_id);

CREATE TABLE admin_tokens (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE recipients (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type           TEXT NOT NULL,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    alias          TEXT NOT NULL,
    alias_key      TEXT NOT NULL,
    display_name   TEXT NOT NULL DEFAULT '',
    first_name     TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    primary_smtp   TEXT NOT NULL DEFAULT '',
    upn            TEXT NOT NULL DEFAULT '',
    exchange_guid  TEXT,
    archive_guid   TEXT,
    legacy_dn      TEXT,
    external_email TEXT,
    password_hash  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (tenant_id, name_key),
    UNIQUE (tenant_id, alias_key)
);
CREATE UNIQUE INDEX recipients_legacy_dn ON recipients(legacy_dn) WHERE legacy_dn IS NOT NULL;
CREATE UNIQUE INDEX recipients_exchange_guid ON recipients(tenant_id, exchange_guid) WHERE exchange_guid IS NOT NULL;
CREATE UNIQUE INDEX recipients_archive_guid ON recipients(tenant_id, archive_guid) WHERE archive_guid IS NOT NULL;

CREATE TABLE proxies (
    id           INTEGER PRIMARY KEY,
    recipient_id TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    address      TEXT NOT NULL,
    addr_key     TEXT NOT NULL,
    is_primary   INTEGER NOT NULL DEFAULT 0,
    position     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX proxies_smtp ON proxies(addr_key) WHERE prefix = 'smtp';
CREATE UNIQUE INDEX proxies_other ON proxies(tenant_id, prefix, addr_key) WHERE prefix <> 'smtp';
CREATE INDEX proxies_recipient ON proxies(recipient_id);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members(member_id);

CREATE TABLE apps (
    app_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE app_secrets (
    id          TEXT PRIMARY KEY,
    app_id      TEXT NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    hint        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX app_secrets_app ON app_secrets(app_id);

CREATE TABLE consents (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    app_id      TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    jwks_url    TEXT NOT NULL,
    permissions TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    granted_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, app_id)
);

CREATE TABLE orgrels (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    name_key             TEXT NOT NULL,
    domain_names         TEXT NOT NULL,
    enabled              INTEGER NOT NULL DEFAULT 1,
    mailbox_move_enabled INTEGER NOT NULL DEFAULT 0,
    capability           TEXT NOT NULL DEFAULT '',
    oauth_app_id         TEXT NOT NULL DEFAULT '',
    published_scopes     TEXT NOT NULL DEFAULT '',
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE endpoints (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    type              TEXT NOT NULL,
    remote_server     TEXT NOT NULL,
    remote_tenant     TEXT NOT NULL,
    app_id            TEXT NOT NULL,
    secret_enc        BLOB NOT NULL,
    max_migrations    INTEGER NOT NULL,
    max_incremental   INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (tenant_id, name_key)
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    private_enc BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    tenant_id TEXT,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    object    TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_tenant ON audit(tenant_id, at);

-- +goose Down
DROP TABLE audit;
DROP TABLE signing_keys;
DROP TABLE endpoints;
DROP TABLE orgrels;
DROP TABLE consents;
DROP TABLE app_secrets;
DROP TABLE apps;
DROP TABLE group_members;
DROP TABLE proxies;
DROP TABLE recipients;
DROP TABLE admin_tokens;
DROP TABLE domains;
DROP TABLE tenants;
DROP TABLE settings;
