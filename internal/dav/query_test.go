package dav_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"
)

// putAll stores fixtures in alice's Calendar and Tasks.
func putCalendars(t *testing.T, g *rig) (cal, tasks string) {
	t.Helper()
	alice := g.asAlice(t)
	cal, tasks = "/dav/calendars/"+g.alice+"/Calendar/", "/dav/calendars/"+g.alice+"/Tasks/"
	for href, f := range map[string]string{
		cal + "weekly.ics": "calendar/weekly-meeting.ics", cal + "allday.ics": "calendar/allday-rdate-cancelled.ics",
		cal + "tentative.ics": "calendar/tentative.ics", tasks + "task.ics": "calendar/task.ics",
	} {
		wantStatus(t, alice("PUT", href, nil, string(fixture(t, f))), http.StatusCreated, "")
	}
	return cal, tasks
}

// query runs a calendar-query with a time range on a component and
// returns the matching object names.
func query(t *testing.T, g *rig, coll, comp, start, end string) []string {
	t.Helper()
	body := `<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop>
<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="` + comp + `"><c:time-range start="` + start + `" end="` + end + `"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	ms := parseMS(t, g.do(t, g.alice, g.alicePw, "REPORT", coll, map[string]string{"Depth": "1"}, body))
	var out []string
	for _, h := range ms.hrefs() {
		out = append(out, h[strings.LastIndex(h, "/")+1:])
	}
	sort.Strings(out)
	return out
}

func TestCalendarQueryExpandsRecurrences(t *testing.T) {
	g := newRig(t)
	cal, tasks := putCalendars(t, g)
	for _, c := range []struct {
		what, comp, start, end, want string
	}{
		// Weekly on Mondays 10:00 "W. Europe Standard Time" (an Outlook
		// VTIMEZONE, no IANA name): CET until 29 March 2026, then CEST.
		{"first instance (CET, 09:00Z)", "VEVENT", "20260316T090000Z", "20260316T093000Z", "weekly.ics"},
		{"no instance an hour later", "VEVENT", "20260316T110000Z", "20260316T120000Z", ""},
		{"after DST (CEST, 08:00Z)", "VEVENT", "20260413T080000Z", "20260413T083000Z", "weekly.ics"},
		{"after DST, not at 09:00Z", "VEVENT", "20260413T090000Z", "20260413T093000Z", ""},
		{"moved instance: not at its old time", "VEVENT", "20260330T080000Z", "20260330T090000Z", ""},
		{"moved instance: at its new time", "VEVENT", "20260331T123000Z", "20260331T124500Z", "weekly.ics"},
		{"EXDATE: cancelled instance", "VEVENT", "20260406T000000Z", "20260407T000000Z", ""},
		{"last of COUNT=10", "VEVENT", "20260518T000000Z", "20260519T000000Z", "weekly.ics"},
		{"after COUNT=10", "VEVENT", "20260525T000000Z", "20260526T000000Z", ""},
		{"range overlapping the end of an instance", "VEVENT", "20260323T095900Z", "20260323T100100Z", "weekly.ics"},
		// Monthly all-day on the 1st (3 times) plus RDATE 15 June; the
		// 1 June instance is overridden as cancelled (still an instance).
		{"all-day RRULE", "VEVENT", "20260701T000000Z", "20260702T000000Z", "allday.ics"},
		{"all-day RDATE", "VEVENT", "20260615T100000Z", "20260615T110000Z", "allday.ics"},
		{"all-day cancelled override", "VEVENT", "20260601T120000Z", "20260601T130000Z", "allday.ics"},
		{"all-day, between instances", "VEVENT", "20260502T000000Z", "20260504T000000Z", ""},
		{"all-day, after COUNT", "VEVENT", "20260801T000000Z", "20260802T000000Z", ""},
		{"tentative single event (DURATION)", "VEVENT", "20260317T140000Z", "20260317T150000Z", "tentative.ics"},
	} {
		got := strings.Join(query(t, g, cal, c.comp, c.start, c.end), ",")
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, got, c.want)
		}
	}
	// A task due 15 April 17:00 New York (21:00Z).
	if got := query(t, g, tasks, "VTODO", "20260415T203000Z", "20260415T213000Z"); len(got) != 1 {
		t.Errorf("task due: %v", got)
	}
	if got := query(t, g, tasks, "VTODO", "20260415T160000Z", "20260415T170000Z"); len(got) != 0 {
		t.Errorf("task due at 17:00 local, not 17:00Z: %v", got)
	}
	// Property filters: text-match (case-insensitive) and is-not-defined.
	body := `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
<c:prop-filter name="SUMMARY"><c:text-match collation="i;unicode-casemap">ÉQUIPE</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	ms := parseMS(t, g.do(t, g.alice, g.alicePw, "REPORT", cal, map[string]string{"Depth": "1"}, body))
	if len(ms.Responses) != 1 || !strings.HasSuffix(ms.Responses[0].Href, "weekly.ics") {
		t.Errorf("text-match: %v", ms.hrefs())
	}
	body = `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
<c:prop-filter name="RRULE"><c:is-not-defined/></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	// weekly.ics and allday.ics have overrides without RRULE too: every
	// object has some VEVENT without RRULE.
	if ms := parseMS(t, g.do(t, g.alice, g.alicePw, "REPORT", cal, map[string]string{"Depth": "1"}, body)); len(ms.Responses) != 3 {
		t.Errorf("is-not-defined: %v", ms.hrefs())
	}
	body = `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
<c:prop-filter name="SUMMARY"><c:text-match collation="i;klingon">x</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>`
	wantStatus(t, g.do(t, g.alice, g.alicePw, "REPORT", cal, nil, body), http.StatusForbidden, "InvalidFilter")
}

func TestFreeBusyQuery(t *testing.T) {
	g := newRig(t)
	cal, _ := putCalendars(t, g)
	body := `<?xml version="1.0"?><c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20260316T000000Z" end="20260408T000000Z"/></c:free-busy-query>`
	r := g.do(t, g.alice, g.alicePw, "REPORT", cal, map[string]string{"Depth": "1"}, body)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("free-busy: %s", r)
	}
	var busy, tentative []string
	for _, l := range strings.Split(string(r.body), "\r\n") {
		if v, ok := strings.CutPrefix(l, "FREEBUSY;FBTYPE=BUSY:"); ok {
			busy = append(busy, v)
		}
		if v, ok := strings.CutPrefix(l, "FREEBUSY;FBTYPE=BUSY-TENTATIVE:"); ok {
			tentative = append(tentative, v)
		}
	}
	// Meetings 16 and 23 March (CET), 31 March (moved, CEST); 30 March
	// moved away, 6 April excluded. The all-day series starts in May.
	want := "20260316T090000Z/20260316T100000Z,20260323T090000Z/20260323T100000Z,20260331T123000Z/20260331T133000Z"
	if got := strings.Join(busy, ","); got != want {
		t.Errorf("busy %s, want %s\n%s", got, want, r.body)
	}
	if got := strings.Join(tentative, ","); got != "20260317T130000Z/20260317T143000Z" {
		t.Errorf("tentative %s", got)
	}
	// The cancelled all-day override of 1 June is free.
	body = `<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20260501T000000Z" end="20260702T000000Z"/></c:free-busy-query>`
	r = g.do(t, g.alice, g.alicePw, "REPORT", cal, map[string]string{"Depth": "1"}, body)
	got := string(r.body)
	for _, want := range []string{"20260501T000000Z/20260502T000000Z", "20260615T000000Z/20260616T000000Z", "20260701T000000Z/20260702T000000Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("all-day busy lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "20260601T000000Z") {
		t.Errorf("cancelled instance is busy:\n%s", got)
	}
}

