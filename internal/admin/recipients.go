package admin

import (
	"context"
	"errors"
	"io"

	"github.com/tenantferry/tenantferry/internal/mailstore"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// auditName is the object name recorded for a recipient.
func auditName(r *directory.Recipient) string { return r.PrimarySmtpAddress }

// CreateRecipient creates a mailbox, mail user or group in the tenant; for a
// UserMailbox it also provisions the mailbox content.
func (c *Core) CreateRecipient(ctx context.Context, p *Principal, tenant string, s directory.RecipientSpec) (*directory.Recipient, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	r, err := c.Dir.CreateRecipient(ctx, t.ID, s)
	if err != nil {
		return nil, err
	}
	if r.Type == directory.UserMailbox && c.Content != nil {
		if err := c.provision(ctx, r); err != nil {
			return nil, err
		}
	}
	c.audit(ctx, p, t.ID, "recipient.create", string(r.Type)+" "+auditName(r))
	return r, nil
}

func (c *Core) provision(ctx context.Context, r *directory.Recipient) error {
	if err := c.Content.Provision(ctx, r.TenantID, r.ExchangeGuid, false); err != nil {
		return err
	}
	if r.ArchiveGuid != "" {
		return c.Content.Provision(ctx, r.TenantID, r.ArchiveGuid, true)
	}
	return nil
}

func (c *Core) removeContent(ctx context.Context, r *directory.Recipient) {
	for _, g := range []string{r.ExchangeGuid, r.ArchiveGuid} {
		if g == "" {
			continue
		}
		if err := c.Content.Remove(ctx, r.TenantID, g); err != nil && !errors.Is(err, mailstore.ErrMailboxNotFound) {
			c.Log.Warn("removing mailbox content failed", "guid", g, "err", err)
		}
	}
}

// GetRecipient returns a recipient of the tenant, restricted to the types.
func (c *Core) GetRecipient(ctx context.Context, p *Principal, tenant, ref string, types ...directory.RecipientType) (*directory.Recipient, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.GetRecipient(ctx, t.ID, ref, types...)
}

// ListRecipients lists the tenant's recipients of the types.
func (c *Core) ListRecipients(ctx context.Context, p *Principal, tenant string, types ...directory.RecipientType) ([]*directory.Recipient, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListRecipients(ctx, t.ID, types...)
}

// ListRecipientsPage returns one page of the tenant's recipients of the
// types and the cursor of the next page ("" after the last). The cursor is
// bound to the tenant and the types.
func (c *Core) ListRecipientsPage(ctx context.Context, p *Principal, tenant string, pg directory.Page, types ...directory.RecipientType) ([]*directory.Recipient, string, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, "", err
	}
	return c.Dir.ListRecipientsPage(ctx, t.ID, pg, types...)
}

// UpdateRecipient applies a set command.
func (c *Core) UpdateRecipient(ctx context.Context, p *Principal, tenant, ref string, u directory.RecipientUpdate, types ...directory.RecipientType) (*directory.Recipient, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	r, err := c.Dir.UpdateRecipient(ctx, t.ID, ref, u, types...)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "recipient.set", auditName(r))
	return r, nil
}

// DeleteRecipient removes a recipient (and a mailbox's content).
func (c *Core) DeleteRecipient(ctx context.Context, p *Principal, tenant, ref string, types ...directory.RecipientType) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	r, err := c.Dir.DeleteRecipient(ctx, t.ID, ref, types...)
	if err != nil {
		return err
	}
	if r.Type == directory.UserMailbox && c.Content != nil {
		c.removeContent(ctx, r)
	}
	c.audit(ctx, p, t.ID, "recipient.delete", auditName(r))
	return nil
}

// MailboxStats returns a mailbox's folder statistics.
func (c *Core) MailboxStats(ctx context.Context, p *Principal, tenant, ref string) (*directory.Recipient, any, error) {
	r, err := c.GetRecipient(ctx, p, tenant, ref, directory.UserMailbox)
	if err != nil {
		return nil, nil, err
	}
	if c.Content == nil {
		return r, nil, errs.New(errs.Unavailable, "StoreUnavailable", "the mailbox store is not configured")
	}
	st, err := c.Content.Stats(ctx, r.TenantID, r.ExchangeGuid)
	return r, st, err
}

// ImportMailbox imports messages into a mailbox, or into its archive. size
// is the declared length of body (-1 when unknown, which is refused).
func (c *Core) ImportMailbox(ctx context.Context, p *Principal, tenant, ref, format, folder string, archive bool, size int64, body io.Reader) (any, error) {
	r, err := c.GetRecipient(ctx, p, tenant, ref, directory.UserMailbox)
	if err != nil {
		return nil, err
	}
	if c.Content == nil {
		return nil, errs.New(errs.Unavailable, "StoreUnavailable", "the mailbox store is not configured")
	}
	guid := r.ExchangeGuid
	if archive {
		if r.ArchiveGuid == "" {
			return nil, ErrNoArchive.Newf("mailbox %s has no archive", r.PrimarySmtpAddress).
				WithHint("create mailboxes with --archive to give them one")
		}
		guid = r.ArchiveGuid
	}
	if err := c.Content.Provision(ctx, r.TenantID, guid, archive); err != nil {
		return nil, err
	}
	res, err := c.Content.Import(ctx, r.TenantID, guid, r.PrimarySmtpAddress, format, folder, size, body)
	c.audit(ctx, p, r.TenantID, "mailbox.import", r.PrimarySmtpAddress+" "+format)
	return res, err
}

// GroupView is a group with its direct members.
type GroupView struct {
	*directory.Recipient
	Members []*directory.Recipient
}

// GetGroup returns a group with its members.
func (c *Core) GetGroup(ctx context.Context, p *Principal, tenant, ref string) (*GroupView, error) {
	g, err := c.GetRecipient(ctx, p, tenant, ref, directory.SecurityGroup, directory.DistributionGroup)
	if err != nil {
		return nil, err
	}
	ms, err := c.Dir.Members(ctx, g.TenantID, g.ID)
	if err != nil {
		return nil, err
	}
	return &GroupView{Recipient: g, Members: ms}, nil
}

// GroupMembers returns one page of a group's direct members and the cursor
// of the next page ("" after the last).
func (c *Core) GroupMembers(ctx context.Context, p *Principal, tenant, ref string, pg directory.Page) ([]*directory.Recipient, string, error) {
	g, err := c.GetRecipient(ctx, p, tenant, ref, directory.SecurityGroup, directory.DistributionGroup)
	if err != nil {
		return nil, "", err
	}
	return c.Dir.MembersPage(ctx, g.TenantID, g.ID, pg)
}

// AddMember adds a member to a group and returns the change alone (never
// the group's other members): its cost does not grow with the group.
func (c *Core) AddMember(ctx context.Context, p *Principal, tenant, group, member string) (*directory.MemberChange, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	ch, err := c.Dir.AddGroupMember(ctx, t.ID, group, member)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "group.add-member", auditName(ch.Group)+" += "+auditName(ch.Member))
	return ch, nil
}

// RemoveMember removes a member from a group and returns the change.
func (c *Core) RemoveMember(ctx context.Context, p *Principal, tenant, group, member string) (*directory.MemberChange, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	ch, err := c.Dir.RemoveGroupMember(ctx, t.ID, group, member)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "group.remove-member", auditName(ch.Group)+" -= "+auditName(ch.Member))
	return ch, nil
}

// ErrNoArchive: an archive operation on a mailbox without an archive.
var ErrNoArchive = errs.Sentinel(errs.Conflict, "NoArchive")
