-- +goose Up
-- An endpoint's bandwidth cap in bytes per second (0: none), owned by
-- internal/directory; the passes running for the endpoint on every node
-- share it (internal/migration, slots.go).
ALTER TABLE endpoints ADD COLUMN max_bytes_per_second INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN max_bytes_per_second;
