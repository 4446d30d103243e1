-- +goose Up
-- Per-user control (issue 11 item 2), owned by internal/migration: a
-- user's own completion request (migrationuser complete) and its own
-- approval of skipped items (migrationuser approve-skipped-items), beside
-- the batch's.
ALTER TABLE moves ADD COLUMN complete_requested INTEGER NOT NULL DEFAULT 0;
ALTER TABLE moves ADD COLUMN approve_skipped INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE moves DROP COLUMN approve_skipped;
ALTER TABLE moves DROP COLUMN complete_requested;
