package directory

import (
	"context"
	"database/sql"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// Admin tokens (table admin_tokens). Invariants: only a token's hash is
// stored, so no listing ever shows a token; a tenant's token lists and
// revokes only its tenant's tokens, the operator's (tenant_id NULL) only
// the operator's; an expired or revoked (deleted) token authenticates no
// one.

// Errors of admin tokens.
var (
	// ErrAdminTokenNotFound: no such token of this tenant (or of the
	// operator).
	ErrAdminTokenNotFound = errs.Sentinel(errs.NotFound, "AdminTokenNotFound")
	// ErrInvalidExpiry: a token's expiry is not in the future.
	ErrInvalidExpiry = errs.Sentinel(errs.Invalid, "InvalidExpiry")
	// ErrLastOperatorToken: revoking the last operator token would lock
	// the operator out.
	ErrLastOperatorToken = errs.Sentinel(errs.Conflict, "LastOperatorToken")
)

// AdminToken is an admin token as listed: never the token itself.
type AdminToken struct {
	ID        string
	TenantID  string // "" for an operator token
	Name      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
}

// IssueAdminToken creates an API token expiring at expires (zero: never):
// an operator token when tenantID is empty, else a tenant-admin token. The
// clear-text token is returned once; only its hash is stored.
func (x *Directory) IssueAdminToken(ctx context.Context, tenantID, name string, expires time.Time) (string, *AdminToken, error) {
	if err := CheckName("token name", name); err != nil {
		return "", nil, err
	}
	if !expires.IsZero() && !expires.After(time.Now()) {
		return "", nil, ErrInvalidExpiry.Newf("the expiry %s of token %q is not in the future", expires.UTC().Format(time.RFC3339), name).
			WithObject(name).WithHint("pass --expires with a later time or a duration such as 720h")
	}
	prefix := "tfa_"
	var tid any = tenantID
	if tenantID == "" {
		prefix, tid = "tfo_", nil
	}
	var exp any
	if !expires.IsZero() {
		exp = expires.UnixMilli()
	}
	tok := identity.NewSecret(prefix, 40)
	now := db.Now()
	t := &AdminToken{ID: newID(), TenantID: tenantID, Name: name, CreatedAt: db.Time(now), ExpiresAt: db.Time(db.Millis(expires))}
	err := x.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO admin_tokens (id, tenant_id, token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			t.ID, tid, identity.HashSecret(tok), name, now, exp)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	return tok, t, nil
}

// Authenticate resolves an admin token to its principal; an unknown,
// revoked or expired token is refused (Unauthorized).
func (x *Directory) Authenticate(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, errs.Unauthorizedf("AuthenticationRequired", "no API token was given").
			WithHint("pass --token, set TENANTFERRY_TOKEN, or run from the directory holding tenantferry-data/operator.token")
	}
	var p Principal
	var tid sql.NullString
	var exp sql.NullInt64
	err := x.d.Read().QueryRowContext(ctx, `SELECT id, tenant_id, name, expires_at FROM admin_tokens WHERE token_hash = ?`, identity.HashSecret(token)).
		Scan(&p.TokenID, &tid, &p.Name, &exp)
	if db.IsNoRows(err) {
		return nil, errs.Unauthorizedf("InvalidToken", "the API token is not valid").
			WithHint("use the operator token from DATA/operator.token or a token from 'tenantferry tenant admin-token'")
	}
	if err != nil {
		return nil, err
	}
	if exp.Valid && exp.Int64 <= db.Now() {
		return nil, errs.Unauthorizedf("TokenExpired", "the API token %q expired at %s", p.Name, db.Time(exp.Int64).Format(time.RFC3339)).
			WithHint("ask an admin for a new token ('tenantferry tenant admin-token')")
	}
	p.TenantID = tid.String
	p.Operator = !tid.Valid
	return &p, nil
}

// ListAdminTokens lists the admin tokens of a tenant (tenantID "": the
// operator's), oldest first.
func (x *Directory) ListAdminTokens(ctx context.Context, tenantID string) ([]AdminToken, error) {
	q := `SELECT id, tenant_id, name, created_at, expires_at FROM admin_tokens WHERE tenant_id = ? ORDER BY created_at, id`
	args := []any{tenantID}
	if tenantID == "" {
		q, args = `SELECT id, tenant_id, name, created_at, expires_at FROM admin_tokens WHERE tenant_id IS NULL ORDER BY created_at, id`, nil
	}
	rows, err := x.d.Read().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AdminToken{}
	for rows.Next() {
		var t AdminToken
		var tid sql.NullString
		var created int64
		var exp sql.NullInt64
		if err := rows.Scan(&t.ID, &tid, &t.Name, &created, &exp); err != nil {
			return nil, err
		}
		t.TenantID, t.CreatedAt = tid.String, db.Time(created)
		if exp.Valid {
			t.ExpiresAt = db.Time(exp.Int64)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAdminToken deletes token id of a tenant (tenantID "": of the
// operator); a token of anyone else is AdminTokenNotFound. The last
// operator token is not revoked (LastOperatorToken).
func (x *Directory) RevokeAdminToken(ctx context.Context, tenantID, id string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		var res sql.Result
		var err error
		if tenantID == "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM admin_tokens WHERE tenant_id IS NULL AND id <> ?`, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return ErrLastOperatorToken.Newf("token %s is the last operator token", id).WithObject(id).
					WithHint("issue another operator token before revoking this one")
			}
			res, err = tx.ExecContext(ctx, `DELETE FROM admin_tokens WHERE id = ? AND tenant_id IS NULL`, id)
		} else {
			res, err = tx.ExecContext(ctx, `DELETE FROM admin_tokens WHERE id = ? AND tenant_id = ?`, id, tenantID)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			hint := "list the tokens with 'tenantferry tenant token list'"
			if tenantID == "" {
				hint = "list the operator's tokens with 'tenantferry token list'"
			}
			return ErrAdminTokenNotFound.Newf("no admin token %q here", id).WithObject(id).WithHint("%s", hint)
		}
		return nil
	})
}
