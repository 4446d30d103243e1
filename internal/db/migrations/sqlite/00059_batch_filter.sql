-- +goose Up
-- A batch's content filter, owned by internal/migration: the JSON of
-- replication.Filter (internal-date range, folder include and exclude
-- rules); '' copies everything.
ALTER TABLE batches ADD COLUMN item_filter TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE batches DROP COLUMN item_filter;
