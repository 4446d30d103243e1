package migration_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// TestPrepareMailUsers runs `mailuser prepare` on a CSV that creates
// MailUsers (matched by alias, or by the SourceEmailAddress column),
// stamps an existing MailUser, and has rows that fail on their own (no
// source mailbox with that alias in the published scope, a target that is
// already a mailbox). A dry run changes nothing; the stamped users pass
// every check of `endpoint test` and sync; a rerun changes nothing.
//
// An ambiguous alias match cannot be produced with a tenantferry source:
// aliases are unique per tenant, case-insensitively (the directory's
// unique index), and the published scope lists each mailbox once.
func TestPrepareMailUsers(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx
	const tdd = "fabrikam.example"
	if _, err := r.s.Admin.AddDomain(ctx, r.s.Op, tgtName, tdd, true); err != nil {
		t.Fatal(err)
	}
	p1 := r.source("p1", 3, true, true)
	p2 := r.source("p2", 3, false, true)
	p3 := r.source("p3", 3, false, true)
	oldX500 := "/o=OldOrg/ou=First Administrative Group/cn=Recipients/cn=p3"
	if _, err := r.s.Admin.UpdateRecipient(ctx, r.s.Op, srcName, "p3", directory.RecipientUpdate{AddAddresses: []string{"X500:" + oldX500}}); err != nil {
		t.Fatal(err)
	}
	p3 = r.srcOf("p3")
	r.source("p4", 1, false, false) // not in the published scope
	r.source("mbx", 1, false, true)
	r.s.Mailbox(tgtName, "mbx", "pw", false) // the target is already a mailbox
	// An existing, unstamped MailUser.
	if _, err := r.s.Admin.CreateRecipient(ctx, r.s.Op, tgtName, directory.RecipientSpec{Type: directory.MailUser, Alias: "p2", DisplayName: "P2 Existing",
		ExternalEmail: "p2@partner.example"}); err != nil {
		t.Fatal(err)
	}
	csv := []byte("EmailAddress,SourceEmailAddress\n" +
		"p1@fabrikam.tenantferry.test,\n" +
		"p2@fabrikam.tenantferry.test,\n" +
		"renamed@fabrikam.tenantferry.test,p3@contoso.tenantferry.test\n" +
		"p4@fabrikam.tenantferry.test,\n" +
		"nobody@fabrikam.tenantferry.test,\n" +
		"mbx@fabrikam.tenantferry.test,\n")
	type want struct{ action, code string }
	run := func(dry bool, wants ...want) []migration.PrepareRow {
		t.Helper()
		rows, err := r.s.Admin.PrepareMailUsers(ctx, r.s.Op, tgtName, r.tr.Endpoint, csv, tdd, dry)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(wants) {
			t.Fatalf("%d rows: %+v", len(rows), rows)
		}
		for i, w := range wants {
			row := rows[i]
			code := ""
			if row.Error != nil {
				code = row.Error.Code
				if !strings.Contains(row.Error.Message, "(") {
					t.Fatalf("line %d: error without a hint: %s", row.Line, row.Error.Message)
				}
			}
			if row.Action != w.action || code != w.code || row.Line != i+2 {
				t.Fatalf("line %d (%s): %s %s, want %s %s: %+v", row.Line, row.EmailAddress, row.Action, code, w.action, w.code, row)
			}
			if w.action == migration.PrepareUnchanged && len(row.Changes) > 0 {
				t.Fatalf("line %d unchanged with changes %v", row.Line, row.Changes)
			}
			if (w.action == migration.PrepareWouldDo || w.action == migration.PrepareCreated || w.action == migration.PrepareUpdated) && len(row.Changes) == 0 {
				t.Fatalf("line %d: %s without changes", row.Line, w.action)
			}
		}
		return rows
	}
	notFound := want{migration.PrepareFailed, "SourceMailboxNotFound"}
	isMailbox := want{migration.PrepareFailed, "TargetAlreadyHasMailbox"}

	before, err := r.s.Dir.ListRecipients(ctx, r.tgtID())
	if err != nil {
		t.Fatal(err)
	}
	wd := want{migration.PrepareWouldDo, ""}
	rows := run(true, wd, wd, wd, notFound, notFound, isMailbox)
	if rows[2].SourceEmailAddress != "p3@contoso.tenantferry.test" || rows[0].SourceEmailAddress != p1.PrimarySmtpAddress {
		t.Fatalf("source addresses: %+v", rows)
	}
	after, err := r.s.Dir.ListRecipients(ctx, r.tgtID())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a dry run changed the target's recipients")
	}

	rows = run(false, want{migration.PrepareCreated, ""}, want{migration.PrepareUpdated, ""}, want{migration.PrepareCreated, ""}, notFound, notFound, isMailbox)
	if !strings.Contains(strings.Join(rows[1].Changes, " "), "ExchangeGuid "+p2.ExchangeGuid) {
		t.Fatalf("p2 changes: %v", rows[1].Changes)
	}
	for _, c := range []struct {
		target string
		src    *directory.Recipient
	}{{"p1@fabrikam.tenantferry.test", p1}, {"p2@fabrikam.tenantferry.test", p2}, {"renamed@fabrikam.tenantferry.test", p3}} {
		g, err := r.s.Dir.GetRecipient(ctx, r.tgtID(), c.target)
		if err != nil {
			t.Fatal(err)
		}
		x500 := strings.ToLower(strings.Join(g.X500(), "\n"))
		switch {
		case g.Type != directory.MailUser || g.PrimarySmtpAddress != c.target:
			t.Fatalf("%s: %s %s", c.target, g.Type, g.PrimarySmtpAddress)
		case g.ExchangeGuid != c.src.ExchangeGuid || g.ArchiveGuid != c.src.ArchiveGuid:
			t.Fatalf("%s: GUIDs %s %s, source %s %s", c.target, g.ExchangeGuid, g.ArchiveGuid, c.src.ExchangeGuid, c.src.ArchiveGuid)
		case g.ExternalEmailAddress != c.src.PrimarySmtpAddress:
			t.Fatalf("%s: ExternalEmailAddress %s", c.target, g.ExternalEmailAddress)
		case !strings.Contains(x500, strings.ToLower(c.src.LegacyExchangeDN)):
			t.Fatalf("%s: no X500 of the source LegacyExchangeDN in %v", c.target, g.X500())
		case !hasAddress(g, c.src.Alias+"@"+tdd):
			t.Fatalf("%s: no proxy in %s: %v", c.target, tdd, g.EmailAddresses())
		}
		for _, x := range c.src.X500() {
			if !strings.Contains(x500, strings.ToLower(x)) {
				t.Fatalf("%s lacks the source's X500 %s", c.target, x)
			}
		}
		if c.src == p2 && g.DisplayName != "P2 Existing" {
			t.Fatalf("stamping replaced the existing MailUser's display name: %s", g.DisplayName)
		}
		wantSuccess(t, mustTest(t, r, c.target, tdd))
	}
	if !strings.Contains(strings.ToLower(strings.Join(p3.X500(), " ")), strings.ToLower(oldX500)) {
		t.Fatal("the source's extra X500 was not set up")
	}

	// A rerun changes nothing.
	unchanged := want{migration.PrepareUnchanged, ""}
	before, _ = r.s.Dir.ListRecipients(ctx, r.tgtID())
	run(false, unchanged, unchanged, unchanged, notFound, notFound, isMailbox)
	after, _ = r.s.Dir.ListRecipients(ctx, r.tgtID())
	if !reflect.DeepEqual(before, after) {
		t.Fatal("a rerun changed the target's recipients")
	}

	// The prepared users move.
	r.batchSpec(migration.BatchSpec{Name: "prepared", Endpoint: r.tr.Endpoint, TargetDeliveryDomain: tdd, AutoStart: true,
		CSV: []byte("EmailAddress\np1@fabrikam.tenantferry.test\np2@fabrikam.tenantferry.test\nrenamed@fabrikam.tenantferry.test\n")})
	for _, a := range []string{"p1", "p2", "renamed"} {
		r.waitUser("prepared", a+"@fabrikam.tenantferry.test", migration.StateSynced)
	}
	r.sameContent(p1)
	r.sameContent(p3)
}

func hasAddress(r *directory.Recipient, addr string) bool {
	for _, a := range r.SMTPAddresses() {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

func mustTest(t *testing.T, r *rig, addr, tdd string) *migration.TestResult {
	t.Helper()
	res, err := r.tgt.Admin.TestEndpoint(r.ctx, r.tgt.Op, tgtName, r.tr.Endpoint, addr, tdd)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
