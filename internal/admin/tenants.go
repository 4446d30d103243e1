package admin

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/directory"
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

// IssueAdminToken issues another tenant-admin token for the tenant.
func (c *Core) IssueAdminToken(ctx context.Context, p *Principal, ref, name string) (string, *directory.Tenant, error) {
	t, err := c.Tenant(ctx, p, ref)
	if err != nil {
		return "", nil, err
	}
	if name == "" {
		name = "admin"
	}
	tok, err := c.Dir.CreateAdminToken(ctx, t.ID, name)
	if err != nil {
		return "", nil, err
	}
	c.audit(ctx, p, t.ID, "tenant.admin-token", name)
	return tok, t, nil
}

// AddDomain adds an accepted domain.
func (c *Core) AddDomain(ctx context.Context, p *Principal, tenant, domain string) (string, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return "", err
	}
	d, err := c.Dir.AddDomain(ctx, t.ID, domain)
	if err == nil {
		c.audit(ctx, p, t.ID, "domain.add", d)
	}
	return d, err
}

// ListDomains lists accepted domains.
func (c *Core) ListDomains(ctx context.Context, p *Principal, tenant string) ([]string, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListDomains(ctx, t.ID)
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
