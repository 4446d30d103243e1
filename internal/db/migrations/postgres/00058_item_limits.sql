-- +goose Up
-- Exchange's item limits, owned by internal/migration: max_item_size is
-- the size cap in bytes (items above it are skipped as large items; it
-- was large_item_limit before), large_item_limit and bad_item_limit are
-- counts of skipped large and bad (corrupt) items a move may have before
-- it fails (-1: unlimited, the DataConsistencyScore decides).
-- report_interval_ms is Set-MigrationBatch -ReportInterval: a batch with
-- NotificationEmails mails its report this often while it runs (0: only
-- at Synced and Completed); last_report_at is when the last one went.
-- move_skipped.class tells a large item from a bad one. A move's own
-- complete_after and item limits are Set-MigrationUser's (-2: the
-- batch's limit; 0 complete_after: the batch's schedule).
ALTER TABLE batches ADD COLUMN max_item_size BIGINT NOT NULL DEFAULT 157286400;
ALTER TABLE batches ADD COLUMN bad_item_limit BIGINT NOT NULL DEFAULT -1;
ALTER TABLE batches ADD COLUMN report_interval_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN last_report_at BIGINT NOT NULL DEFAULT 0;
UPDATE batches SET max_item_size = large_item_limit, large_item_limit = -1;
ALTER TABLE move_skipped ADD COLUMN class TEXT NOT NULL DEFAULT 'BadItem';
ALTER TABLE moves ADD COLUMN complete_after BIGINT NOT NULL DEFAULT 0;
ALTER TABLE moves ADD COLUMN large_item_limit BIGINT NOT NULL DEFAULT -2;
ALTER TABLE moves ADD COLUMN bad_item_limit BIGINT NOT NULL DEFAULT -2;
UPDATE move_skipped SET class = 'LargeItem' WHERE reason LIKE 'LargeItem:%' OR reason LIKE '%ObjectTooLarge%';

-- +goose Down
ALTER TABLE moves DROP COLUMN bad_item_limit;
ALTER TABLE moves DROP COLUMN large_item_limit;
ALTER TABLE moves DROP COLUMN complete_after;
ALTER TABLE move_skipped DROP COLUMN class;
UPDATE batches SET large_item_limit = max_item_size;
ALTER TABLE batches DROP COLUMN last_report_at;
ALTER TABLE batches DROP COLUMN report_interval_ms;
ALTER TABLE batches DROP COLUMN bad_item_limit;
ALTER TABLE batches DROP COLUMN max_item_size;
