-- +goose Up
-- A repair requested for a move (migrationuser resync), owned by
-- internal/migration: its next pass lists the whole source again, copies
-- what the target lacks and deletes what the source no longer has, then
-- clears the flag.
ALTER TABLE moves ADD COLUMN repair_requested BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE moves DROP COLUMN repair_requested;
