package migration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// davUser talks CalDAV/CardDAV to a server as one mailbox.
type davUser struct {
	t          *testing.T
	base, user string
	pw         string
}

func (d *davUser) do(method, path string, hdr map[string]string, body string) (int, http.Header, []byte) {
	d.t.Helper()
	req, err := http.NewRequest(method, d.base+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	req.SetBasicAuth(d.user, d.pw)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (d *davUser) must(status int, method, path string, hdr map[string]string, body string) []byte {
	d.t.Helper()
	st, _, b := d.do(method, path, hdr, body)
	if st != status {
		d.t.Fatalf("%s %s: %d, want %d: %s", method, path, st, status, b)
	}
	return b
}

// hrefs lists the hrefs of a 207 answer.
func hrefsOf(t *testing.T, body []byte) []string {
	t.Helper()
	var ms struct {
		Responses []struct {
			Href string `xml:"href"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal(body, &ms); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, r := range ms.Responses {
		out = append(out, r.Href)
	}
	sort.Strings(out)
	return out
}

// groupware is what a user's calendars, task lists and address books hold:
// collection path → object name → SHA-256 (read with GET), plus the raw
// PROPFIND answer of each collection (display name, colour, ...).
type groupware struct {
	objects map[string]map[string]string
	props   map[string]string
}

func (d *davUser) snapshot() *groupware {
	d.t.Helper()
	g := &groupware{objects: map[string]map[string]string{}, props: map[string]string{}}
	for _, tree := range []string{"calendars", "addressbooks"} {
		home := "/dav/" + tree + "/" + d.user + "/"
		for _, coll := range hrefsOf(d.t, d.must(207, "PROPFIND", home, map[string]string{"Depth": "1"}, "")) {
			if coll == home {
				continue
			}
			name := strings.TrimPrefix(coll, home)
			g.objects[tree+"/"+name] = map[string]string{}
			body := `<d:propfind xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><a:calendar-color/></d:prop></d:propfind>`
			g.props[tree+"/"+name] = strings.ReplaceAll(string(d.must(207, "PROPFIND", coll, map[string]string{"Depth": "0"}, body)), d.user, "USER")
			for _, h := range hrefsOf(d.t, d.must(207, "PROPFIND", coll, map[string]string{"Depth": "1"}, "")) {
				if h == coll {
					continue
				}
				sum := sha256.Sum256(d.must(200, "GET", h, nil, ""))
				g.objects[tree+"/"+name][strings.TrimPrefix(h, coll)] = hex.EncodeToString(sum[:])
			}
		}
	}
	return g
}

func davFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "dav", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fillGroupware creates calendars, tasks and contacts over CalDAV/CardDAV.
func fillGroupware(d *davUser) {
	cal, tasks, book := "/dav/calendars/"+d.user+"/Calendar/", "/dav/calendars/"+d.user+"/Tasks/", "/dav/addressbooks/"+d.user+"/Contacts/"
	for path, f := range map[string]string{
		cal + "weekly.ics": "calendar/weekly-meeting.ics", cal + "f%C3%AAte.ics": "calendar/allday-rdate-cancelled.ics",
		tasks + "task.ics": "calendar/task.ics", book + "asa.vcf": "contacts/v3-photo.vcf", book + "j%C3%BCrgen.vcf": "contacts/v4-photo.vcf",
		book + "no-uid.vcf": "contacts/v3-no-uid.vcf",
	} {
		d.must(201, "PUT", path, nil, davFixture(d.t, f))
	}
	mk := `<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>
<d:displayname>Projekt Ü</d:displayname><a:calendar-color>#00AA00FF</a:calendar-color></d:prop></d:set></c:mkcalendar>`
	d.must(201, "MKCALENDAR", "/dav/calendars/"+d.user+"/projekt/", nil, mk)
	d.must(201, "PUT", "/dav/calendars/"+d.user+"/projekt/t.ics", nil, davFixture(d.t, "calendar/tentative.ics"))
}

// changeGroupware changes the source between syncs: an update, a
// deletion, a new object and a collection property.
func changeGroupware(d *davUser) {
	cal := "/dav/calendars/" + d.user + "/Calendar/"
	weekly := strings.Replace(davFixture(d.t, "calendar/weekly-meeting.ics"), "Salle Réunion 3", "Salle Réunion 7", 1)
	d.must(204, "PUT", cal+"weekly.ics", nil, weekly)
	d.must(204, "DELETE", "/dav/addressbooks/"+d.user+"/Contacts/no-uid.vcf", nil, "")
	task := strings.ReplaceAll(davFixture(d.t, "calendar/task.ics"), "task-1-naïve", "task-2-naïve")
	d.must(201, "PUT", "/dav/calendars/"+d.user+"/Tasks/task2.ics", nil, task)
	pp := `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Projekt Ü (neu)</d:displayname></d:prop></d:set></d:propertyupdate>`
	d.must(207, "PROPPATCH", "/dav/calendars/"+d.user+"/projekt/", nil, pp)
}

// sameGroupware asserts the target user sees what the source user saw.
func sameGroupware(t *testing.T, want, got *groupware) {
	t.Helper()
	if len(want.objects) != len(got.objects) {
		t.Fatalf("collections differ: %v vs %v", keys(want.objects), keys(got.objects))
	}
	for c, objs := range want.objects {
		g := got.objects[c]
		if len(g) != len(objs) {
			t.Fatalf("%s: %d objects on the source, %d on the target", c, len(objs), len(g))
		}
		for n, h := range objs {
			if g[n] != h {
				t.Fatalf("%s/%s differs on the target", c, n)
			}
		}
		if want.props[c] != got.props[c] {
			t.Fatalf("%s properties differ:\n%s\n%s", c, want.props[c], got.props[c])
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// moveGroupware moves gw01 from src to tgt with calendars, tasks and
// contacts, with an incremental sync between, and checks the target.
func moveGroupware(t *testing.T, src, tgt *scenario.Server, tr *scenario.Trust) {
	ctx := context.Background()
	rec := src.Mailbox("contoso", "gw01", "pw-gw01", false)
	tr.AddToScope(t, src, "gw01")
	srcDAV := &davUser{t: t, base: "http://" + src.HTTPAddr(), user: rec.PrimarySmtpAddress, pw: "pw-gw01"}
	fillGroupware(srcDAV)
	csv := []byte("EmailAddress\ngw01@" + tr.TargetTenant.InitialDomain + "\n")
	rows, err := tgt.Admin.PrepareMailUsers(ctx, tgt.Op, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery, false)
	if err != nil || len(rows) != 1 || rows[0].Action != migration.PrepareCreated {
		t.Fatalf("prepare: %v %+v", err, rows)
	}
	if _, err := tgt.Admin.CreateBatch(ctx, tgt.Op, "fabrikam", migration.BatchSpec{Name: "gw", Endpoint: tr.Endpoint, CSV: csv,
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, tgt, "fabrikam", "gw", time.Minute, migration.StateSynced)
	changeGroupware(srcDAV)
	if _, err := tgt.Admin.BatchCommand(ctx, tgt.Op, "fabrikam", "gw", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, tgt, "fabrikam", "gw", time.Minute, migration.StateSynced)
	want := srcDAV.snapshot()
	if _, err := tgt.Admin.BatchCommand(ctx, tgt.Op, "fabrikam", "gw", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	us := waitUsers(t, tgt, "fabrikam", "gw", time.Minute, migration.StateCompleted)
	if us[0].DataConsistencyScore != migration.ScorePerfect || us[0].ItemsSkipped != 0 {
		t.Fatalf("completed with %s, %d skipped", us[0].DataConsistencyScore, us[0].ItemsSkipped)
	}
	// Weekly, allday, tentative (in projekt); two tasks; two contacts
	// (one of three deleted). The default folders hold no mail here.
	if u := us[0]; u.CalendarItems != 3 || u.TaskItems != 2 || u.ContactItems != 2 || u.MailItems != 0 || u.ItemsSynced != 7 {
		t.Fatalf("per-class counts: mail %d, calendar %d, contacts %d, tasks %d, total %d", u.MailItems, u.CalendarItems, u.ContactItems, u.TaskItems, u.ItemsSynced)
	}
	pw := "pw-target-gw01"
	if _, err := tgt.Admin.UpdateRecipient(ctx, tgt.Op, "fabrikam", "gw01", directory.RecipientUpdate{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	tgtDAV := &davUser{t: t, base: "http://" + tgt.HTTPAddr(), user: "gw01@" + tr.TargetTenant.InitialDomain, pw: pw}
	got := tgtDAV.snapshot()
	sameGroupware(t, want, got)
	if n := len(got.objects["calendars/Tasks/"]); n != 2 {
		t.Fatalf("Tasks has %d objects on the target", n)
	}

	// The target is a working server for those objects: the UID stays
	// unique, and sync-collection runs incrementally from a fresh token.
	cal := "/dav/calendars/" + tgtDAV.user + "/Calendar/"
	if st, _, b := tgtDAV.do("PUT", cal+"copy.ics", nil, strings.Replace(davFixture(t, "calendar/weekly-meeting.ics"), "Salle Réunion 3", "x", 1)); st != 409 {
		t.Fatalf("UID conflict on the target: %d %s", st, b)
	}
	syncBody := func(tok string) string {
		return `<d:sync-collection xmlns:d="DAV:"><d:sync-token>` + tok + `</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`
	}
	var first struct {
		Token string `xml:"sync-token"`
	}
	if err := xml.Unmarshal(tgtDAV.must(207, "REPORT", cal, nil, syncBody("")), &first); err != nil || first.Token == "" {
		t.Fatalf("initial sync on the target: %v", err)
	}
	tgtDAV.must(201, "PUT", cal+"new.ics", nil, davFixture(t, "calendar/tentative.ics"))
	if hs := hrefsOf(t, tgtDAV.must(207, "REPORT", cal, nil, syncBody(first.Token))); len(hs) != 1 || !strings.HasSuffix(hs[0], "/new.ics") {
		t.Fatalf("incremental sync on the target: %v", hs)
	}
	// The source's credentials no longer open anything there.
	if st, _, _ := srcDAV.do("PROPFIND", "/dav/", nil, ""); st != 401 {
		t.Fatalf("the moved-away source still serves DAV: %d", st)
	}
}

// TestMoveCarriesGroupwareSameServer moves calendars, tasks and contacts
// between two tenants of one server.
func TestMoveCarriesGroupwareSameServer(t *testing.T) {
	r := newRig(t)
	moveGroupware(t, r.s, r.s, r.tr)
}

// TestMoveCarriesGroupwareCrossServer moves them between two servers, on
// SQLite and (with TENANTFERRY_TEST_POSTGRES) PostgreSQL.
func TestMoveCarriesGroupwareCrossServer(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		a := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect)})
		b := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect)})
		a.Tenant("contoso")
		b.Tenant("fabrikam")
		moveGroupware(t, a, b, scenario.SetupTrust(t, a, "contoso", b, "fabrikam"))
	})
}

// TestVerificationCoversGroupware: a calendar object missing on the target
// is an unexplained difference: DataConsistencyPoor blocks the completion.
func TestVerificationCoversGroupware(t *testing.T) {
	r := newRig(t)
	rec := r.s.Mailbox(srcName, "gwv", "pw-gwv", false)
	r.tr.AddToScope(t, r.s, "gwv")
	d := &davUser{t: t, base: "http://" + r.s.HTTPAddr(), user: rec.PrimarySmtpAddress, pw: "pw-gwv"}
	d.must(201, "PUT", "/dav/calendars/"+d.user+"/Calendar/weekly.ics", nil, davFixture(t, "calendar/weekly-meeting.ics"))
	d.must(201, "PUT", "/dav/addressbooks/"+d.user+"/Contacts/asa.vcf", nil, davFixture(t, "contacts/v3-photo.vcf"))
	r.stamp(rec, nil)
	r.batch("gwv", r.tr.Endpoint, r.addr("gwv"))
	r.waitUser("gwv", r.addr("gwv"), migration.StateSynced)
	// Lose the event on the target copy behind the engine's back.
	mb := r.tgt.Content(tgtName, rec.ExchangeGuid)
	cal, err := r.tgt.Store.FolderByPath(r.ctx, mb.ID, "Calendar")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.tgt.Store.DeleteNamed(r.ctx, mb.ID, cal.ID, "weekly.ics", nil); err != nil {
		t.Fatal(err)
	}
	r.cmd("gwv", admin.BatchComplete, false)
	scenario.Eventually(t, 30*time.Second, "completion blocked", func() error {
		u := r.user("gwv", r.addr("gwv"))
		if u.Status != migration.StateSynced || u.Error == nil || u.Error.Code != "DataConsistencyPoor" || u.DataConsistencyScore != migration.ScorePoor {
			return fmt.Errorf("%s %s %+v %s", u.Status, u.StatusDetail, u.Error, u.DataConsistencyScore)
		}
		return nil
	})
}
