-- +goose Up
-- Duplicate suppression of the queue (internal/delivery): a message
-- received again over SMTP with the same envelope and the same bytes (a
-- client that retried because the connection broke after our 250, such as
-- a peer relaying after a crash) is acknowledged without being queued
-- twice. dedup_key hashes the envelope and the bytes as received; empty for
-- messages made here (bounces, notifications).
ALTER TABLE queue_messages ADD COLUMN dedup_key TEXT NOT NULL DEFAULT '';
CREATE INDEX queue_messages_dedup ON queue_messages(dedup_key) WHERE dedup_key <> '';

-- +goose Down
DROP INDEX queue_messages_dedup;
ALTER TABLE queue_messages DROP COLUMN dedup_key;