func TestSyncCollection(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	book := "/dav/addressbooks/" + g.alice + "/Contacts/"
	sync := func(token string) (*multistatus, *reply) {
		body := `<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>` + token + `</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`
		r := alice("REPORT", book, nil, body)
		if r.status != http.StatusMultiStatus {
			return nil, r
		}
		return parseMS(t, r), r
	}
	for _, n := range []string{"a.vcf", "b.vcf"} {
		f := "contacts/v3-photo.vcf"
		if n == "b.vcf" {
			f = "contacts/v4-photo.vcf"
		}
		wantStatus(t, alice("PUT", book+n, nil, string(fixture(t, f))), http.StatusCreated, "")
	}
	ms, _ := sync("")
	if len(ms.Responses) != 2 || ms.SyncToken == "" {
		t.Fatalf("initial sync: %v %q", ms.hrefs(), ms.SyncToken)
	}
	t1 := ms.SyncToken
	ms, _ = sync(t1)
	if len(ms.Responses) != 0 || ms.SyncToken != t1 {
		t.Fatalf("no-change sync: %v %q", ms.hrefs(), ms.SyncToken)
	}
	// Change one, delete one, add one.
	v3 := strings.Replace(string(fixture(t, "contacts/v3-photo.vcf")), "TITLE:Leiterin", "TITLE:Direktorin", 1)
	wantStatus(t, alice("PUT", book+"a.vcf", nil, v3), http.StatusNoContent, "")
	wantStatus(t, alice("DELETE", book+"b.vcf", nil, ""), http.StatusNoContent, "")
	wantStatus(t, alice("PUT", book+"c.vcf", nil, string(fixture(t, "contacts/v3-no-uid.vcf"))), http.StatusCreated, "")
	ms, raw := sync(t1)
	got := map[string]string{}
	for _, r := range ms.Responses {
		got[r.Href[strings.LastIndex(r.Href, "/")+1:]] = r.Status
	}
	if len(got) != 3 || got["a.vcf"] != "" || got["c.vcf"] != "" || !strings.Contains(got["b.vcf"], "404") {
		t.Fatalf("incremental sync: %v\n%s", got, raw.body)
	}
	t2 := ms.SyncToken
	// Invalid tokens: 403 valid-sync-token.
	for _, bad := range []string{"garbage", "urn:x-tenantferry:sync:1-999999999"} {
		_, r := sync(bad)
		wantStatus(t, r, http.StatusForbidden, "InvalidSyncToken")
		if !strings.Contains(string(r.body), "valid-sync-token") {
			t.Fatalf("no valid-sync-token element: %s", r.body)
		}
	}
	// Tombstones purged past t1: t1 is refused, t2 still works.
	mb := g.srv.Content("contoso", mustGUID(t, g))
	hi, err := g.srv.Store.HighestModSeq(t.Context(), mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.srv.Store.PurgeMailboxTombstones(t.Context(), mb.ID, hi); err != nil {
		t.Fatal(err)
	}
	_, r := sync(t1)
	wantStatus(t, r, http.StatusForbidden, "InvalidSyncToken")
	if ms, r := sync(t2); ms == nil || len(ms.Responses) != 0 {
		t.Fatalf("current token after purge: %s", r)
	}
	if ms, _ := sync(""); len(ms.Responses) != 2 {
		t.Fatalf("full resync: %v", ms.hrefs())
	}
}

func mustGUID(t *testing.T, g *rig) string {
	t.Helper()
	r, err := g.srv.Dir.ResolveAddress(t.Context(), g.alice)
	if err != nil || r == nil {
		t.Fatal(err)
	}
	return r.ExchangeGuid
}

func TestAddressBookQuery(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	book := "/dav/addressbooks/" + g.alice + "/Contacts/"
	for n, f := range map[string]string{"a.vcf": "contacts/v3-photo.vcf", "b.vcf": "contacts/v4-photo.vcf", "c.vcf": "contacts/v3-no-uid.vcf"} {
		wantStatus(t, alice("PUT", book+n, nil, string(fixture(t, f))), http.StatusCreated, "")
	}
	q := func(filter string) []string {
		body := `<cr:addressbook-query xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><cr:address-data/></d:prop>` + filter + `</cr:addressbook-query>`
		data := reportData(t, alice("REPORT", book, map[string]string{"Depth": "1"}, body))
		var out []string
		for h, d := range data {
			if d == "" {
				t.Fatalf("no address-data for %s", h)
			}
			out = append(out, h[strings.LastIndex(h, "/")+1:])
		}
		sort.Strings(out)
		return out
	}
	for _, c := range []struct{ filter, want string }{
		{`<cr:filter><cr:prop-filter name="FN"><cr:text-match collation="i;unicode-casemap" match-type="starts-with">åsa</cr:text-match></cr:prop-filter></cr:filter>`, "a.vcf"},
		{`<cr:filter><cr:prop-filter name="EMAIL"><cr:text-match match-type="ends-with">fabrikam.tenantferry.test</cr:text-match></cr:prop-filter></cr:filter>`, "b.vcf"},
		{`<cr:filter test="anyof"><cr:prop-filter name="FN"><cr:text-match>jürgen</cr:text-match></cr:prop-filter><cr:prop-filter name="FN"><cr:text-match>Ça Va</cr:text-match></cr:prop-filter></cr:filter>`, "b.vcf,c.vcf"},
		{`<cr:filter test="allof"><cr:prop-filter name="PHOTO"/><cr:prop-filter name="ORG"/></cr:filter>`, "a.vcf"},
		{`<cr:filter><cr:prop-filter name="PHOTO"><cr:is-not-defined/></cr:prop-filter></cr:filter>`, "c.vcf"},
		{`<cr:filter><cr:prop-filter name="EMAIL"><cr:param-filter name="TYPE"><cr:text-match>work</cr:text-match></cr:param-filter></cr:prop-filter></cr:filter>`, "a.vcf,b.vcf"},
	} {
		if got := strings.Join(q(c.filter), ","); got != c.want {
			t.Errorf("%s: got %s, want %s", c.filter, got, c.want)
		}
	}
}
