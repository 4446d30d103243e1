package api_test

import (
	"encoding/json"
	"fmt"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// walk follows a list's pages of limit rows from path and returns the
// rows' names (the Name field) and the number of pages.
func (s *tserver) walk(t *testing.T, path, token string, limit int) ([]string, int) {
	t.Helper()
	var names []string
	next := ""
	for pages := 1; ; pages++ {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if next != "" {
			q.Set("cursor", next)
		}
		r := s.call(t, "GET", path+"?"+q.Encode(), token, nil)
		var rows []struct{ Name string }
		r.ok(t, &rows)
		if len(rows) > limit {
			t.Fatalf("%d rows in a page of %d", len(rows), limit)
		}
		for _, row := range rows {
			names = append(names, row.Name)
		}
		next = r.Header.Get(api.NextCursorHeader)
		if next == "" {
			if r.Header.Get("Link") != "" {
				t.Fatalf("last page with a Link header %q", r.Header.Get("Link"))
			}
			return names, pages
		}
		if link := r.Header.Get("Link"); !strings.Contains(link, `rel="next"`) || !strings.Contains(link, url.QueryEscape(next)) {
			t.Fatalf("Link %q does not lead to the next page", link)
		}
	}
}

// TestListPages: the tenant, mailbox, group and member lists come in
// pages of the asked size through an opaque cursor; a cursor works only on
// the list and tenant it was issued for; a bad limit or cursor is a coded
// 400.
func TestListPages(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c := s.createTenant(t, "contoso")
		f := s.createTenant(t, "fabrikam")
		cp, fp := tp("contoso"), tp("fabrikam")
		for i := 0; i < 7; i++ {
			s.call(t, "POST", cp+"/mailboxes", c.Token, map[string]any{"Alias": fmt.Sprintf("shared%02d", i), "Type": "shared"}).ok(t, nil)
		}
		s.call(t, "POST", fp+"/mailboxes", f.Token, map[string]any{"Alias": "fshared", "Type": "shared"}).ok(t, nil)
		s.call(t, "POST", cp+"/groups", c.Token, map[string]any{"Name": "scope", "Type": "security"}).ok(t, nil)
		s.call(t, "POST", fp+"/groups", f.Token, map[string]any{"Name": "scope", "Type": "security"}).ok(t, nil)

		names, pages := s.walk(t, cp+"/mailboxes", c.Token, 3)
		if pages != 3 || strings.Join(names, ",") != "shared00,shared01,shared02,shared03,shared04,shared05,shared06" {
			t.Fatalf("%d pages: %v", pages, names)
		}
		// Without a limit: the default page holds them all, no cursor.
		r := s.call(t, "GET", cp+"/mailboxes", c.Token, nil)
		var all []apitypes.RecipientView
		r.ok(t, &all)
		if len(all) != 7 || r.Header.Get(api.NextCursorHeader) != "" {
			t.Fatalf("default page: %d rows, cursor %q", len(all), r.Header.Get(api.NextCursorHeader))
		}
		if names, pages := s.walk(t, "/api/v1/tenants", s.Op, 1); pages != 2 || strings.Join(names, ",") != "contoso,fabrikam" {
			t.Fatalf("tenants: %d pages: %v", pages, names)
		}

		// Members page through too.
		for i := 0; i < 5; i++ {
			s.call(t, "POST", cp+"/groups/scope/members", c.Token, map[string]any{"Member": fmt.Sprintf("shared%02d", i)}).ok(t, nil)
		}
		if names, pages := s.walk(t, cp+"/groups/scope/members", c.Token, 2); pages != 3 || len(names) != 5 {
			t.Fatalf("members: %d pages: %v", pages, names)
		}

		// contoso's cursor, tried by fabrikam's admin on its own lists and
		// by the operator on fabrikam's: refused, nothing of contoso shown.
		r = s.call(t, "GET", cp+"/mailboxes?limit=2", c.Token, nil)
		cur := r.Header.Get(api.NextCursorHeader)
		if cur == "" || strings.Contains(cur, "shared") || strings.Contains(cur, c.Id) {
			t.Fatalf("cursor %q is missing or readable", cur)
		}
		mcur := s.call(t, "GET", cp+"/groups/scope/members?limit=2", c.Token, nil).Header.Get(api.NextCursorHeader)
		for _, try := range []struct{ path, token string }{
			{fp + "/mailboxes?cursor=" + url.QueryEscape(cur), f.Token},
			{fp + "/mailboxes?cursor=" + url.QueryEscape(cur), s.Op},
			{fp + "/groups?cursor=" + url.QueryEscape(cur), f.Token},
			{cp + "/mailusers?cursor=" + url.QueryEscape(cur), c.Token},
			{fp + "/groups/scope/members?cursor=" + url.QueryEscape(mcur), f.Token},
			{"/api/v1/tenants?cursor=" + url.QueryEscape(cur), s.Op},
			{"/api/v1/tenants?cursor=" + url.QueryEscape(cur), f.Token},
			{cp + "/mailboxes?cursor=not-a-cursor", c.Token},
		} {
			r := s.call(t, "GET", try.path, try.token, nil)
			r.wantErr(t, http.StatusBadRequest, "InvalidCursor")
			if strings.Contains(string(r.Body), "shared0") {
				t.Fatalf("%s: the refusal shows contoso's rows: %s", try.path, r.Body)
			}
		}
		// fabrikam's admin cannot reach contoso's list with it either.
		s.call(t, "GET", cp+"/mailboxes?cursor="+url.QueryEscape(cur), f.Token, nil).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		for _, lim := range []string{"abc", "-1", "1001"} {
			s.call(t, "GET", cp+"/mailboxes?limit="+lim, c.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidLimit")
		}
	})
}

