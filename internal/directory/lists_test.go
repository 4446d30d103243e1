package directory_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestListsQueryPerPage: a page of recipients, tenants or group members
// costs the same statements whether it holds 3 rows or 40 (no query per
// row), and carries every row's proxies or domains.
func TestListsQueryPerPage(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
		must(t, err)
		seedRecipients(t, d, c.ID, c.InitialDomain, "user", 40, 40, g.ID)
		for i := 0; i < 12; i++ {
			mustTenant(t, x, fmt.Sprintf("tenant%02d", i))
		}
		cost := func(f func() int) (int64, int) {
			before := d.Statements()
			n := f()
			return d.Statements() - before, n
		}
		type list struct {
			name string
			f    func(limit int) int
		}
		lists := []list{
			{"mailboxes", func(limit int) int {
				rs, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: limit}, directory.UserMailbox)
				must(t, err)
				for _, r := range rs {
					if len(r.Proxies) != 1 || r.Proxies[0].Address != r.PrimarySmtpAddress {
						t.Fatalf("%s: proxies %v", r.Alias, r.Proxies)
					}
				}
				return len(rs)
			}},
			{"tenants", func(limit int) int {
				ts, _, err := x.ListTenantsPage(ctx, directory.Page{Limit: limit})
				must(t, err)
				for _, tn := range ts {
					if len(tn.Domains) != 1 || tn.Domains[0] != tn.InitialDomain {
						t.Fatalf("%s: domains %v", tn.Name, tn.Domains)
					}
				}
				return len(ts)
			}},
			{"members", func(limit int) int {
				ms, _, err := x.MembersPage(ctx, c.ID, g.ID, directory.Page{Limit: limit})
				must(t, err)
				for _, m := range ms {
					if len(m.Proxies) != 1 {
						t.Fatalf("%s: proxies %v", m.Alias, m.Proxies)
					}
				}
				return len(ms)
			}},
		}
		for _, l := range lists {
			small, n := cost(func() int { return l.f(3) })
			if n != 3 {
				t.Fatalf("%s: %d rows in a page of 3", l.name, n)
			}
			big, n := cost(func() int { return l.f(40) })
			if n < 13 {
				t.Fatalf("%s: %d rows in a page of 40", l.name, n)
			}
			if small != big || big > 2 {
				t.Fatalf("%s: %d statements for 3 rows, %d for %d rows", l.name, small, big, n)
			}
		}
		// The unpaginated forms cost the same too.
		if st, n := cost(func() int { rs, err := x.ListRecipients(ctx, c.ID); must(t, err); return len(rs) }); st != 2 || n != 41 {
			t.Fatalf("ListRecipients: %d statements for %d rows", st, n)
		}
		if st, n := cost(func() int { ms, err := x.Members(ctx, c.ID, g.ID); must(t, err); return len(ms) }); st != 2 || n != 40 {
			t.Fatalf("Members: %d statements for %d rows", st, n)
		}
	})
}

// TestPagination walks every list page by page: each row once, in order,
// and the cursor only works on the list and tenant it was issued for.
func TestPagination(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
		must(t, err)
		fg, err := x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
		must(t, err)
		ids := seedRecipients(t, d, c.ID, c.InitialDomain, "user", 23, 23, g.ID)
		seedRecipients(t, d, f.ID, f.InitialDomain, "user", 23, 23, fg.ID)

		var names []string
		pg := directory.Page{Limit: 5}
		pages := 0
		for {
			rs, next, err := x.ListRecipientsPage(ctx, c.ID, pg, directory.UserMailbox)
			must(t, err)
			pages++
			for _, r := range rs {
				names = append(names, r.Alias)
			}
			if next == "" {
				break
			}
			pg.Cursor = next
		}
		if pages != 5 || len(names) != 23 || names[0] != "user00000" || names[22] != "user00022" {
			t.Fatalf("%d pages: %v", pages, names)
		}
		for i := 1; i < len(names); i++ {
			if names[i-1] >= names[i] {
				t.Fatalf("out of order: %v", names)
			}
		}
		// A page of exactly the rest has no next cursor.
		if rs, next, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 23}, directory.UserMailbox); err != nil || len(rs) != 23 || next != "" {
			t.Fatalf("full page: %d rows, next %q, %v", len(rs), next, err)
		}

		_, cur, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 5}, directory.UserMailbox)
		must(t, err)
		// contoso's cursor on fabrikam's list, on another kind of list, and
		// tampered with: all refused alike, nothing of contoso shown.
		for name, try := range map[string]func() error{
			"other tenant": func() error {
				_, _, err := x.ListRecipientsPage(ctx, f.ID, directory.Page{Limit: 5, Cursor: cur}, directory.UserMailbox)
				return err
			},
			"other type": func() error {
				_, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 5, Cursor: cur}, directory.MailUser)
				return err
			},
			"tenant list": func() error { _, _, err := x.ListTenantsPage(ctx, directory.Page{Cursor: cur}); return err },
			"members":     func() error { _, _, err := x.MembersPage(ctx, c.ID, g.ID, directory.Page{Cursor: cur}); return err },
			"tampered": func() error {
				b := []byte(cur)
				b[len(b)/2] ^= 1
				_, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 5, Cursor: string(b)}, directory.UserMailbox)
				return err
			},
			"not base64": func() error {
				_, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Cursor: "%%%"}, directory.UserMailbox)
				return err
			},
		} {
			if err := try(); !errors.Is(err, directory.ErrInvalidCursor) {
				t.Fatalf("%s: %v, want InvalidCursor", name, err)
			}
		}
		// A member cursor of contoso's group does not reach fabrikam's.
		_, mcur, err := x.MembersPage(ctx, c.ID, g.ID, directory.Page{Limit: 2})
		must(t, err)
		if _, _, err := x.MembersPage(ctx, f.ID, fg.ID, directory.Page{Cursor: mcur}); !errors.Is(err, directory.ErrInvalidCursor) {
			t.Fatalf("member cursor of another tenant: %v", err)
		}
		// Members page through by id, each once.
		seen := map[string]bool{}
		pg = directory.Page{Limit: 4}
		for {
			ms, next, err := x.MembersPage(ctx, c.ID, g.ID, pg)
			must(t, err)
			for _, m := range ms {
				if seen[m.ID] || m.TenantID != c.ID {
					t.Fatalf("member %s twice or of another tenant", m.ID)
				}
				seen[m.ID] = true
			}
			if next == "" {
				break
			}
			pg.Cursor = next
		}
		for _, id := range ids {
			if !seen[id] {
				t.Fatalf("member %s missing", id)
			}
		}

		for _, lim := range []string{"0x", "-1", "1001"} {
			if _, err := directory.ParsePage(lim, ""); !errors.Is(err, directory.ErrInvalidLimit) {
				t.Fatalf("limit %s: %v", lim, err)
			}
		}
		if p, err := directory.ParsePage("", " c "); err != nil || p.Limit != 0 || p.Cursor != "c" {
			t.Fatalf("ParsePage = %+v %v", p, err)
		}
		if _, _, err := x.ListTenantsPage(ctx, directory.Page{Limit: directory.MaxPageSize + 1}); !errors.Is(err, directory.ErrInvalidLimit) {
			t.Fatalf("oversized page: %v", err)
		}
	})
}
