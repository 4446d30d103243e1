-- +goose Up
-- Blob containers and space reclamation (internal/blobstore; see its package
-- doc). blobs.container names the pack file or S3 object holding a blob
-- ('pack:<file>', 's3:<key>', '' for the database); blob_containers records
-- every container a commit referenced, and fences retired ones: a commit
-- into a container that is not live fails.
ALTER TABLE blobs ADD COLUMN container TEXT NOT NULL DEFAULT '';
UPDATE blobs SET container = 'pack:' || substr(location, 6, instr(substr(location, 6), ':') - 1) WHERE location LIKE 'pack:%';
CREATE INDEX blobs_container ON blobs(container);

CREATE TABLE blob_containers (
    name       TEXT PRIMARY KEY,          -- 'pack:<file>' or 's3:<key>'
    state      TEXT NOT NULL,             -- live | dead | deleted
    size       INTEGER NOT NULL,          -- bytes written when first registered (S3: the object's size)
    created_at INTEGER NOT NULL,
    dead_at    INTEGER NOT NULL DEFAULT 0 -- when it was retired (dead) or deleted
);
CREATE INDEX blob_containers_state ON blob_containers(state, dead_at);
INSERT INTO blob_containers (name, state, size, created_at, dead_at)
    SELECT DISTINCT container, 'live', 0, CAST(strftime('%s', 'now') AS INTEGER) * 1000, 0 FROM blobs WHERE container <> '';

-- +goose Down
DROP TABLE blob_containers;
DROP INDEX blobs_container;
ALTER TABLE blobs DROP COLUMN container;
