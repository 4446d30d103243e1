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

// MemberChange is the outcome of a group membership change: the group and
// the member added or removed (each with its proxies, never the group's
// other members).
type MemberChange struct {
	Group  *Recipient
	Member *Recipient
}

// AddMember adds a recipient of the tenant to a group of the tenant (see
// AddGroupMember).
func (x *Directory) AddMember(ctx context.Context, tenantID, groupRef, memberRef string) error {
	_, err := x.AddGroupMember(ctx, tenantID, groupRef, memberRef)
	return err
}

// AddGroupMember adds a recipient of the tenant to a group of the tenant
// and returns the change. Groups may be nested; a membership that would
// make a group contain itself is refused. Its cost does not depend on the
// group's size: it resolves both references, checks the membership by its
// primary key and inserts one row (a nested group's own members are walked
// for the cycle check).
func (x *Directory) AddGroupMember(ctx context.Context, tenantID, groupRef, memberRef string) (*MemberChange, error) {
	var ch *MemberChange
	err := x.d.Write(ctx, func(tx *db.Tx) error {
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
		if _, err = tx.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id, tenant_id) VALUES (?, ?, ?)`, g.ID, m.ID, tenantID); err != nil {
			return err
		}
		ch = &MemberChange{Group: g, Member: m}
		return nil
	})
	return ch, err
}

// RemoveMember removes a direct member from a group (see
// RemoveGroupMember).
func (x *Directory) RemoveMember(ctx context.Context, tenantID, groupRef, memberRef string) error {
	_, err := x.RemoveGroupMember(ctx, tenantID, groupRef, memberRef)
	return err
}

// RemoveGroupMember removes a direct member from a group and returns the
// change; like AddGroupMember, its cost does not depend on the group's
// size.
func (x *Directory) RemoveGroupMember(ctx context.Context, tenantID, groupRef, memberRef string) (*MemberChange, error) {
	var ch *MemberChange
	err := x.d.Write(ctx, func(tx *db.Tx) error {
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
		ch = &MemberChange{Group: g, Member: m}
		return nil
	})
	return ch, err
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

// isMember walks up from the recipient, not down from the group: the
// recipient's own memberships and their groups' memberships (the
// group_members_member index), in one recursive statement. Its cost
// follows the recipient's nesting, not the group's size — the source
// authorizes every replication request with it against a published scope
// that may hold every mailbox of a tenant. UNION (not UNION ALL) ends the
// walk on a cycle.
func (x *Directory) isMember(ctx context.Context, q db.Querier, groupID, recipientID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `WITH RECURSIVE up(id) AS (
			SELECT group_id FROM group_members WHERE member_id = ?
			UNION
			SELECT m.group_id FROM group_members m JOIN up ON m.member_id = up.id
		) SELECT COUNT(*) FROM up WHERE id = ?`, recipientID, groupID).Scan(&n)
	return n > 0, err
}
