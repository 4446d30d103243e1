-- +goose Up
-- A move's synced items per folder class (IPF.Note, IPF.Appointment,
-- IPF.Contact, IPF.Task) as a JSON object, recorded with items_synced at the
-- end of every pass ('' before the first).
ALTER TABLE moves ADD COLUMN items_by_class TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE moves DROP COLUMN items_by_class;
