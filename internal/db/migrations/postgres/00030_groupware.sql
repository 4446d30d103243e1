-- +goose Up
-- Groupware objects in the mailbox store (internal/mailstore, used by
-- internal/groupware and the CalDAV/CardDAV adapter internal/dav).
--
-- A calendar, task or contact object is an item of a folder of class
-- IPF.Appointment, IPF.Task or IPF.Contact, stored byte-exact in the blob
-- store like a message. It carries the resource name its client gave it
-- (the last segment of its URL) and the UID of the object. Both are indexed
-- per folder but not declared unique: replication applies an object's new
-- version before the deletion of its old one, so both may coexist for a
-- moment on a move target. CalDAV/CardDAV writes enforce uniqueness under
-- the mailbox row lock (see internal/mailstore).
ALTER TABLE items ADD COLUMN name TEXT;
ALTER TABLE items ADD COLUMN obj_uid TEXT;
CREATE INDEX items_folder_name ON items(folder_id, name) WHERE name IS NOT NULL;
CREATE INDEX items_folder_uid_key ON items(folder_id, obj_uid) WHERE obj_uid IS NOT NULL;
CREATE INDEX items_folder_modseq ON items(folder_id, modseq);

-- A removed object's resource name, so a sync-collection report can name
-- what disappeared.
ALTER TABLE tombstones ADD COLUMN name TEXT;

-- Collection properties (display name, colour, description, supported
-- components, dead properties) as a JSON object, '' for none.
ALTER TABLE folders ADD COLUMN props TEXT NOT NULL DEFAULT '';

-- Tombstones up to this MODSEQ were purged: a change feed or sync token
-- older than it cannot be answered incrementally.
ALTER TABLE mailboxes ADD COLUMN tombstones_purged BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE mailboxes DROP COLUMN tombstones_purged;
ALTER TABLE folders DROP COLUMN props;
ALTER TABLE tombstones DROP COLUMN name;
DROP INDEX items_folder_modseq;
DROP INDEX items_folder_uid_key;
DROP INDEX items_folder_name;
ALTER TABLE items DROP COLUMN obj_uid;
ALTER TABLE items DROP COLUMN name;
