-- +goose Up
-- IMAP migrations (internal/migration, internal/replication/imapsrc): the
-- endpoint's transport security, each IMAP move's sealed source
-- credentials, and each move's mirror of its source mailbox: the folders
-- and messages the IMAP server showed at the last scan, with the
-- synthetic ids and MODSEQs the replication engine reads as a change feed.

ALTER TABLE endpoints ADD COLUMN security TEXT NOT NULL DEFAULT '';

CREATE TABLE imap_credentials (
    move_id    TEXT PRIMARY KEY REFERENCES moves(id) ON DELETE CASCADE,
    username   TEXT NOT NULL,
    secret_enc BLOB NOT NULL          -- the password, sealed with the server key
);

-- imap_mirror is the per-move counter of synthetic MODSEQs.
CREATE TABLE imap_mirror (
    move_id      TEXT PRIMARY KEY REFERENCES moves(id) ON DELETE CASCADE,
    modseq       INTEGER NOT NULL DEFAULT 0,
    capabilities TEXT NOT NULL DEFAULT '',
    scanned_at   INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE imap_folders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT, -- synthetic folder id
    move_id        TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,                -- full name on the server (UTF-8)
    delimiter      TEXT NOT NULL DEFAULT '',
    parent_id      INTEGER NOT NULL DEFAULT 0,   -- 0 at the root
    leaf           TEXT NOT NULL,                -- the name the target gets
    special_use    TEXT NOT NULL DEFAULT '',
    noselect       INTEGER NOT NULL DEFAULT 0,
    uidvalidity    INTEGER NOT NULL DEFAULT 0,
    uidnext        INTEGER NOT NULL DEFAULT 0,
    highest_modseq INTEGER NOT NULL DEFAULT 0,   -- the server's (CONDSTORE)
    messages       INTEGER NOT NULL DEFAULT 0,
    modseq         INTEGER NOT NULL,             -- synthetic MODSEQ of the last hierarchy change
    deleted        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX imap_folders_move ON imap_folders(move_id, modseq);

CREATE TABLE imap_items (
    id            INTEGER PRIMARY KEY AUTOINCREMENT, -- synthetic item id (target origin "imap:ID")
    move_id       TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    folder_id     INTEGER NOT NULL,
    uidvalidity   INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    flags         TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    message_id    TEXT NOT NULL DEFAULT '',
    subject       TEXT NOT NULL DEFAULT '',
    sha256        TEXT NOT NULL DEFAULT '',      -- set when the content was copied
    modseq        INTEGER NOT NULL,              -- synthetic MODSEQ of the last change
    deleted       INTEGER NOT NULL DEFAULT 0     -- a tombstone: expunged at modseq
);
CREATE INDEX imap_items_feed ON imap_items(move_id, deleted, modseq, id);
CREATE INDEX imap_items_folder ON imap_items(folder_id, deleted, uid);

-- +goose Down
DROP TABLE imap_items;
DROP TABLE imap_folders;
DROP TABLE imap_mirror;
DROP TABLE imap_credentials;
ALTER TABLE endpoints DROP COLUMN security;
