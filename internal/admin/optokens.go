package admin

import (
	"context"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// Operator tokens (admin tokens with no tenant). Invariant: only the
// operator lists, issues or revokes them; a tenant admin is refused with
// OperatorRequired before anything is read or written.

// IssueOperatorToken issues another operator token expiring at expires
// (zero: never); the token is returned once.
func (c *Core) IssueOperatorToken(ctx context.Context, p *Principal, name string, expires time.Time) (string, *directory.AdminToken, error) {
	if err := requireOperator(p); err != nil {
		return "", nil, err
	}
	if name == "" {
		name = "operator"
	}
	tok, at, err := c.Dir.IssueAdminToken(ctx, "", name, expires)
	if err != nil {
		return "", nil, err
	}
	c.audit(ctx, p, "", "operator.token", name)
	return tok, at, nil
}

// OperatorTokens lists the operator's tokens (never the tokens, never a
// tenant's).
func (c *Core) OperatorTokens(ctx context.Context, p *Principal) ([]directory.AdminToken, error) {
	if err := requireOperator(p); err != nil {
		return nil, err
	}
	return c.Dir.ListAdminTokens(ctx, "")
}

// RevokeOperatorToken revokes one of the operator's tokens by its id; the
// last one is refused (directory.ErrLastOperatorToken).
func (c *Core) RevokeOperatorToken(ctx context.Context, p *Principal, id string) error {
	if err := requireOperator(p); err != nil {
		return err
	}
	if err := c.Dir.RevokeAdminToken(ctx, "", id); err != nil {
		return err
	}
	c.audit(ctx, p, "", "operator.token.revoke", id)
	return nil
}
