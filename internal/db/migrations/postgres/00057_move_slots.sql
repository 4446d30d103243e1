-- +goose Up
-- Concurrency slots of endpoints, owned by internal/migration (slots.go):
-- a move holds a row while it runs a pass, so an endpoint's
-- MaxConcurrentMigrations and MaxConcurrentIncrementalSyncs hold across
-- every node sharing the database. A slot's lease is renewed while its
-- pass runs; one past expires_at belongs to a dead node. A move that
-- found no free slot waits in move_slot_waiters, and the move that frees
-- a slot wakes the oldest waiter's job.
CREATE TABLE move_slots (
    move_id     TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    node_id     TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX move_slots_endpoint ON move_slots(endpoint_id);
CREATE TABLE move_slot_waiters (
    move_id     TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    job_id      BIGINT NOT NULL,
    since       BIGINT NOT NULL
);
CREATE INDEX move_slot_waiters_endpoint ON move_slot_waiters(endpoint_id, since);

-- +goose Down
DROP TABLE move_slot_waiters;
DROP TABLE move_slots;
