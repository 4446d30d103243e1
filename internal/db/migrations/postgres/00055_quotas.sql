-- +goose Up
-- Quotas (issue 10 item 7), owned by internal/directory: a mailbox's
-- ProhibitSendReceiveQuota (its primary mailbox, every folder and
-- groupware object counted) and a tenant's quota over all its mailboxes,
-- in bytes; 0 is unlimited. Usage is counted by internal/mailstore from
-- the items themselves, so it cannot drift; internal/quota compares.
ALTER TABLE recipients ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN quota_bytes BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE tenants DROP COLUMN quota_bytes;
ALTER TABLE recipients DROP COLUMN quota_bytes;
