package admin

import (
	"context"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// errNoMailAuth is returned when the server runs without mail
// authentication (a core built without it, e.g. in tools).
var errNoMailAuth = errs.Sentinel(errs.Unavailable, "MailAuthUnavailable")

// dkimTenant authorizes a DKIM key call: the mail authentication service
// and the id of the tenant the principal may act on.
func (c *Core) dkimTenant(ctx context.Context, p *Principal, tenant string) (*mailauth.Service, string, error) {
	if c.MailAuth == nil {
		return nil, "", errNoMailAuth.Newf("this server has no mail authentication service").WithHint("run the command against `tenantferry serve`")
	}
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, "", err
	}
	return c.MailAuth, t.ID, nil
}

// AddDkimKeys creates the first DKIM keys of an accepted domain
// (`domain dkim add`); algorithm is ed25519, rsa or both ("" = both).
func (c *Core) AddDkimKeys(ctx context.Context, p *Principal, tenant, domain, algorithm string) ([]*mailauth.Key, error) {
	ma, tid, err := c.dkimTenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	algs, err := mailauth.ParseAlgorithms(algorithm)
	if err != nil {
		return nil, err
	}
	ks, err := ma.AddKeys(ctx, tid, domain, algs)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "domain.dkim.add", strings.ToLower(domain)+" "+selectors(ks))
	return ks, nil
}

// RotateDkimKeys replaces a domain's active DKIM keys (`domain dkim
// rotate`), keeping the old selectors published for grace (0: the default).
func (c *Core) RotateDkimKeys(ctx context.Context, p *Principal, tenant, domain string, grace time.Duration) ([]*mailauth.Key, error) {
	ma, tid, err := c.dkimTenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	ks, err := ma.RotateKeys(ctx, tid, domain, grace)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "domain.dkim.rotate", strings.ToLower(domain)+" "+selectors(ks))
	return ks, nil
}

// ListDkimKeys lists a domain's DKIM keys in every state (`domain dkim
// list`).
func (c *Core) ListDkimKeys(ctx context.Context, p *Principal, tenant, domain string) ([]*mailauth.Key, error) {
	ma, tid, err := c.dkimTenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return ma.ListKeys(ctx, tid, domain)
}

func selectors(ks []*mailauth.Key) string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Selector)
	}
	return strings.Join(out, ",")
}
