-- +goose Up
-- Cross-tenant migration (internal/migration, internal/replication).

CREATE TABLE batches (
    id                      TEXT PRIMARY KEY,
    tenant_id               TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    name_key                TEXT NOT NULL,
    endpoint_id             TEXT NOT NULL,
    endpoint_name           TEXT NOT NULL,
    target_delivery_domain  TEXT NOT NULL,
    auto_start              INTEGER NOT NULL DEFAULT 0,
    auto_complete           INTEGER NOT NULL DEFAULT 0,
    start_after             INTEGER NOT NULL DEFAULT 0,
    complete_after          INTEGER NOT NULL DEFAULT 0,
    incremental_interval_ms INTEGER NOT NULL,
    large_item_limit        INTEGER NOT NULL,
    notification_emails     TEXT NOT NULL DEFAULT '',
    control                 TEXT NOT NULL,          -- Created | Started | Stopped | Removed
    approve_skipped         INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    started_at              INTEGER NOT NULL DEFAULT 0,
    completion_requested_at INTEGER NOT NULL DEFAULT 0,
    removed_at              INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX batches_name ON batches(tenant_id, name_key) WHERE removed_at = 0;

CREATE TABLE moves (
    id                   TEXT PRIMARY KEY,
    batch_id             TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    tenant_id            TEXT NOT NULL,
    email                TEXT NOT NULL,
    email_key            TEXT NOT NULL,
    csv_line             INTEGER NOT NULL,
    mailbox_type         TEXT NOT NULL,
    active               INTEGER NOT NULL DEFAULT 1, -- 0 once the batch is removed
    state                TEXT NOT NULL,
    status_detail        TEXT NOT NULL DEFAULT '',
    error_code           TEXT NOT NULL DEFAULT '',
    error_message        TEXT NOT NULL DEFAULT '',
    target_recipient_id  TEXT NOT NULL DEFAULT '',
    source_tenant_id     TEXT NOT NULL DEFAULT '',
    source_address       TEXT NOT NULL DEFAULT '',
    exchange_guid        TEXT NOT NULL DEFAULT '',
    archive_guid         TEXT NOT NULL DEFAULT '',
    items_total          INTEGER NOT NULL DEFAULT 0,
    items_synced         INTEGER NOT NULL DEFAULT 0,
    items_skipped        INTEGER NOT NULL DEFAULT 0,
    bytes_total          INTEGER NOT NULL DEFAULT 0,
    bytes_transferred    INTEGER NOT NULL DEFAULT 0,
    consistency          TEXT NOT NULL DEFAULT '',
    completion_step      TEXT NOT NULL DEFAULT '',
    sync_gen             INTEGER NOT NULL DEFAULT 0, -- sync requests made
    synced_gen           INTEGER NOT NULL DEFAULT 0, -- sync requests covered by a finished pass
    pass_job             INTEGER NOT NULL DEFAULT 0, -- River job id running the current pass
    queued_at            INTEGER NOT NULL DEFAULT 0,
    started_at           INTEGER NOT NULL DEFAULT 0,
    initial_sync_done_at INTEGER NOT NULL DEFAULT 0,
    initial_sync_ms      INTEGER NOT NULL DEFAULT 0,
    last_sync_at         INTEGER NOT NULL DEFAULT 0,
    last_sync_ms         INTEGER NOT NULL DEFAULT 0,
    completion_started_at INTEGER NOT NULL DEFAULT 0,
    completed_at         INTEGER NOT NULL DEFAULT 0,
    lock_started_at      INTEGER NOT NULL DEFAULT 0,
    lock_ended_at        INTEGER NOT NULL DEFAULT 0,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX moves_batch ON moves(batch_id);
CREATE UNIQUE INDEX moves_active_user ON moves(tenant_id, email_key) WHERE active = 1;

CREATE TABLE move_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    move_id TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX move_log_move ON move_log(move_id, id);

CREATE TABLE move_skipped (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    move_id     TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,   -- primary | archive
    source_item TEXT NOT NULL,
    folder      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    item_date   INTEGER NOT NULL,
    size        INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    UNIQUE (move_id, kind, source_item)
);

-- sync_state is the watermark of one mailbox (primary or archive) of a move.
-- It advances in the same transaction as the target writes it covers.
CREATE TABLE sync_state (
    move_id       TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    folder_state  INTEGER NOT NULL DEFAULT 0, -- source hierarchy MODSEQ applied
    item_modseq   INTEGER NOT NULL DEFAULT 0, -- item cursor (modseq, id) within the pass
    item_id       INTEGER NOT NULL DEFAULT 0,
    del_modseq    INTEGER NOT NULL DEFAULT 0, -- tombstone cursor (modseq, id) of deletions applied
    del_id        INTEGER NOT NULL DEFAULT 0,
    pass_upto     INTEGER NOT NULL DEFAULT 0, -- source MODSEQ the current pass runs to
    synced_upto   INTEGER NOT NULL DEFAULT 0, -- source MODSEQ fully applied
    PRIMARY KEY (move_id, kind)
);

-- +goose Down
DROP TABLE sync_state;
DROP TABLE move_skipped;
DROP TABLE move_log;
DROP TABLE moves;
DROP TABLE batches;
