package directory_test

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// TestRecipientSearch: Page.Search narrows a recipient list to the
// recipients whose name, alias, display name or an SMTP address contains
// the text, case-insensitively, with LIKE wildcards taken literally; the
// result pages with cursors bound to the search; another tenant's
// recipients never match.
func TestRecipientSearch(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		mk := func(tn *directory.Tenant, alias, display string, extra ...string) {
			t.Helper()
			_, err := x.CreateRecipient(ctx, tn.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias, DisplayName: display,
				PrimarySmtp: alias + "@" + tn.InitialDomain, AddAddresses: extra, Shared: true})
			must(t, err)
		}
		mk(c, "alice", "Alice Archer")
		mk(c, "bob", "Natalia Bobrova")
		mk(c, "carol", "Carol", "smtp:sales_team@"+c.InitialDomain)
		mk(c, "dave", "Dave 100%")
		mk(c, "juergen", "Jürgen ÖZIL")
		for i := 0; i < 7; i++ {
			mk(c, fmt.Sprintf("pager%02d", i), "")
		}
		mk(f, "alina", "Alina of Fabrikam")
		mk(f, "pagerx", "")

		find := func(tn *directory.Tenant, search string, limit int) []string {
			t.Helper()
			var out []string
			pg := directory.Page{Limit: limit, Search: search}
			for {
				rs, next, err := x.ListRecipientsPage(ctx, tn.ID, pg, directory.UserMailbox)
				must(t, err)
				for _, r := range rs {
					out = append(out, r.Alias)
				}
				if next == "" {
					return out
				}
				pg.Cursor = next
			}
		}
		for _, tc := range []struct {
			search string
			want   string
		}{
			{"ALI", "alice,bob"}, // alias alice; display name NatALIa
			{"archer", "alice"},  // display name only
			{"Özil", "juergen"},  // non-ASCII letters fold too (SQLite's LOWER folds ASCII only)
			{"JÜRGEN", "juergen"},
			{"sales_team", "carol"},     // a secondary SMTP address
			{"SALES_", "carol"},         // "_" is not a wildcard
			{"s%t", ""},                 // "%" is not a wildcard
			{"100%", "dave"},            // a literal "%"
			{"@" + c.InitialDomain, ""}, // filled below: every recipient
			{"  bob  ", "bob"},          // trimmed
			{"pager", "pager00,pager01,pager02,pager03,pager04,pager05,pager06"}, // not fabrikam's pagerx
			{"alina", ""}, // fabrikam's
			{"", ""},      // filled below: all
		} {
			got := strings.Join(find(c, tc.search, 3), ",")
			want := tc.want
			if tc.search == "" || strings.HasPrefix(tc.search, "@") {
				all := []string{"alice", "bob", "carol", "dave", "juergen"}
				for i := 0; i < 7; i++ {
					all = append(all, fmt.Sprintf("pager%02d", i))
				}
				sort.Strings(all)
				want = strings.Join(all, ",")
			}
			if got != want {
				t.Errorf("search %q: %q, want %q", tc.search, got, want)
			}
		}
		if got := strings.Join(find(f, "ali", 100), ","); got != "alina" {
			t.Errorf("fabrikam's search: %q, want alina alone", got)
		}

		// A cursor belongs to its search and its tenant.
		_, cur, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 2, Search: "pager"}, directory.UserMailbox)
		must(t, err)
		if cur == "" {
			t.Fatal("no next cursor for 7 matches in pages of 2")
		}
		for name, pg := range map[string]directory.Page{
			"no search":      {Limit: 2, Cursor: cur},
			"another search": {Limit: 2, Cursor: cur, Search: "pager0"},
		} {
			if _, _, err := x.ListRecipientsPage(ctx, c.ID, pg, directory.UserMailbox); !errors.Is(err, directory.ErrInvalidCursor) {
				t.Errorf("%s: %v, want InvalidCursor", name, err)
			}
		}
		if _, _, err := x.ListRecipientsPage(ctx, f.ID, directory.Page{Limit: 2, Cursor: cur, Search: "pager"}, directory.UserMailbox); !errors.Is(err, directory.ErrInvalidCursor) {
			t.Errorf("contoso's cursor on fabrikam: %v, want InvalidCursor", err)
		}
		// The search's case does not change the list a cursor names.
		if rs, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Limit: 2, Cursor: cur, Search: "PAGER"}, directory.UserMailbox); err != nil || len(rs) != 2 || rs[0].Alias != "pager02" {
			t.Errorf("next page with the search in capitals: %v, %v", rs, err)
		}
		long := strings.Repeat("a", directory.MaxSearchLen+1)
		if _, _, err := x.ListRecipientsPage(ctx, c.ID, directory.Page{Search: long}, directory.UserMailbox); !errors.Is(err, directory.ErrInvalidSearch) {
			t.Errorf("a %d-byte search: %v, want InvalidSearch", len(long), err)
		}
	})
}
