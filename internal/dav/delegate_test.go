package dav_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestDelegatesOpenSharedMailbox is issue 9's CalDAV delegation criterion:
// two users holding FullAccess on a shared mailbox (which has no password
// of its own) sign in as themselves, and the python3-caldav library reads
// its calendar byte-exact and writes to it, each seeing what the other
// filed; a delegate also writes its address book. A user of the same
// tenant with SendAs only, a user of another tenant and a delegate whose
// permission was removed get 404 PrincipalNotFound, as for a mailbox that
// does not exist.
func TestDelegatesOpenSharedMailbox(t *testing.T) {
	needPython(t, "caldav", "python3-caldav")
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	ctx := context.Background()
	shared, err := s.Admin.CreateRecipient(ctx, s.Op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "sales", Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := s.Mailbox("contoso", "alice", "alice-secret-1", false).PrimarySmtpAddress
	dan := s.Mailbox("contoso", "dan", "dan-secret-1", false).PrimarySmtpAddress
	carol := s.Mailbox("contoso", "carol", "carol-secret-1", false).PrimarySmtpAddress
	eve := s.Mailbox("fabrikam", "eve", "eve-secret-1", false).PrimarySmtpAddress
	for user, right := range map[string]string{"alice": directory.FullAccess, "dan": directory.FullAccess, "carol": directory.SendAs} {
		if _, err := s.Admin.AddMailboxPermission(ctx, s.Op, "contoso", "sales", user, right); err != nil {
			t.Fatal(err)
		}
	}
	g := &rig{srv: s, base: "http://" + s.HTTPAddr()}
	cal := "/dav/calendars/" + shared.PrimarySmtpAddress + "/Calendar/"
	book := "/dav/addressbooks/" + shared.PrimarySmtpAddress + "/Contacts/"

	weekly := fixture(t, "calendar/weekly-meeting.ics")
	wantStatus(t, g.do(t, alice, "alice-secret-1", "PUT", cal+"weekly.ics", map[string]string{"Content-Type": "text/calendar"}, string(weekly)), http.StatusCreated, "")
	card := fixture(t, "contacts/v4-photo.vcf")
	wantStatus(t, g.do(t, dan, "dan-secret-1", "PUT", book+"card.vcf", map[string]string{"Content-Type": "text/vcard"}, string(card)), http.StatusCreated, "")
	if got := g.do(t, alice, "alice-secret-1", "GET", book+"card.vcf", nil, ""); got.status != http.StatusOK || sum(got.body) != sum(card) {
		t.Fatalf("alice reads dan's contact: %s", got)
	}

	type result struct {
		Events   map[string]string
		Saved    string
		SavedSha string `json:"saved_sha"`
	}
	delegate := func(user, pw, file string) result {
		t.Helper()
		fx, _ := filepath.Abs(filepath.Join("testdata", "calendar", file))
		out := runClient(t, 2*time.Minute, debianPython, filepath.Join("testdata", "clients", "caldav_delegate.py"),
			g.base, user, pw, shared.PrimarySmtpAddress, fx)
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("client output: %v\n%s", err, out)
		}
		return r
	}
	ra := delegate(alice, "alice-secret-1", "tentative.ics")
	if len(ra.Events) != 1 || ra.Events["weekly.ics"] != sum(weekly) {
		t.Fatalf("alice sees %v, want weekly.ics %s", ra.Events, sum(weekly))
	}
	rd := delegate(dan, "dan-secret-1", "allday-rdate-cancelled.ics")
	if len(rd.Events) != 2 || rd.Events["weekly.ics"] != sum(weekly) || rd.Events[ra.Saved] != ra.SavedSha {
		t.Fatalf("dan sees %v, want weekly.ics and %s (%s)", rd.Events, ra.Saved, ra.SavedSha)
	}
	if got := g.do(t, alice, "alice-secret-1", "GET", cal+rd.Saved, nil, ""); got.status != http.StatusOK || sum(got.body) != rd.SavedSha {
		t.Fatalf("alice reads what dan filed: %s", got)
	}

	denied := func(user, pw string) {
		t.Helper()
		for _, p := range []string{cal, cal + "weekly.ics", book, book + "card.vcf", "/dav/principals/" + shared.PrimarySmtpAddress + "/"} {
			for _, m := range []string{"GET", "PROPFIND", "DELETE"} {
				wantStatus(t, g.do(t, user, pw, m, p, map[string]string{"Depth": "1"}, ""), http.StatusNotFound, "PrincipalNotFound")
			}
		}
		wantStatus(t, g.do(t, user, pw, "PUT", cal+"intruder.ics", nil, string(weekly)), http.StatusNotFound, "PrincipalNotFound")
	}
	denied(carol, "carol-secret-1")
	denied(eve, "eve-secret-1")
	if err := s.Admin.RemoveMailboxPermission(ctx, s.Op, "contoso", "sales", "dan", directory.FullAccess); err != nil {
		t.Fatal(err)
	}
	denied(dan, "dan-secret-1")
	// The shared mailbox itself cannot sign in: it has no password.
	wantStatus(t, g.do(t, shared.PrimarySmtpAddress, "", "PROPFIND", cal, map[string]string{"Depth": "0"}, ""), http.StatusUnauthorized, "")
	// Still there, untouched by the refusals.
	if got := g.do(t, alice, "alice-secret-1", "GET", cal+"weekly.ics", nil, ""); got.status != http.StatusOK || sum(got.body) != sum(weekly) {
		t.Fatalf("weekly.ics after the refusals: %s", got)
	}
}
