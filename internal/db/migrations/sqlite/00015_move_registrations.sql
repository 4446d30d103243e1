-- +goose Up
-- Registered moves (internal/migration/source, which owns this table): the
-- source side's record that a target tenant's migration app is moving one
-- of this server's mailboxes. Lock, unlock and finalize of the replication
-- API require one (issue 7 hole 3); the target registers at every pass
-- (idempotent per target move id) and removes it when its batch is
-- removed; finalize marks it Completed; a source admin may cancel it.

CREATE TABLE move_registrations (
    id                     TEXT PRIMARY KEY,          -- GUID, shown to the source admin
    tenant_id              TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,      -- the source tenant
    recipient_id           TEXT NOT NULL REFERENCES recipients(id) ON DELETE CASCADE,   -- the source mailbox
    app_id                 TEXT NOT NULL,             -- the migration app (token appid)
    target_tenant_id       TEXT NOT NULL,             -- the target tenant (token tid)
    move_id                TEXT NOT NULL,             -- the target's move request id
    target_delivery_domain TEXT NOT NULL,             -- finalize forwards only into this domain
    state                  TEXT NOT NULL,             -- Registered | Completed | Cancelled
    locked_at              INTEGER NOT NULL DEFAULT 0,   -- when this move locked the source (0: not holding it)
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (tenant_id, app_id, target_tenant_id, move_id)
);
CREATE INDEX move_registrations_recipient ON move_registrations(tenant_id, recipient_id);

-- +goose Down
DROP TABLE move_registrations;
