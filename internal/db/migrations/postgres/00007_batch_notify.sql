-- +goose Up
-- When the batch's report mails (NotificationEmails) were sent.
ALTER TABLE batches ADD COLUMN notified_synced_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN notified_completed_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE batches DROP COLUMN notified_completed_at;
ALTER TABLE batches DROP COLUMN notified_synced_at;
