-- +goose Up
-- Mails to the moved users and password continuity, owned by
-- internal/migration (usermail.go). A batch with notify_users mails each
-- user before its cutover (to its source address) and after it (to the
-- new mailbox), once each (moves.user_notified_before_at / _after_at).
-- password_continuity is '' (none), 'carry' (a same-server move copies
-- the password hash) or 'link' (the before-cutover mail carries a
-- one-time set-password link: password_links, by the SHA-256 of the
-- token). migration_templates are a tenant's own texts of those mails.
ALTER TABLE batches ADD COLUMN notify_users INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN password_continuity TEXT NOT NULL DEFAULT '';
ALTER TABLE moves ADD COLUMN user_notified_before_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE moves ADD COLUMN user_notified_after_at INTEGER NOT NULL DEFAULT 0;
CREATE TABLE password_links (
    token_sha256 TEXT PRIMARY KEY,
    move_id      TEXT NOT NULL UNIQUE REFERENCES moves(id) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    recipient_id TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE migration_templates (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind)
);

-- +goose Down
DROP TABLE migration_templates;
DROP TABLE password_links;
ALTER TABLE moves DROP COLUMN user_notified_after_at;
ALTER TABLE moves DROP COLUMN user_notified_before_at;
ALTER TABLE batches DROP COLUMN password_continuity;
ALTER TABLE batches DROP COLUMN notify_users;
