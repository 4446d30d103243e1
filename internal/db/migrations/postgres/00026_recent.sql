-- +goose Up
-- IMAP \Recent (RFC 3501 section 2.3.2; internal/mailstore ClaimRecent):
-- the messages of a folder with a UID at or above recent_uid have not yet
-- been reported as \Recent to any session. The first session to be told
-- of them (its SELECT, or a new-message update) moves the boundary up to
-- claim them. Existing folders start with nothing recent.
ALTER TABLE folders ADD COLUMN recent_uid BIGINT NOT NULL DEFAULT 1;
UPDATE folders SET recent_uid = uidnext;

-- +goose Down
ALTER TABLE folders DROP COLUMN recent_uid;
