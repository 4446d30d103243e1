package directory

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// GroupTypeOf maps a CLI group type ("security" or "distribution") to its
// recipient type.
func GroupTypeOf(s string) (RecipientType, error) {
	switch strings.ToLower(s) {
	case "security", string(strings.ToLower(string(SecurityGroup))):
		return SecurityGroup, nil
	case "distribution", string(strings.ToLower(string(DistributionGroup))):
		return DistributionGroup, nil
	}
	return "", errs.Invalidf("InvalidGroupType", "group type %q is not security or distribution", s).
		WithHint("pass --type security or --type distribution")
}

// AddMember adds a recipient of the tenant to a group of the tenant. Groups
// may be nested; a membership that would make a group contain itself is
// refused.
func (x *Directory) AddMember(ctx context.Context, tenantID, groupRef, memberRef string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		g, err := x.getRecipient(ctx, tx, tenantID, groupRef, SecurityGroup, DistributionGroup)
		if err != nil {
			return err
		}
		m, err := x.getRecipient(ctx, tx, tenantID, memberRef)
		if err != nil {
			return err
		}
		if m.Type.IsGroup() {
			in, err := x.isMember(ctx, tx, m.ID, g.ID)
			if err != nil {
				return err
			}
			if in || m.ID == g.ID {
				return errs.Conflictf("GroupCycle", "adding %s to %s would make a group contain itself", m.Name, g.Name)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM group_members WHERE group_id = ? AND member_id = ?`, g.ID, m.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.Conflictf("AlreadyMember", "%s is already a member of %s", m.Name, g.Name).WithObject(m.PrimarySmtpAddress)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id, tenant_id) VALUES (?, ?, ?)`, g.ID, m.ID, tenantID)
		return err
	})
}

// RemoveMember removes a direct member from a group.
func (x *Directory) RemoveMember(ctx context.Context, tenantID, groupRef, memberRef string) error {
	return x.d.Write(ctx, func(tx *db.Tx) error {
		g, err := x.getRecipient(ctx, tx, tenantID, groupRef, SecurityGroup, DistributionGroup)
		if err != nil {
			return err
		}
		m, err := x.getRecipient(ctx, tx, tenantID, memberRef)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM group_members WHERE group_id = ? AND member_id = ? AND tenant_id = ?`, g.ID, m.ID, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("NotAMember", "%s is not a direct member of %s", m.Name, g.Name)
		}
		return nil
	})
}

// Members returns the direct members of a group of the tenant.
func (x *Directory) Members(ctx context.Context, tenantID, groupID string) ([]*Recipient, error) {
	q := x.d.Read()
	rows, err := q.QueryContext(ctx, `SELECT member_id FROM group_members WHERE group_id = ? AND tenant_id = ?`, groupID, tenantID)
	if err != nil {
		return nil, err
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	var out []*Recipient
	for _, id := range ids {
		r, err := x.getRecipient(ctx, q, tenantID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// ExpandGroup returns the non-group recipients reachable from a group
// through nested membership, each once.
func (x *Directory) ExpandGroup(ctx context.Context, tenantID, groupID string) ([]*Recipient, error) {
	seen := map[string]bool{groupID: true}
	queue := []string{groupID}
	var out []*Recipient
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		ms, err := x.Members(ctx, tenantID, g)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			if m.Type.IsGroup() {
				queue = append(queue, m.ID)
			} else {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// IsMember reports whether recipientID is a direct or transitive member of
// groupID.
func (x *Directory) IsMember(ctx context.Context, q db.Querier, groupID, recipientID string) (bool, error) {
	if q == nil {
		q = x.d.Read()
	}
	return x.isMember(ctx, q, groupID, recipientID)
}

func (x *Directory) isMember(ctx context.Context, q db.Querier, groupID, recipientID string) (bool, error) {
	seen := map[string]bool{}
	queue := []string{groupID}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		if seen[g] {
			continue
		}
		seen[g] = true
		rows, err := q.QueryContext(ctx, `SELECT m.member_id, r.type FROM group_members m JOIN recipients r ON r.id = m.member_id WHERE m.group_id = ?`, g)
		if err != nil {
			return false, err
		}
		for rows.Next() {
			var id, typ string
			if err := rows.Scan(&id, &typ); err != nil {
				rows.Close()
				return false, err
			}
			if id == recipientID {
				rows.Close()
				return true, nil
			}
			if RecipientType(typ).IsGroup() {
				queue = append(queue, id)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return false, err
		}
	}
	return false, nil
}
