package admin

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// AddMailboxPermission grants a user of the tenant FullAccess or SendAs on
// a mailbox of the tenant (Add-MailboxPermission, Add-RecipientPermission).
// Granting an existing permission changes nothing.
func (c *Core) AddMailboxPermission(ctx context.Context, p *Principal, tenant, mailbox, user, right string) (*directory.Permission, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	perm, err := c.Dir.AddPermission(ctx, t.ID, mailbox, user, right)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "mailbox.permission.add", perm.Mailbox.PrimarySmtpAddress+" "+perm.User.PrimarySmtpAddress+" "+perm.Right)
	return perm, nil
}

// RemoveMailboxPermission withdraws a permission (Remove-MailboxPermission,
// Remove-RecipientPermission).
func (c *Core) RemoveMailboxPermission(ctx context.Context, p *Principal, tenant, mailbox, user, right string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if err := c.Dir.RemovePermission(ctx, t.ID, mailbox, user, right); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "mailbox.permission.remove", mailbox+" "+user+" "+right)
	return nil
}

// ListMailboxPermissions lists the permissions granted on a mailbox
// (Get-MailboxPermission, Get-RecipientPermission).
func (c *Core) ListMailboxPermissions(ctx context.Context, p *Principal, tenant, mailbox string) ([]directory.Permission, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListPermissions(ctx, t.ID, mailbox)
}
