package cli

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// Domain ownership: a domain a tenant adds is Pending until the tenant
// publishes its verification record (a DNS TXT record) and runs `domain
// verify`, or the operator runs `domain approve`; `domain add --verified`
// (operator token) accepts it at once.

func (e *env) domainAddCmd() *cobra.Command {
	var verified bool
	c := e.apiCmd("add DOMAIN", "Add a domain: Pending until verified by its DNS TXT record (shown) or approved by the operator", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/domains", apitypes.DomainAdd{DomainName: a[0], Verified: verified})
		})
	c.Flags().BoolVar(&verified, "verified", false, "accept the domain at once, without DNS proof (operator token only)")
	return c
}

func (e *env) domainOwnershipCmds() []*cobra.Command {
	action := func(verb string) callFunc {
		return func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/domains/"+esc(a[0])+"/"+verb, nil)
		}
	}
	return []*cobra.Command{
		e.apiCmd("show DOMAIN", "Show a domain: its Status and the TXT record that proves ownership", cobra.ExactArgs(1), true, view{}, get(sub("/domains", true))),
		e.apiCmd("verify DOMAIN", "Verify a pending domain: look up its TXT record in DNS and accept the domain when it is there", cobra.ExactArgs(1), true, view{}, action("verify")),
		e.apiCmd("dns DOMAIN", "Print the DNS records to publish: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, autoconfig/autodiscover and SRV", cobra.ExactArgs(1), true,
			view{[]string{"Purpose", "Zone"}}, get(func(tp string, a []string) string { return tp + "/domains/" + esc(a[0]) + "/dns" })),
		e.apiCmd("check DOMAIN", "Look the domain's records up in DNS and say what is missing or wrong, with a fix for each", cobra.ExactArgs(1), true,
			view{[]string{"Purpose", "Name", "Type", "Status", "Hint"}}, get(func(tp string, a []string) string { return tp + "/domains/" + esc(a[0]) + "/check" })),
		e.apiCmd("approve DOMAIN", "Accept a tenant's pending domain without DNS proof (operator token only)", cobra.ExactArgs(1), true, view{}, action("approve")),
	}
}
