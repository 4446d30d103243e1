-- +goose Up
-- Inbound authentication results of queued messages (internal/delivery,
-- filled by internal/mailauth checks at the MX): the Authentication-Results
-- value this server prepended (reused as the ARC-Authentication-Results of a
-- forward), the ARC chain validation of the message as received, and
-- whether DMARC asked for quarantine (local delivery goes to Junk Email).
ALTER TABLE queue_messages ADD COLUMN auth_results TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_messages ADD COLUMN arc_chain TEXT NOT NULL DEFAULT '';
ALTER TABLE queue_messages ADD COLUMN junk INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE queue_messages DROP COLUMN junk;
ALTER TABLE queue_messages DROP COLUMN arc_chain;
ALTER TABLE queue_messages DROP COLUMN auth_results;
