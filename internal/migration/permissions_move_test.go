package migration_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestSharedMailboxAndPermissionsMove is issue 9's "permissions survive a
// move", across two servers: a shared mailbox (sales) and two of its
// delegates move; sales arrives as a SharedMailbox and the permissions
// between principals that both have a counterpart on the target are
// granted there, whichever move completes first. A delegate in scope but
// not stamped on the target (bob), and one outside the scope (carol, not
// named to the target) are reported as not carried.
func TestSharedMailboxAndPermissionsMove(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		ctx := context.Background()
		a := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), SMTP: "off"})
		b := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), SMTP: "off"})
		a.Tenant(srcName)
		b.Tenant(tgtName)
		r := &rig{t: t, ctx: ctx, s: a, tgt: b, tr: scenario.SetupTrust(t, a, srcName, b, tgtName)}

		sales, err := a.Admin.CreateRecipient(ctx, a.Op, srcName, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "sales", Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		scenario.Fill(t, a.Store, a.Content(srcName, sales.ExchangeGuid).ID, items("sales", 5))
		r.tr.AddToScope(t, a, "sales")
		alice, dan := r.source("alice", 3, false, true), r.source("dan", 2, false, true)
		bob := r.source("bob", 1, false, true)
		r.source("carol", 1, false, false)
		for _, g := range []struct{ mb, user, right string }{
			{"sales", "alice", directory.FullAccess}, {"sales", "alice", directory.SendAs},
			{"sales", "dan", directory.FullAccess}, {"alice", "dan", directory.FullAccess},
			{"sales", "bob", directory.FullAccess}, {"sales", "carol", directory.FullAccess},
		} {
			if _, err := a.Admin.AddMailboxPermission(ctx, a.Op, srcName, g.mb, g.user, g.right); err != nil {
				t.Fatal(err)
			}
		}
		for _, src := range []*directory.Recipient{sales, alice, dan} {
			r.stamp(src, nil)
		}
		addrs := []string{r.addr("sales"), r.addr("alice"), r.addr("dan")}
		r.batchSpec(migration.BatchSpec{Name: "team", Endpoint: r.tr.Endpoint, CSV: csvOf(addrs...), AutoStart: true, AutoComplete: true})
		for _, ad := range addrs {
			r.waitUser("team", ad, migration.StateCompleted, migration.StateCompletedWithWarnings)
		}

		tsales, err := b.Dir.GetRecipient(ctx, r.tgtID(), "sales")
		if err != nil {
			t.Fatal(err)
		}
		if tsales.TypeDetails() != "SharedMailbox" || tsales.CheckPassword("") {
			t.Fatalf("target sales is %s", tsales.TypeDetails())
		}
		got := permissionsOf(t, b, r.tgtID(), "sales", "alice")
		want := []string{"dan FullAccess on alice", "alice FullAccess on sales", "alice SendAs on sales", "dan FullAccess on sales"}
		sort.Strings(want)
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("target permissions:\n %v\nwant\n %v", got, want)
		}
		rep := r.report("team", r.addr("sales"))
		var log []string
		for _, l := range rep.Report {
			log = append(log, l.Message)
		}
		all := strings.Join(log, "\n")
		for _, w := range []string{"SharedMailbox on the target", "FullAccess on " + sales.PrimarySmtpAddress + " (" + bob.PrimarySmtpAddress + " has no counterpart on the target",
			"the other principal is outside the migration scope"} {
			if !strings.Contains(all, w) {
				t.Errorf("sales report lacks %q:\n%s", w, all)
			}
		}
		if strings.Contains(all, "carol") {
			t.Errorf("the report names carol, who is outside the scope:\n%s", all)
		}
	})
}

// permissionsOf lists the permissions on the target mailboxes as
// "user right on mailbox" (aliases), sorted.
func permissionsOf(t *testing.T, s *scenario.Server, tenantID string, mailboxes ...string) []string {
	t.Helper()
	var out []string
	for _, mb := range mailboxes {
		ps, err := s.Dir.ListPermissions(context.Background(), tenantID, mb)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			out = append(out, p.User.Alias+" "+p.Right+" on "+p.Mailbox.Alias)
		}
	}
	sort.Strings(out)
	return out
}
