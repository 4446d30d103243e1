package directory

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// ConvertToMailUser turns a UserMailbox into a MailUser that forwards to
// externalEmail (the source side of a completed move). It keeps every
// address, the ExchangeGuid and ArchiveGuid, and adds addX500 (the target's
// LegacyExchangeDN) as an X500 proxy when given. It is idempotent: a
// MailUser already forwarding to externalEmail is left as it is.
func (x *Directory) ConvertToMailUser(ctx context.Context, tx *db.Tx, tenantID, recipientID, externalEmail, addX500 string) (*Recipient, error) {
	r, err := x.getRecipient(ctx, tx, tenantID, recipientID)
	if err != nil {
		return nil, err
	}
	ext, err := ParseSMTP("ExternalEmailAddress", externalEmail)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Type == MailUser && strings.EqualFold(r.ExternalEmailAddress, ext):
		return r, nil
	case r.Type != UserMailbox:
		return nil, errs.Conflictf("NotAMailbox", "%s is a %s, not a UserMailbox", r.PrimarySmtpAddress, r.Type)
	}
	ps := r.Proxies
	if addX500 != "" {
		if ps, err = mergeProxies(ps, []string{"X500:" + addX500}, nil); err != nil {
			return nil, err
		}
		if err := replaceProxies(ctx, tx, tenantID, r.ID, ps); err != nil {
			return nil, err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE recipients SET type = ?, external_email = ?, updated_at = ? WHERE id = ? AND tenant_id = ?`,
		string(MailUser), ext, db.Now(), r.ID, tenantID)
	if err != nil {
		return nil, err
	}
	return x.getRecipient(ctx, tx, tenantID, r.ID)
}

// ActivateMailbox turns a MailUser stamped for a move into a UserMailbox with
// the same ExchangeGuid and ArchiveGuid (the target side of a completed
// move). It is idempotent.
func (x *Directory) ActivateMailbox(ctx context.Context, tx *db.Tx, tenantID, recipientID string) (*Recipient, error) {
	r, err := x.getRecipient(ctx, tx, tenantID, recipientID)
	if err != nil {
		return nil, err
	}
	switch {
	case r.Type == UserMailbox:
		return r, nil
	case r.Type != MailUser:
		return nil, errs.Conflictf("NotAMailUser", "%s is a %s, not a MailUser", r.PrimarySmtpAddress, r.Type)
	case r.ExchangeGuid == "":
		return nil, errs.Conflictf("MissingExchangeGuid", "%s has no ExchangeGuid", r.PrimarySmtpAddress)
	}
	_, err = tx.ExecContext(ctx, `UPDATE recipients SET type = ?, external_email = NULL, updated_at = ? WHERE id = ? AND tenant_id = ?`,
		string(UserMailbox), db.Now(), r.ID, tenantID)
	if err != nil {
		return nil, err
	}
	return x.getRecipient(ctx, tx, tenantID, r.ID)
}

// IsMemberOfAny reports whether the recipient is a transitive member of any
// of the groups.
func (x *Directory) IsMemberOfAny(ctx context.Context, q db.Querier, groupIDs []string, recipientID string) (bool, error) {
	for _, g := range groupIDs {
		ok, err := x.IsMember(ctx, q, g, recipientID)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// MarkShared makes an activated mailbox a shared mailbox (a completed move
// of a SharedMailbox keeps its RecipientTypeDetails); it has no password
// from then on. Marking a shared mailbox again changes nothing.
func (x *Directory) MarkShared(ctx context.Context, tx *db.Tx, tenantID, recipientID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE recipients SET shared = ?, password_hash = NULL, updated_at = ? WHERE id = ? AND tenant_id = ? AND type = ?`,
		true, db.Now(), recipientID, tenantID, string(UserMailbox))
	return err
}

// PasswordHash returns a recipient's password hash ("" for none). Only a
// same-server move's source side calls it, through the move's trust path,
// to carry the password to the target (SetPasswordHash).
func (x *Directory) PasswordHash(ctx context.Context, tenantID, recipientID string) (string, error) {
	r, err := x.getRecipient(ctx, x.d.Read(), tenantID, recipientID)
	if err != nil {
		return "", err
	}
	return r.passwordHash, nil
}

// SetPasswordHash gives a user mailbox of the tenant a password hash
// carried from its source (a same-server move's completion), in tx;
// idempotent. A shared mailbox keeps no password.
func (x *Directory) SetPasswordHash(ctx context.Context, tx *db.Tx, tenantID, recipientID, hash string) error {
	if hash == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE recipients SET password_hash = ?, updated_at = ? WHERE id = ? AND tenant_id = ? AND type = ? AND shared = ?`,
		hash, db.Now(), recipientID, tenantID, string(UserMailbox), false)
	return err
}
