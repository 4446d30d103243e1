-- +goose Up
-- OAuth2 sign-in of an IMAP endpoint's users, owned by internal/directory:
-- the token endpoint, scope, grant (refresh_token: a refresh token per
-- user in the batch CSV; client_credentials: a service account) and SASL
-- mechanism (XOAUTH2 or OAUTHBEARER). The OAuth client id and secret are
-- the endpoint's app_id and secret_enc. '' token URL: password logins.
ALTER TABLE endpoints ADD COLUMN oauth_token_url TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN oauth_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN oauth_grant TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN oauth_mechanism TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE endpoints DROP COLUMN oauth_mechanism;
ALTER TABLE endpoints DROP COLUMN oauth_grant;
ALTER TABLE endpoints DROP COLUMN oauth_scope;
ALTER TABLE endpoints DROP COLUMN oauth_token_url;
