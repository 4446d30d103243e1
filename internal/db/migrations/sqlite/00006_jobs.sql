-- +goose Up
-- nodes records the live server processes (River clients) and their
-- heartbeats, so jobs left "running" by a killed process can be rescued
-- quickly (internal/jobs).
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE nodes;
