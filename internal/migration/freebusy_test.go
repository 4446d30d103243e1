package migration_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

const freeBusyQuery = `<?xml version="1.0" encoding="utf-8"?><c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav">` +
	`<c:time-range start="20260301T000000Z" end="20260401T000000Z"/></c:free-busy-query>`

// freeBusyLines returns the FREEBUSY lines of a VFREEBUSY answer.
func freeBusyLines(b []byte) string {
	var out []string
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.HasPrefix(l, "FREEBUSY") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// setFreeBusy turns FreeBusyAccessEnabled on or off on every organization
// relationship of a tenant.
func setFreeBusy(t *testing.T, s *scenario.Server, tenant string, on bool) {
	t.Helper()
	ctx := context.Background()
	ten := s.Tenant(tenant)
	rels, err := s.Dir.ListOrgRels(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rels {
		if _, err := s.Admin.UpdateOrgRel(ctx, s.Op, tenant, o.Name, directory.OrgRelSpec{FreeBusyAccessEnabled: &on}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFreeBusyCoexistence is issue 9 item 6: during a migration, a target
// user's CalDAV free-busy query for a stamped MailUser (a source mailbox
// not yet moved) answers from the source server through the migration
// app's token, with the same busy times the source user's own query shows
// — only when both organization relationships have
// FreeBusyAccessEnabled, only for mailboxes in the published scope, and
// only for users of the target tenant. Once the move completes, the target
// mailbox answers itself. Across two servers.
func TestFreeBusyCoexistence(t *testing.T) {
	ctx := context.Background()
	a := scenario.Start(t, scenario.Options{SMTP: "off"})
	b := scenario.Start(t, scenario.Options{SMTP: "off"})
	a.Tenant(srcName)
	b.Tenant(tgtName)
	b.Tenant("northwind")
	r := &rig{t: t, ctx: ctx, s: a, tgt: b, tr: scenario.SetupTrust(t, a, srcName, b, tgtName)}

	alice := r.source("fbalice", 1, false, true)
	outside := r.source("fboutside", 1, false, false)
	srcDAV := &davUser{t: t, base: "http://" + a.HTTPAddr(), user: alice.PrimarySmtpAddress, pw: "pw-fbalice"}
	for _, f := range []string{"weekly-meeting.ics", "tentative.ics"} {
		srcDAV.must(http.StatusCreated, "PUT", "/dav/calendars/"+alice.PrimarySmtpAddress+"/Calendar/"+f, map[string]string{"Content-Type": "text/calendar"}, davFixture(t, "calendar/"+f))
		outDAV := &davUser{t: t, base: "http://" + a.HTTPAddr(), user: outside.PrimarySmtpAddress, pw: "pw-fboutside"}
		outDAV.must(http.StatusCreated, "PUT", "/dav/calendars/"+outside.PrimarySmtpAddress+"/Calendar/"+f, map[string]string{"Content-Type": "text/calendar"}, davFixture(t, "calendar/"+f))
	}
	own := freeBusyLines(srcDAV.must(http.StatusOK, "REPORT", "/dav/calendars/"+alice.PrimarySmtpAddress+"/Calendar/", map[string]string{"Depth": "1"}, freeBusyQuery))
	if !strings.Contains(own, "20260316T090000Z/20260316T100000Z") {
		t.Fatalf("the source's own free/busy lacks the weekly meeting:\n%s", own)
	}
	r.stamp(alice, nil)
	r.stamp(outside, nil) // stamped, but outside the published scope
	tina := b.Mailbox(tgtName, "tina", "pw-tina", false)
	nora := b.Mailbox("northwind", "nora", "pw-nora", false)
	tinaDAV := &davUser{t: t, base: "http://" + b.HTTPAddr(), user: tina.PrimarySmtpAddress, pw: "pw-tina"}
	noraDAV := &davUser{t: t, base: "http://" + b.HTTPAddr(), user: nora.PrimarySmtpAddress, pw: "pw-nora"}
	ask := func(d *davUser, alias string) (int, []byte) {
		st, _, body := d.do("REPORT", "/dav/calendars/"+r.addr(alias)+"/Calendar/", map[string]string{"Depth": "1"}, freeBusyQuery)
		return st, body
	}
	want404 := func(what string, d *davUser, alias string) {
		t.Helper()
		if st, body := ask(d, alias); st != http.StatusNotFound || strings.Contains(string(body), "FREEBUSY") {
			t.Fatalf("%s: %d %s", what, st, body)
		}
	}

	want404("no relationship shares free/busy", tinaDAV, "fbalice")
	setFreeBusy(t, b, tgtName, true)
	want404("the source's relationship does not share free/busy", tinaDAV, "fbalice")
	setFreeBusy(t, a, srcName, true)
	st, body := ask(tinaDAV, "fbalice")
	if st != http.StatusOK || freeBusyLines(body) != own {
		t.Fatalf("remote free/busy: %d\n%s\nwant\n%s", st, body, own)
	}
	want404("a mailbox outside the published scope", tinaDAV, "fboutside")
	want404("a user of another tenant of the target server", noraDAV, "fbalice")
	// Other reports on the MailUser's calendar still find nothing.
	if st, _, _ := tinaDAV.do("REPORT", "/dav/calendars/"+r.addr("fbalice")+"/Calendar/", map[string]string{"Depth": "1"},
		`<c:calendar-query xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:d="DAV:"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter></c:calendar-query>`); st != http.StatusNotFound {
		t.Fatalf("calendar-query on a MailUser: %d", st)
	}

	// After the move, the target mailbox answers by itself: colleagues of a
	// tenant see each other's free/busy times (nothing else), whatever the
	// relationships say.
	r.batchSpec(migration.BatchSpec{Name: "fb", Endpoint: r.tr.Endpoint, CSV: csvOf(r.addr("fbalice")), AutoStart: true, AutoComplete: true})
	r.waitUser("fb", r.addr("fbalice"), migration.StateCompleted)
	setFreeBusy(t, b, tgtName, false)
	st, body = ask(tinaDAV, "fbalice")
	if st != http.StatusOK || freeBusyLines(body) != own {
		t.Fatalf("free/busy of the moved mailbox: %d\n%s\nwant\n%s", st, body, own)
	}
	want404("a user of another tenant, after the move", noraDAV, "fbalice")
	if st, _, _ := tinaDAV.do("GET", "/dav/calendars/"+r.addr("fbalice")+"/Calendar/weekly-meeting.ics", nil, ""); st != http.StatusNotFound {
		t.Fatalf("a colleague read an event: %d", st)
	}

	// The other way round: a colleague left on the source asks for the
	// moved user (now a MailUser there), answered by the target through
	// the trust set up in the other direction (as for a move back).
	stay := r.source("fbstay", 0, false, false)
	stayDAV := &davUser{t: t, base: "http://" + a.HTTPAddr(), user: stay.PrimarySmtpAddress, pw: "pw-fbstay"}
	askSource := func() (int, []byte) {
		st, _, body := stayDAV.do("REPORT", "/dav/calendars/"+alice.PrimarySmtpAddress+"/Calendar/", map[string]string{"Depth": "1"}, freeBusyQuery)
		return st, body
	}
	if st, body := askSource(); st != http.StatusNotFound {
		t.Fatalf("moved user asked on the source without a trust back: %d %s", st, body)
	}
	back := scenario.SetupTrust(t, b, tgtName, a, srcName)
	back.AddToScope(t, b, "fbalice")
	setFreeBusy(t, a, srcName, true)
	setFreeBusy(t, b, tgtName, true)
	if st, body := askSource(); st != http.StatusOK || freeBusyLines(body) != own {
		t.Fatalf("free/busy of the moved user, asked on the source: %d\n%s\nwant\n%s", st, body, own)
	}
}
