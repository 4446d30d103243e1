package admin

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// sourceFor authorizes the principal on the tenant and returns the source
// core with the tenant's id.
func (c *Core) sourceFor(ctx context.Context, p *Principal, tenant string) (*source.Core, string, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, "", err
	}
	if c.Source == nil {
		return nil, "", errs.New(errs.Unavailable, "MigrationUnavailable", "the replication API is not running on this server")
	}
	return c.Source, t.ID, nil
}

// MoveRegistrations lists the moves target tenants registered for the
// tenant's mailboxes (the source side's view of its outgoing moves).
func (c *Core) MoveRegistrations(ctx context.Context, p *Principal, tenant string) ([]*replication.Registration, error) {
	src, tid, err := c.sourceFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return src.Registrations(ctx, tid)
}

// MoveRegistration returns the registered moves a reference names: a
// registration id, or a mailbox of the tenant.
func (c *Core) MoveRegistration(ctx context.Context, p *Principal, tenant, ref string) ([]*replication.Registration, error) {
	src, tid, err := c.sourceFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return src.Registration(ctx, tid, ref)
}

// CancelMoveRegistration cancels the registered moves a reference names
// (a registration id, or every registered move of a mailbox): their apps
// can no longer lock or finalize the mailbox, and a lock they hold is
// given back.
func (c *Core) CancelMoveRegistration(ctx context.Context, p *Principal, tenant, ref string) ([]*replication.Registration, error) {
	src, tid, err := c.sourceFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	regs, err := src.CancelRegistration(ctx, tid, ref)
	if err != nil {
		return nil, err
	}
	for _, r := range regs {
		c.audit(ctx, p, tid, "move-registration.cancel", r.Id+" "+r.Mailbox)
	}
	return regs, nil
}
