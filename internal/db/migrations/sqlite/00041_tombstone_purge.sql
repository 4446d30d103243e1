-- +goose Up
-- Tombstone purge (internal/mailstore, see PurgeTombstones): tombstones carry
-- when they were written, and each mailbox records the MODSEQ up to which its
-- tombstones may have been purged. A change feed asked for removals since an
-- older MODSEQ answers ResyncRequired. Existing tombstones count as written
-- now, so they are kept for a whole retention period.
ALTER TABLE tombstones ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE tombstones SET created_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX tombstones_created ON tombstones(created_at);
ALTER TABLE mailboxes ADD COLUMN tombstones_purged INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE mailboxes DROP COLUMN tombstones_purged;
DROP INDEX tombstones_created;
ALTER TABLE tombstones DROP COLUMN created_at;
