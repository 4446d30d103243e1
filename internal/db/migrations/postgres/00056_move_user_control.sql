-- +goose Up
-- Per-user control (issue 11 item 2), owned by internal/migration: a
-- user's own completion request (migrationuser complete) and its own
-- approval of skipped items (migrationuser approve-skipped-items), beside
-- the batch's.
ALTER TABLE moves ADD COLUMN complete_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE moves ADD COLUMN approve_skipped BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE moves DROP COLUMN approve_skipped;
ALTER TABLE moves DROP COLUMN complete_requested;
