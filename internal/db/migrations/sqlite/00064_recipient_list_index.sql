-- +goose Up
-- Directory lists by type (mailboxes, mail users, groups) are keyset
-- paginated on name_key: this index reads a page of one type in order
-- without walking the tenant's recipients of the other types (owned by
-- internal/directory).
CREATE INDEX recipients_type_name ON recipients(tenant_id, type, name_key);

-- +goose Down
DROP INDEX recipients_type_name;
