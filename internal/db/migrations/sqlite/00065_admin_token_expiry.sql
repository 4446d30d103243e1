-- +goose Up
-- Admin tokens may expire (issue 12, the Tokens page): expires_at is unix
-- milliseconds, NULL for a token that never expires; an expired token is
-- refused like an unknown one (owned by internal/directory).
ALTER TABLE admin_tokens ADD COLUMN expires_at INTEGER;
CREATE INDEX admin_tokens_tenant ON admin_tokens(tenant_id, created_at);

-- +goose Down
DROP INDEX admin_tokens_tenant;
ALTER TABLE admin_tokens DROP COLUMN expires_at;
