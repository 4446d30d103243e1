package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestListSearch: GET .../mailboxes?search=TEXT (and the mail user and
// group lists) keeps the recipients whose name, alias, display name or an
// address contains TEXT, pages through them with the Link header (which
// keeps the search), never shows another tenant's recipients, and refuses
// a cursor of another search and a too long search with coded 400s.
func TestListSearch(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c := s.createTenant(t, "contoso")
		f := s.createTenant(t, "fabrikam")
		cp, fp := tp("contoso"), tp("fabrikam")
		for i := 0; i < 5; i++ {
			s.call(t, "POST", cp+"/mailboxes", c.Token, map[string]any{"Alias": fmt.Sprintf("sales%02d", i), "Type": "shared"}).ok(t, nil)
		}
		s.call(t, "POST", cp+"/mailboxes", c.Token, map[string]any{"Alias": "info", "DisplayName": "Front Desk (Sales)", "Type": "shared"}).ok(t, nil)
		s.call(t, "POST", cp+"/mailboxes", c.Token, map[string]any{"Alias": "other", "Type": "shared"}).ok(t, nil)
		s.call(t, "POST", fp+"/mailboxes", f.Token, map[string]any{"Alias": "fsales", "Type": "shared"}).ok(t, nil)
		s.call(t, "POST", cp+"/groups", c.Token, map[string]any{"Name": "Sales Scope", "Type": "security"}).ok(t, nil)
		s.call(t, "POST", cp+"/groups", c.Token, map[string]any{"Name": "Other Scope", "Type": "security"}).ok(t, nil)

		// follow walks the pages through the Link header alone.
		follow := func(path, token string) ([]string, int) {
			var names []string
			for pages := 1; ; pages++ {
				r := s.call(t, "GET", path, token, nil)
				var rows []struct{ Name string }
				r.ok(t, &rows)
				for _, row := range rows {
					names = append(names, row.Name)
				}
				link := r.Header.Get("Link")
				if r.Header.Get(api.NextCursorHeader) == "" {
					return names, pages
				}
				path = strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(link, ";", 2)[0], "<"), ">")
			}
		}
		names, pages := follow(cp+"/mailboxes?limit=2&search=SALES", c.Token)
		if got := strings.Join(names, ","); got != "info,sales00,sales01,sales02,sales03,sales04" || pages != 3 {
			t.Errorf("contoso's search for SALES: %q in %d pages, want info and sales00-04 in 3", got, pages)
		}
		if names, _ := follow(fp+"/mailboxes?search=sales", f.Token); strings.Join(names, ",") != "fsales" {
			t.Errorf("fabrikam's search: %v, want fsales alone", names)
		}
		if names, _ := follow(cp+"/groups?search=sales", c.Token); strings.Join(names, ",") != "Sales Scope" {
			t.Errorf("group search: %v", names)
		}
		if names, _ := follow(cp+"/mailboxes?search="+url.QueryEscape("@contoso"), c.Token); len(names) != 7 {
			t.Errorf("search by domain: %v, want the 7 mailboxes", names)
		}
		// contoso's token cannot search fabrikam.
		if r := s.call(t, "GET", fp+"/mailboxes?search=sales", c.Token, nil); r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Errorf("contoso's token searching fabrikam: %d, want 403 or 404", r.Status)
		}

		r := s.call(t, "GET", cp+"/mailboxes?limit=2&search=sales", c.Token, nil)
		cur := r.Header.Get(api.NextCursorHeader)
		if cur == "" {
			t.Fatal("no cursor")
		}
		s.call(t, "GET", cp+"/mailboxes?limit=2&cursor="+url.QueryEscape(cur), c.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidCursor")
		s.call(t, "GET", cp+"/mailboxes?limit=2&search=info&cursor="+url.QueryEscape(cur), c.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidCursor")
		s.call(t, "GET", cp+"/mailboxes?search="+strings.Repeat("x", 300), c.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidSearch")
	})
}
