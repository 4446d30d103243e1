package admin

import (
	"context"
	"fmt"
	"io"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// BulkCreated is the outcome of a bulk mailbox creation.
type BulkCreated struct {
	Created int
	// WithoutPassword counts the mailboxes created without a password:
	// they cannot log in until one is set (mailbox set --password).
	WithoutPassword int
}

// BulkContent is implemented by a MailboxContent that can provision many
// mailboxes at once (one transaction per chunk instead of one per
// mailbox).
type BulkContent interface {
	ProvisionMany(ctx context.Context, tenantID string, guids []string) error
}

// CreateMailboxesCSV creates the UserMailboxes of a CSV file (columns
// directory.BulkColumns) in the tenant: every row is validated first and a
// refusal (directory.ErrInvalidRows) lists every bad row, with nothing
// created; then the mailboxes and their content are created.
func (c *Core) CreateMailboxesCSV(ctx context.Context, p *Principal, tenant string, body io.Reader) (*BulkCreated, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	rows, err := directory.ReadMailboxCSV(body)
	if err != nil {
		return nil, err
	}
	res, err := c.Dir.CreateMailboxes(ctx, t.ID, rows)
	if err != nil {
		return nil, err
	}
	if c.Content != nil {
		if err := c.provisionMany(ctx, t.ID, res.Mailboxes); err != nil {
			return nil, err
		}
	}
	c.audit(ctx, p, t.ID, "recipient.bulk-create", fmt.Sprintf("%d UserMailbox", len(res.Mailboxes)))
	return &BulkCreated{Created: len(res.Mailboxes), WithoutPassword: res.WithoutPassword}, nil
}

// provisionMany creates the content of new mailboxes, in bulk when the
// content store can.
func (c *Core) provisionMany(ctx context.Context, tenantID string, rs []*directory.Recipient) error {
	if bc, ok := c.Content.(BulkContent); ok {
		guids := make([]string, len(rs))
		for i, r := range rs {
			guids[i] = r.ExchangeGuid
		}
		return bc.ProvisionMany(ctx, tenantID, guids)
	}
	for _, r := range rs {
		if err := c.provision(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