// TestMemberChangeReply: add-member and remove-member reply with the one
// change, never with the group's member list.
func TestMemberChangeReply(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		s := newServer(t, dialect)
		c := s.createTenant(t, "contoso")
		p := tp("contoso")
		for i := 0; i < 3; i++ {
			s.call(t, "POST", p+"/mailboxes", c.Token, map[string]any{"Alias": fmt.Sprintf("shared%02d", i), "Type": "shared"}).ok(t, nil)
		}
		var g apitypes.RecipientView
		s.call(t, "POST", p+"/groups", c.Token, map[string]any{"Name": "scope", "Type": "security"}).ok(t, &g)
		s.call(t, "POST", p+"/groups/scope/members", c.Token, map[string]any{"Member": "shared00"}).ok(t, nil)
		s.call(t, "POST", p+"/groups/scope/members", c.Token, map[string]any{"Member": "shared01"}).ok(t, nil)

		r := s.call(t, "POST", p+"/groups/scope/members", c.Token, map[string]any{"Member": "shared02"})
		var fields map[string]any
		r.ok(t, &fields)
		var ch apitypes.MemberChangeView
		if err := json.Unmarshal(r.Body, &ch); err != nil {
			t.Fatal(err)
		}
		want := apitypes.MemberChangeView{Group: "scope@contoso.tenantferry.test", GroupId: g.Id, Change: "Added",
			Member: "shared02@contoso.tenantferry.test", MemberId: ch.MemberId, MemberType: "SharedMailbox"}
		if ch != want || ch.MemberId == "" || len(fields) != 6 {
			t.Fatalf("add-member replied %s", r.Body)
		}
		if strings.Contains(string(r.Body), "shared00") || strings.Contains(string(r.Body), "shared01") {
			t.Fatalf("add-member replied with other members: %s", r.Body)
		}
		r = s.call(t, "DELETE", p+"/groups/scope/members/shared01", c.Token, nil)
		r.ok(t, &ch)
		if ch.Change != "Removed" || ch.Member != "shared01@contoso.tenantferry.test" || strings.Contains(string(r.Body), "shared02") {
			t.Fatalf("remove-member replied %s", r.Body)
		}
		s.call(t, "DELETE", p+"/groups/scope/members/shared01", c.Token, nil).wantErr(t, http.StatusNotFound, "NotAMember")
		s.call(t, "POST", p+"/groups/scope/members", c.Token, map[string]any{"Member": "shared02"}).wantErr(t, http.StatusConflict, "AlreadyMember")
		// The group itself still lists its members.
		s.call(t, "GET", p+"/groups/scope", c.Token, nil).ok(t, &g)
		if len(g.Members) != 2 {
			t.Fatalf("group members %v", g.Members)
		}
	})
}

// TestBatchUsersPages: a batch's users come in pages in CSV order, across
// users added later; the cursor is bound to the batch and its tenant.
func TestBatchUsersPages(t *testing.T) {
	s := newServer(t, db.SQLite)
	c, f := s.world(t)
	cp := tp(c.Name)
	var csv strings.Builder
	csv.WriteString("EmailAddress\n")
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&csv, "u%02d@%s\n", i, c.Domain)
	}
	s.call(t, "POST", cp+"/batches", c.Token, map[string]any{"Name": "paged", "Endpoint": c.Endpoint.Name,
		"Csv": csv.String(), "TargetDeliveryDomain": c.InitialDomain}).ok(t, nil)
	s.call(t, "POST", cp+"/batches/paged/users", c.Token, map[string]any{"Csv": "EmailAddress\nlate@" + c.Domain + "\n"}).ok(t, nil)
	var got []string
	next, pages := "", 0
	for {
		path := cp + "/batches/paged/users?limit=2"
		if next != "" {
			path += "&cursor=" + url.QueryEscape(next)
		}
		r := s.call(t, "GET", path, c.Token, nil)
		var us []struct{ EmailAddress string }
		r.ok(t, &us)
		for _, u := range us {
			got = append(got, strings.Split(u.EmailAddress, "@")[0])
		}
		pages++
		if next = r.Header.Get(api.NextCursorHeader); next == "" {
			break
		}
		if pages == 1 {
			// The cursor of contoso's batch, on fabrikam's batch and on
			// contoso's other batch: refused.
			s.call(t, "GET", tp(f.Name)+"/batches/wave1/users?cursor="+url.QueryEscape(next), f.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidCursor")
			s.call(t, "GET", cp+"/batches/wave1/users?cursor="+url.QueryEscape(next), c.Token, nil).wantErr(t, http.StatusBadRequest, "InvalidCursor")
		}
	}
	if pages != 3 || strings.Join(got, ",") != "u00,u01,u02,u03,u04,late" {
		t.Fatalf("%d pages: %v", pages, got)
	}
}
