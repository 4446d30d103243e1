package cli

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// tenantTokenCmd is `tenant token list|create|revoke --tenant T`: the
// tenant's admin tokens (a tenant admin sees only its own tenant's; the
// token itself is printed once, by create, and never listed).
func (e *env) tenantTokenCmd() *cobra.Command {
	path := func(tp string, _ []string) string { return tp + "/admin-tokens" }
	list := e.listCmd("list", "List the tenant's admin tokens (never the tokens themselves)", cobra.NoArgs, true,
		view{[]string{"Id", "Name", "WhenCreated", "ExpiresAt", "Current"}}, path)
	var name, expires string
	create := e.apiCmd("create", "Issue a tenant-admin token; prints it once", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/admin-tokens", apitypes.AdminTokenCreate{Name: name, Expires: expires})
		})
	create.Flags().StringVar(&name, "name", "cli", "the token's name (audit, whoami)")
	create.Flags().StringVar(&expires, "expires", "", "when the token stops working: a duration (720h) or an RFC 3339 time (default: never)")
	revoke := e.apiCmd("revoke ID", "Revoke a tenant-admin token: it stops working at once", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			if _, err := c.do(ctx, http.MethodDelete, tp+"/admin-tokens/"+esc(a[0]), nil); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"Revoked": a[0]})
		})
	revoke = e.confirmed(revoke, confirmation{warn: func(id string) string {
		return "This revokes admin token " + id + ": whoever holds it loses access at once"
	}})
	return group("token", "List, issue and revoke the tenant's admin tokens", list, create, revoke)
}

// operatorTokenCmd is `token list|create|revoke`: the operator's tokens
// (operator only; a tenant admin gets OperatorRequired). The token itself
// is printed once, by create, and never listed; the last operator token
// is not revoked (LastOperatorToken).
func (e *env) operatorTokenCmd() *cobra.Command {
	const p = "/api/v1/admin-tokens"
	list := e.listCmd("list", "List the operator's tokens (never the tokens themselves)", cobra.NoArgs, false,
		view{[]string{"Id", "Name", "WhenCreated", "ExpiresAt", "Current"}}, func(string, []string) string { return p })
	var name, expires string
	create := e.apiCmd("create", "Issue an operator token; prints it once", cobra.NoArgs, false, view{},
		func(ctx context.Context, c *client, _ string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, p, apitypes.AdminTokenCreate{Name: name, Expires: expires})
		})
	create.Flags().StringVar(&name, "name", "operator", "the token's name (audit, whoami)")
	create.Flags().StringVar(&expires, "expires", "", "when the token stops working: a duration (720h) or an RFC 3339 time (default: never)")
	revoke := e.apiCmd("revoke ID", "Revoke an operator token: it stops working at once (not the last one)", cobra.ExactArgs(1), false, view{},
		func(ctx context.Context, c *client, _ string, a []string) ([]byte, error) {
			if _, err := c.do(ctx, http.MethodDelete, p+"/"+esc(a[0]), nil); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]string{"Revoked": a[0]})
		})
	revoke = e.confirmed(revoke, confirmation{warn: func(id string) string {
		return "This revokes operator token " + id + ": whoever holds it loses operator access at once"
	}})
	return group("token", "List, issue and revoke the operator's tokens (operator only)", list, create, revoke)
}
