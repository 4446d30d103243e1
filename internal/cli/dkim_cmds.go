package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// dkimCols are the table columns of `domain dkim` output: the state and
// the TXT record to publish.
var dkimCols = []string{"Selector", "Algorithm", "Status", "RetiredAt", "ZoneLine"}

// dkimCmd is `domain dkim add|rotate|list DOMAIN` (docs/architecture.md §12).
func (e *env) dkimCmd() *cobra.Command {
	path := func(tp string, a []string) string { return tp + "/domains/" + esc(a[0]) + "/dkim" }
	var alg string
	add := e.apiCmd("add DOMAIN", "Create the DKIM keys of an accepted domain and print the DNS records to publish",
		cobra.ExactArgs(1), true, view{dkimCols},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, path(tp, a), apitypes.DkimAdd{Algorithm: alg})
		})
	add.Flags().StringVar(&alg, "algorithm", "both", "key type: ed25519, rsa (2048 bits) or both (mail then carries both signatures)")
	var grace string
	rotate := e.apiCmd("rotate DOMAIN", "Replace a domain's DKIM keys; the old selectors stay published for the grace period",
		cobra.ExactArgs(1), true, view{dkimCols},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, path(tp, a)+"/rotate", apitypes.DkimRotate{Grace: grace})
		})
	rotate.Flags().StringVar(&grace, "grace", "", "how long the old selectors stay published (default 168h)")
	list := e.apiCmd("list DOMAIN", "List a domain's DKIM keys (Active, Retiring, Retired) with their DNS records",
		cobra.ExactArgs(1), true, view{dkimCols}, get(path))
	return group("dkim", "Manage DKIM signing keys of an accepted domain", add, rotate, list)
}
