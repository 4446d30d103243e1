package directory_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// seedRecipients inserts n shared mailboxes named prefix00000… straight
// into the tables (test code may seed any table), with their primary SMTP
// proxy, and adds the first inGroup of them to the group when groupID is
// set. It returns their ids in creation order.
func seedRecipients(tb testing.TB, d *db.DB, tenantID, domain, prefix string, n, inGroup int, groupID string) []string {
	tb.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	now := db.Now()
	err := d.Write(ctx, func(tx *db.Tx) error {
		for lo := 0; lo < n; lo += 200 {
			hi := min(lo+200, n)
			var rs, ps, gs []string
			var ra, pa, ga []any
			for i := lo; i < hi; i++ {
				alias := fmt.Sprintf("%s%05d", prefix, i)
				addr := alias + "@" + domain
				rs = append(rs, "(?, ?, 'UserMailbox', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				ra = append(ra, ids[i], tenantID, alias, alias, alias, alias, addr, addr, uuid.NewString(), now, now, true)
				ps = append(ps, "(?, ?, 'smtp', ?, ?, ?, 0)")
				pa = append(pa, ids[i], tenantID, addr, addr, true)
				if groupID != "" && i < inGroup {
					gs = append(gs, "(?, ?, ?)")
					ga = append(ga, groupID, ids[i], tenantID)
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO recipients (id, tenant_id, type, name, name_key, alias, alias_key, primary_smtp, upn,
				exchange_guid, created_at, updated_at, shared) VALUES `+strings.Join(rs, ","), ra...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO proxies (recipient_id, tenant_id, prefix, address, addr_key, is_primary, position) VALUES `+
				strings.Join(ps, ","), pa...); err != nil {
				return err
			}
			if len(gs) > 0 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id, tenant_id) VALUES `+strings.Join(gs, ","), ga...); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// TestGroupChangeCostIsConstant: adding or removing a member runs the same
// statements whatever the group's size, and the change names only the
// group and that member. (Fetching the member list to reply, or one query
// per member, makes the counts grow with the group and fails this test.)
func TestGroupChangeCostIsConstant(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
		must(t, err)
		ids := seedRecipients(t, d, c.ID, c.InitialDomain, "user", 1200, 10, g.ID)

		cost := func(member string) (add, remove int64) {
			t.Helper()
			before := d.Statements()
			ch, err := x.AddGroupMember(ctx, c.ID, "scope", member)
			must(t, err)
			add = d.Statements() - before
			if ch.Group.ID != g.ID || ch.Member.ID != member {
				t.Fatalf("change = group %s member %s, want %s %s", ch.Group.ID, ch.Member.ID, g.ID, member)
			}
			if len(ch.Member.Proxies) != 1 || len(ch.Group.Proxies) != 1 {
				t.Fatalf("change carries %d/%d proxies", len(ch.Group.Proxies), len(ch.Member.Proxies))
			}
			before = d.Statements()
			_, err = x.RemoveGroupMember(ctx, c.ID, g.ID, member)
			must(t, err)
			remove = d.Statements() - before
			must(t, x.AddMember(ctx, c.ID, g.ID, member))
			return add, remove
		}
		add10, rm10 := cost(ids[10])
		// Grow the group to over a thousand members.
		err = d.Write(ctx, func(tx *db.Tx) error {
			for _, id := range ids[11:1199] {
				if _, err := tx.ExecContext(ctx, `INSERT INTO group_members (group_id, member_id, tenant_id) VALUES (?, ?, ?)`, g.ID, id, c.ID); err != nil {
					return err
				}
			}
			return nil
		})
		must(t, err)
		addBig, rmBig := cost(ids[1199])
		if addBig != add10 || rmBig != rm10 {
			t.Fatalf("statements per add/remove: %d/%d at 10 members, %d/%d at 1,199", add10, rm10, addBig, rmBig)
		}
		if add10 > 8 {
			t.Fatalf("an add runs %d statements", add10)
		}
		if n := column[int](t, d, `SELECT COUNT(*) FROM group_members WHERE group_id = ?`, g.ID); n != 1200 {
			t.Fatalf("%d members", n)
		}
	})
}

// BenchmarkAddMember adds one member to a group of 10 and of 10,000
// members (and removes it again, off the clock): the acceptance of "adding
// the 10,000th member takes as long as adding the 10th". Figures:
// docs/benchmarks.md.
func BenchmarkAddMember(b *testing.B) {
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		for _, size := range []int{10, 10000} {
			b.Run(fmt.Sprintf("%s/%d", dialect, size), func(b *testing.B) {
				d := dbtest.Open(b, dialect)
				x := newDir(b, d)
				c, err := x.CreateTenant(ctx, "contoso")
				if err != nil {
					b.Fatal(err)
				}
				g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
				if err != nil {
					b.Fatal(err)
				}
				ids := seedRecipients(b, d, c.ID, c.InitialDomain, "user", size+1, size, g.ID)
				next := ids[size]
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := x.AddGroupMember(ctx, c.ID, g.ID, next); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := x.RemoveMember(ctx, c.ID, g.ID, next); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// TestIsMemberCostIsConstant: a membership check (the source authorizes
// every replication request with one, against a published scope that may
// hold a whole tenant) is one statement whatever the group's size and the
// member's nesting depth, and still answers right through nested groups
// and for a non-member. (A walk down the group, one query per group
// visited over all its members, fails the count.)
func TestIsMemberCostIsConstant(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		group := func(alias string) *directory.Recipient {
			g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: alias})
			must(t, err)
			return g
		}
		scope, g1, g2, g3 := group("scope"), group("g1"), group("g2"), group("g3")
		ids := seedRecipients(t, d, c.ID, c.InitialDomain, "user", 302, 300, scope.ID)
		must(t, x.AddMember(ctx, c.ID, scope.ID, g1.ID))
		must(t, x.AddMember(ctx, c.ID, g1.ID, g2.ID))
		must(t, x.AddMember(ctx, c.ID, g2.ID, g3.ID))
		must(t, x.AddMember(ctx, c.ID, g3.ID, ids[301])) // four groups deep
		for _, tc := range []struct {
			name          string
			group, member string
			want          bool
		}{
			{"direct, big group", scope.ID, ids[299], true},
			{"four levels down", scope.ID, ids[301], true},
			{"a nested group", scope.ID, g3.ID, true},
			{"not a member", scope.ID, ids[300], false},
			{"not in a subgroup", g2.ID, ids[0], false},
			{"a group in itself", g1.ID, g1.ID, false},
		} {
			before := d.Statements()
			in, err := x.IsMember(ctx, nil, tc.group, tc.member)
			must(t, err)
			if in != tc.want {
				t.Errorf("%s: IsMember = %v, want %v", tc.name, in, tc.want)
			}
			if n := d.Statements() - before; n != 1 {
				t.Errorf("%s: IsMember ran %d statements, want 1", tc.name, n)
			}
		}
	})
}
