-- +goose Up
-- Delivery queue (internal/delivery). See the package doc of internal/delivery
-- for the invariants these tables carry. A message is acknowledged with 250
-- only after its bytes are durable in the blob store and these rows committed,
-- in the same transaction as the River jobs that deliver them.

CREATE TABLE queue_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    uid         TEXT NOT NULL UNIQUE,          -- random queue id; local delivery origin key is 'dlv:' || uid
    mail_from   TEXT NOT NULL,                 -- envelope sender; '' is the null sender (never bounced to)
    sha256      TEXT NOT NULL,                 -- blob: our Received header + the exact bytes received
    size        INTEGER NOT NULL,
    hops        INTEGER NOT NULL,              -- Received header fields, ours included
    source      TEXT NOT NULL,                 -- smtp | submission | dsn | api
    relay       INTEGER NOT NULL DEFAULT 0,    -- recipients outside this server's domains may be sent to
    auth_user   TEXT NOT NULL DEFAULT '',      -- submission: the authenticated address
    remote_addr TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL               -- bounced when still undelivered after this
);

-- queue_recipients is one row per envelope recipient (and per member of an
-- expanded group). A row reaches exactly one final state.
CREATE TABLE queue_recipients (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id  INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
    parent_id   INTEGER NOT NULL DEFAULT 0,    -- the group row this one was expanded from, 0 = envelope
    rcpt        TEXT NOT NULL,
    rcpt_key    TEXT NOT NULL,                 -- lower-cased rcpt
    depth       INTEGER NOT NULL DEFAULT 0,    -- group expansion depth
    state       TEXT NOT NULL,                 -- queued | held | delivered | relayed | expanded | bounced
    attempts    INTEGER NOT NULL DEFAULT 0,    -- failed attempts (holds are not attempts)
    last_error  TEXT NOT NULL DEFAULT '',
    held_tenant TEXT NOT NULL DEFAULT '',      -- while held: the locked mailbox it waits for
    held_guid   TEXT NOT NULL DEFAULT '',
    job_id      INTEGER NOT NULL DEFAULT 0,    -- while held: the scheduled River job that carries it
    result      TEXT NOT NULL DEFAULT '',      -- final: mailbox GUID, remote host, or bounce status
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (message_id, rcpt_key)
);
CREATE INDEX queue_recipients_held ON queue_recipients(held_tenant, held_guid) WHERE state = 'held';
CREATE INDEX queue_recipients_open ON queue_recipients(state) WHERE state IN ('queued', 'held');

-- +goose Down
DROP TABLE queue_recipients;
DROP TABLE queue_messages;
