-- +goose Up
-- Onboarding calendars and address books from a CalDAV/CardDAV server with
-- an IMAP batch (issue 9 item 5): the IMAP endpoint's optional CalDAV and
-- CardDAV URLs (internal/directory), and the per-move record of every
-- source object copied (internal/migration owns dav_items): its URL path
-- on the source, the target collection and object name, the source ETag
-- it was copied at and the SHA-256 of the bytes written. A pass copies
-- objects whose ETag changed and deletes on the target those gone from
-- the source; verification compares these hashes with the target's.
ALTER TABLE endpoints ADD COLUMN caldav_url TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN carddav_url TEXT NOT NULL DEFAULT '';
CREATE TABLE dav_items (
    move_id    TEXT NOT NULL REFERENCES moves(id) ON DELETE CASCADE,
    href       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    collection TEXT NOT NULL,
    name       TEXT NOT NULL,
    etag       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    PRIMARY KEY (move_id, href)
);

-- +goose Down
DROP TABLE dav_items;
ALTER TABLE endpoints DROP COLUMN carddav_url;
ALTER TABLE endpoints DROP COLUMN caldav_url;
