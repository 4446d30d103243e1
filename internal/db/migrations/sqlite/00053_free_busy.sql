-- +goose Up
-- Free/busy coexistence during a migration (issue 9 item 6): an
-- organization relationship with FreeBusyAccessEnabled lets the partner
-- tenant ask for the free/busy times of this tenant's mailboxes in the
-- published scope (source side), and makes this tenant's CalDAV
-- free-busy queries for its stamped MailUsers answer from the partner
-- (target side) through the migration app's token (internal/directory).
ALTER TABLE orgrels ADD COLUMN free_busy_access INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE orgrels DROP COLUMN free_busy_access;
