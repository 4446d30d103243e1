-- +goose Up
-- Shared mailboxes and mailbox permissions (internal/directory owns both).
-- A shared mailbox is a UserMailbox with RecipientTypeDetails
-- SharedMailbox: content of its own, no password; people reach it through
-- the permissions granted to them (Add-MailboxPermission FullAccess,
-- Add-RecipientPermission SendAs).

ALTER TABLE recipients ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;

CREATE TABLE mailbox_permissions (
    id            INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    mailbox_id    TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,  -- the mailbox granted
    user_id       TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,  -- the mailbox user it is granted to
    access_right  TEXT NOT NULL,                                              -- FullAccess | SendAs
    created_at    INTEGER NOT NULL,
    UNIQUE (mailbox_id, user_id, access_right)
);
CREATE INDEX mailbox_permissions_user ON mailbox_permissions(user_id, access_right);

-- +goose Down
DROP TABLE mailbox_permissions;
ALTER TABLE recipients DROP COLUMN shared;
