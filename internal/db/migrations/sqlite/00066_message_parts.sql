-- +goose Up
-- The MIME part tree of stored content (internal/message), keyed by the
-- content's SHA-256 and filled on first access, so FETCH and SEARCH read
-- only the byte ranges they serve (owned by internal/mailstore).
CREATE TABLE message_parts (
    sha256  TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    tree    BLOB NOT NULL
);

-- +goose Down
DROP TABLE message_parts;
