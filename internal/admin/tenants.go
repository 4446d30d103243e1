package admin

import (
	"context"
	"errors"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// TenantCreated is the result of CreateTenant: the tenant and its first
// tenant-admin token (shown once).
type TenantCreated struct {
	*directory.Tenant
	AdminToken string
}

// CreateTenant creates a tenant (operator only).
func (c *Core) CreateTenant(ctx context.Context, p *Principal, name string) (*TenantCreated, error) {
	if err := requireOperator(p); err != nil {
		return nil, err
	}
	t, err := c.Dir.CreateTenant(ctx, name)
	if err != nil {
		return nil, err
	}
	tok, err := c.Dir.CreateAdminToken(ctx, t.ID, "initial")
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "tenant.create", t.Name)
	return &TenantCreated{Tenant: t, AdminToken: tok}, nil
}

// ListTenants lists the tenants the principal can see.
func (c *Core) ListTenants(ctx context.Context, p *Principal) ([]*directory.Tenant, error) {
	if p != nil && !p.Operator {
		t, err := c.Tenant(ctx, p, p.TenantID)
		if err != nil {
			return nil, err
		}
		return []*directory.Tenant{t}, nil
	}
	if err := requireOperator(p); err != nil {
		return nil, err
	}
	return c.Dir.ListTenants(ctx)
}

// ListTenantsPage returns one page of the tenants the principal can see
// and the cursor of the next page ("" after the last). A tenant admin sees
// its own tenant, on one page.
func (c *Core) ListTenantsPage(ctx context.Context, p *Principal, pg directory.Page) ([]*directory.Tenant, string, error) {
	if p != nil && !p.Operator {
		if pg.Cursor != "" {
			return nil, "", directory.ErrInvalidCursor.Newf("the cursor is not one of this list").
				WithHint("a tenant admin's tenant list has one page: leave the cursor out")
		}
		t, err := c.Tenant(ctx, p, p.TenantID)
		if err != nil {
			return nil, "", err
		}
		return []*directory.Tenant{t}, "", nil
	}
	if err := requireOperator(p); err != nil {
		return nil, "", err
	}
	return c.Dir.ListTenantsPage(ctx, pg)
}

// DeleteTenant removes a tenant (operator only).
func (c *Core) DeleteTenant(ctx context.Context, p *Principal, ref string) error {
	if err := requireOperator(p); err != nil {
		return err
	}
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return err
	}
	if c.Content != nil {
		rs, err := c.Dir.ListRecipients(ctx, t.ID, directory.UserMailbox)
		if err != nil {
			return err
		}
		for _, r := range rs {
			c.removeContent(ctx, r)
		}
	}
	if err := c.Dir.DeleteTenant(ctx, t.ID); err != nil {
		return err
	}
	c.audit(ctx, p, "", "tenant.delete", t.Name)
	return nil
}

// SetTenantQuota sets a tenant's quota over all its mailboxes, in bytes
// (0: unlimited). Operator only: a tenant cannot raise its own quota.
func (c *Core) SetTenantQuota(ctx context.Context, p *Principal, ref string, bytes int64) (*directory.Tenant, error) {
	if err := requireOperator(p); err != nil {
		return nil, err
	}
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	if t, err = c.Dir.SetTenantQuota(ctx, t.ID, bytes); err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "tenant.set", t.Name)
	return t, nil
}

// IssueAdminToken issues another tenant-admin token for the tenant,
// expiring at expires (zero: never); the token is returned once.
func (c *Core) IssueAdminToken(ctx context.Context, p *Principal, ref, name string, expires time.Time) (string, *directory.AdminToken, *directory.Tenant, error) {
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return "", nil, nil, err
	}
	if name == "" {
		name = "admin"
	}
	tok, at, err := c.Dir.IssueAdminToken(ctx, t.ID, name, expires)
	if err != nil {
		return "", nil, nil, err
	}
	c.audit(ctx, p, t.ID, "tenant.admin-token", name)
	return tok, at, t, nil
}

// AdminTokens lists the tenant's admin tokens (never the tokens; never
// the operator's nor another tenant's).
func (c *Core) AdminTokens(ctx context.Context, p *Principal, ref string) ([]directory.AdminToken, error) {
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListAdminTokens(ctx, t.ID)
}

// RevokeAdminToken revokes one of the tenant's admin tokens by its id: it
// authenticates no one from then on.
func (c *Core) RevokeAdminToken(ctx context.Context, p *Principal, ref, id string) error {
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return err
	}
	if err := c.Dir.RevokeAdminToken(ctx, t.ID, id); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "tenant.admin-token.revoke", id)
	return nil
}

// AddDomain adds a domain to a tenant: a pending claim, verified later by
// its DNS record (VerifyDomain) or the operator (ApproveDomain). verified
// accepts it at once, and needs the operator token (tests, the demo, and
// operators who checked ownership themselves).
func (c *Core) AddDomain(ctx context.Context, p *Principal, tenant, domain string, verified bool) (*directory.Domain, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	var dom *directory.Domain
	if verified {
		if err := requireOperator(p); err != nil {
			return nil, errs.As(err).WithHint("a tenant admin adds the domain without --verified and proves ownership with 'tenantferry domain verify'")
		}
		d, err := c.Dir.AcceptDomain(ctx, t.ID, domain, directory.VerifiedByOperator)
		if err != nil {
			return nil, err
		}
		dom, err = c.Dir.GetDomain(ctx, t.ID, d)
		if err != nil {
			return nil, err
		}
	} else if dom, err = c.Dir.ClaimDomain(ctx, t.ID, domain); err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "domain.add", dom.Name+" "+dom.Status)
	return dom, nil
}

// VerifyDomain looks up a pending domain's verification record in DNS
// and accepts the domain when it is there.
func (c *Core) VerifyDomain(ctx context.Context, p *Principal, tenant, domain string) (*directory.Domain, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	if c.Resolver == nil {
		return nil, errs.New(errs.Unavailable, "DnsUnavailable", "this server has no DNS resolver configured").
			WithHint("start the server with --dns-resolver HOST:PORT, or ask the operator to approve the domain")
	}
	notFound := func(err error) bool { return errors.Is(err, dnsx.ErrNotFound) }
	dom, err := c.Dir.VerifyDomain(ctx, t.ID, domain, c.Resolver.LookupTXT, notFound)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "domain.verify", dom.Name)
	return dom, nil
}

// ApproveDomain accepts a tenant's pending domain without its DNS record
// (operator only).
func (c *Core) ApproveDomain(ctx context.Context, p *Principal, tenant, domain string) (*directory.Domain, error) {
	if err := requireOperator(p); err != nil {
		return nil, err
	}
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	dom, err := c.Dir.ApproveDomain(ctx, t.ID, domain)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "domain.approve", dom.Name)
	return dom, nil
}

// GetDomain returns one of a tenant's domains with its status and
// verification record.
func (c *Core) GetDomain(ctx context.Context, p *Principal, tenant, domain string) (*directory.Domain, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.GetDomain(ctx, t.ID, domain)
}

// ListDomains lists a tenant's domains, verified and pending.
func (c *Core) ListDomains(ctx context.Context, p *Principal, tenant string) ([]*directory.Domain, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.Domains(ctx, t.ID)
}

// RemoveDomain removes an accepted domain.
func (c *Core) RemoveDomain(ctx context.Context, p *Principal, tenant, domain string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if err := c.Dir.RemoveDomain(ctx, t.ID, domain); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "domain.remove", domain)
	return nil
}
