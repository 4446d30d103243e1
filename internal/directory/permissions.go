package directory

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
)

// Access rights a mailbox permission grants (Exchange's
// Add-MailboxPermission -AccessRights FullAccess and
// Add-RecipientPermission -AccessRights SendAs).
const (
	// FullAccess opens the mailbox: its mail over IMAP (under Shared/),
	// its calendars and address books over CalDAV/CardDAV.
	FullAccess = "FullAccess"
	// SendAs sends mail with the mailbox's address in From.
	SendAs = "SendAs"
)

// Permission is a mailbox permission: User may use Mailbox with Right.
// Invariant: both are UserMailbox recipients of one tenant, and they differ.
type Permission struct {
	Mailbox *Recipient // the mailbox granted
	User    *Recipient // the mailbox user it is granted to
	Right   string     // FullAccess | SendAs
}

// ParseAccessRight returns the canonical spelling of an access right.
func ParseAccessRight(s string) (string, error) {
	for _, r := range []string{FullAccess, SendAs} {
		if strings.EqualFold(s, r) {
			return r, nil
		}
	}
	return "", ErrInvalidAccessRight.Newf("access right %q is not FullAccess or SendAs", s).WithObject(s).
		WithHint("pass --access-rights FullAccess (open the mailbox) or --access-rights SendAs (send as its address)")
}

// permissionPair resolves a mailbox and a user of the tenant for a
// permission change.
func (x *Directory) permissionPair(ctx context.Context, q db.Querier, tenantID, mailbox, user string) (*Recipient, *Recipient, error) {
	mb, err := x.getRecipient(ctx, q, tenantID, mailbox)
	if err != nil {
		return nil, nil, err
	}
	if mb.Type != UserMailbox {
		return nil, nil, ErrPermissionTarget.Newf("%s is a %s, not a mailbox", mb.PrimarySmtpAddress, mb.Type).WithObject(mailbox).
			WithHint("mailbox permissions are granted on user and shared mailboxes")
	}
	u, err := x.getRecipient(ctx, q, tenantID, user)
	if err != nil {
		return nil, nil, err
	}
	if u.Type != UserMailbox || u.Shared {
		return nil, nil, ErrPermissionTarget.Newf("%s is a %s, not a mailbox user", u.PrimarySmtpAddress, u.TypeDetails()).WithObject(user).
			WithHint("grant the permission to a user mailbox of this tenant (people sign in with their own mailbox)")
	}
	if u.ID == mb.ID {
		return nil, nil, ErrPermissionTarget.Newf("%s cannot be granted its own mailbox", u.PrimarySmtpAddress).WithObject(user).
			WithHint("a mailbox user has full access to its own mailbox already")
	}
	return mb, u, nil
}

// AddPermission grants user right on mailbox (both references within the
// tenant). Granting a permission that exists changes nothing.
func (x *Directory) AddPermission(ctx context.Context, tenantID, mailbox, user, right string) (*Permission, error) {
	right, err := ParseAccessRight(right)
	if err != nil {
		return nil, err
	}
	var out *Permission
	err = x.d.Write(ctx, func(tx *db.Tx) error {
		mb, u, err := x.permissionPair(ctx, tx, tenantID, mailbox, user)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mailbox_permissions (tenant_id, mailbox_id, user_id, access_right, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (mailbox_id, user_id, access_right) DO NOTHING`, tenantID, mb.ID, u.ID, right, db.Now()); err != nil {
			return err
		}
		out = &Permission{Mailbox: mb, User: u, Right: right}
		return nil
	})
	return out, err
}

// RemovePermission withdraws a permission; ErrPermissionNotFound when it
// was not granted.
func (x *Directory) RemovePermission(ctx context.Context, tenantID, mailbox, user, right string) error {
	right, err := ParseAccessRight(right)
	if err != nil {
		return err
	}
	return x.d.Write(ctx, func(tx *db.Tx) error {
		mb, u, err := x.permissionPair(ctx, tx, tenantID, mailbox, user)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM mailbox_permissions WHERE mailbox_id = ? AND user_id = ? AND access_right = ?`, mb.ID, u.ID, right)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrPermissionNotFound.Newf("%s has no %s permission on %s", u.PrimarySmtpAddress, right, mb.PrimarySmtpAddress).
				WithObject(mb.PrimarySmtpAddress).WithHint("list the mailbox's permissions with `mailbox permission list %s`", mb.Alias)
		}
		return nil
	})
}

// ListPermissions returns the permissions granted on a mailbox, by user
// address and right.
func (x *Directory) ListPermissions(ctx context.Context, tenantID, mailbox string) ([]Permission, error) {
	q := x.d.Read()
	mb, err := x.getRecipient(ctx, q, tenantID, mailbox, UserMailbox)
	if err != nil {
		return nil, err
	}
	return x.permissions(ctx, q, tenantID, `mailbox_id = ?`, mb.ID)
}

// PermissionsOf returns the permissions granted to a user (for one right,
// or every right when right is empty), by mailbox address.
func (x *Directory) PermissionsOf(ctx context.Context, tenantID, userID, right string) ([]Permission, error) {
	if right == "" {
		return x.permissions(ctx, x.d.Read(), tenantID, `user_id = ?`, userID)
	}
	return x.permissions(ctx, x.d.Read(), tenantID, `user_id = ? AND access_right = ?`, userID, right)
}

// PermissionsInvolving returns the permissions granted on a recipient or
// to it, whatever the recipient's type now (a moved-away mailbox keeps its
// rows, which grant nothing while it is a MailUser).
func (x *Directory) PermissionsInvolving(ctx context.Context, tenantID, recipientID string) ([]Permission, error) {
	return x.permissions(ctx, x.d.Read(), tenantID, `(mailbox_id = ? OR user_id = ?)`, recipientID, recipientID)
}

// HasPermission reports whether user holds right on mailbox (recipient
// ids of one tenant).
func (x *Directory) HasPermission(ctx context.Context, tenantID, mailboxID, userID, right string) (bool, error) {
	var n int
	err := x.d.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM mailbox_permissions WHERE tenant_id = ? AND mailbox_id = ? AND user_id = ? AND access_right = ?`,
		tenantID, mailboxID, userID, right).Scan(&n)
	return n > 0, err
}

// permissions reads the tenant's permissions matching where.
func (x *Directory) permissions(ctx context.Context, q db.Querier, tenantID, where string, args ...any) ([]Permission, error) {
	rows, err := q.QueryContext(ctx, `SELECT mailbox_id, user_id, access_right FROM mailbox_permissions WHERE tenant_id = ? AND `+where+
		` ORDER BY mailbox_id, user_id, access_right`, append([]any{tenantID}, args...)...)
	if err != nil {
		return nil, err
	}
	type row struct{ mb, u, right string }
	var rs []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.mb, &r.u, &r.right); err != nil {
			rows.Close()
			return nil, err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	byID := map[string]*Recipient{}
	get := func(id string) (*Recipient, error) {
		if r := byID[id]; r != nil {
			return r, nil
		}
		r, err := x.getRecipient(ctx, q, tenantID, id)
		byID[id] = r
		return r, err
	}
	out := make([]Permission, 0, len(rs))
	for _, r := range rs {
		mb, err := get(r.mb)
		if err != nil {
			return nil, err
		}
		u, err := get(r.u)
		if err != nil {
			return nil, err
		}
		out = append(out, Permission{Mailbox: mb, User: u, Right: r.right})
	}
	return out, nil
}
