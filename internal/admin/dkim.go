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

func (c *Core) mailAuth() (*mailauth.Service, error) {
	if c.MailAuth == nil {
		return nil, errNoMailAuth.Newf("this server has no mail authentication service").WithHint("run the command against `tenantferry serve`")
	}
	return c.MailAuth, nil
}

// AddDkimKeys creates the first DKIM keys of an accepted domain
// (`domain dkim add`); algorithm is ed25519, rsa or both ("" = both).
func (c *Core) AddDkimKeys(ctx context.Context, p *Principal, tenant, domain, algorithm string) ([]*mailauth.Key, error) {
	ma, err := c.mailAuth()
	if err != nil {
		return nil, err
	}
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	algs, err := mailauth.ParseAlgorithms(algorithm)
	if err != nil {
		return nil, err
	}
	ks, err := ma.AddKeys(ctx, t.ID, domain, algs)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "domain.dkim.add", strings.ToLower(domain)+" "+selectors(ks))
	return ks, nil
}

// RotateDkimKeys replaces a domain's active DKIM keys (`domain dkim
// rotate`), keeping the old selectors published for grace (0: the default).
func (c *Core) RotateDkimKeys(ctx context.Context, p *Principal, tenant, domain string, grace time.Duration) ([]*mailauth.Key, error) {
	ma, err := c.mailAuth()
	if err != nil {
		return nil, err
	}
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	ks, err := ma.RotateKeys(ctx, t.ID, domain, grace)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "domain.dkim.rotate", strings.ToLower(domain)+" "+selectors(ks))
	return ks, nil
}

// ListDkimKeys lists a domain's DKIM keys in every state (`domain dkim
// list`).
func (c *Core) ListDkimKeys(ctx context.Context, p *Principal, tenant, domain string) ([]*mailauth.Key, error) {
	ma, err := c.mailAuth()
	if err != nil {
		return nil, err
	}
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return ma.ListKeys(ctx, t.ID, domain)
}

func selectors(ks []*mailauth.Key) string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Selector)
	}
	return strings.Join(out, ",")
}
