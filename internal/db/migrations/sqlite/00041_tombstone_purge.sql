-- +goose Up
-- Tombstone purge (internal/mailstore, see PurgeTombstones): tombstones carry
-- when they were written; each mailbox records (mailboxes.tombstones_purged,
-- added by 00030) the MODSEQ up to which its
-- tombstones may have been purged. A change feed asked for removals since an
-- older MODSEQ answers ResyncRequired. Existing tombstones count as written
-- now, so they are kept for a whole retention period.
ALTER TABLE tombstones ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE tombstones SET created_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX tombstones_created ON tombstones(created_at);

-- +goose Down
DROP INDEX tombstones_created;
ALTER TABLE tombstones DROP COLUMN created_at;
