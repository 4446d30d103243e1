-- +goose Up
-- Mailbox store (internal/blobstore, internal/mailstore). See the package docs
-- of internal/mailstore for the invariants these tables carry.

-- blobs records content-addressed raw message bytes that are durable. A row is
-- inserted only after the bytes it points to were fsynced (pack backend) or in
-- the same transaction as its blob_data rows (database backend).
CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,          -- lower-case hex SHA-256 of the exact bytes
    size       INTEGER NOT NULL,
    location   TEXT NOT NULL,             -- 'db' or 'pack:<file>:<offset>'
    created_at INTEGER NOT NULL
);

-- blob_data holds the bytes of blobs whose location is 'db', in chunks.
CREATE TABLE blob_data (
    sha256 TEXT NOT NULL REFERENCES blobs(sha256) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);

CREATE TABLE mailboxes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        TEXT NOT NULL,
    guid             TEXT NOT NULL,       -- ExchangeGuid or ArchiveGuid, lower-case
    kind             TEXT NOT NULL,       -- primary | archive
    state            TEXT NOT NULL,       -- active | locked | staging | retired
    modseq           INTEGER NOT NULL,    -- highest MODSEQ handed out
    next_uidvalidity INTEGER NOT NULL,    -- UIDVALIDITY for the next new folder
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (tenant_id, guid)
);

CREATE TABLE folders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    stable_id   TEXT NOT NULL,            -- never changes, never reused
    parent_id   TEXT NOT NULL DEFAULT '', -- stable_id of the parent, '' = root
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,            -- lower-cased name
    path        TEXT NOT NULL,            -- full path, '/' delimited
    path_key    TEXT NOT NULL,            -- lower-cased path
    class       TEXT NOT NULL,            -- IPF.Note | IPF.Appointment | IPF.Contact | IPF.Task
    special_use TEXT NOT NULL DEFAULT '', -- \Inbox \Sent \Drafts \Trash \Junk \Archive or ''
    uidvalidity INTEGER NOT NULL,
    uidnext     INTEGER NOT NULL DEFAULT 1,
    modseq      INTEGER NOT NULL,         -- MODSEQ of the last hierarchy change
    deleted     INTEGER NOT NULL DEFAULT 0,
    subscribed  INTEGER NOT NULL DEFAULT 1,
    origin      TEXT,                     -- source folder id when created by replication
    created_at  INTEGER NOT NULL,
    UNIQUE (mailbox_id, stable_id)
);
CREATE UNIQUE INDEX folders_name ON folders(mailbox_id, parent_id, name_key) WHERE deleted = 0;
CREATE UNIQUE INDEX folders_special ON folders(mailbox_id, special_use) WHERE special_use <> '' AND deleted = 0;
CREATE UNIQUE INDEX folders_origin ON folders(mailbox_id, origin) WHERE origin IS NOT NULL AND deleted = 0;
CREATE INDEX folders_path ON folders(mailbox_id, path_key);
CREATE INDEX folders_modseq ON folders(mailbox_id, modseq);

CREATE TABLE items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- the stable item id, never reused
    mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder_id     INTEGER NOT NULL REFERENCES folders(id),
    uid           INTEGER NOT NULL,
    modseq        INTEGER NOT NULL,
    flags         TEXT NOT NULL DEFAULT '', -- normalized: sorted, deduplicated, space separated
    internal_date INTEGER NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL REFERENCES blobs(sha256),
    origin        TEXT,                     -- idempotency key (source item id, delivery id)
    subject       TEXT NOT NULL DEFAULT '',
    message_id    TEXT NOT NULL DEFAULT '',
    from_addr     TEXT NOT NULL DEFAULT '',
    sent_date     INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX items_folder_uid ON items(folder_id, uid);
CREATE INDEX items_changes ON items(mailbox_id, modseq, id);
CREATE UNIQUE INDEX items_origin ON items(mailbox_id, origin) WHERE origin IS NOT NULL;
CREATE INDEX items_sha256 ON items(sha256);

CREATE TABLE tombstones (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    folder_id  INTEGER NOT NULL,
    uid        INTEGER NOT NULL,
    item_id    INTEGER NOT NULL,
    modseq     INTEGER NOT NULL,
    moved      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tombstones_changes ON tombstones(mailbox_id, modseq, id);
CREATE INDEX tombstones_folder ON tombstones(folder_id, modseq);

-- +goose Down
DROP TABLE tombstones;
DROP TABLE items;
DROP TABLE folders;
DROP TABLE mailboxes;
DROP TABLE blob_data;
DROP TABLE blobs;
