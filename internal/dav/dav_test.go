package dav_test

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// calendarData extracts the calendar-data/address-data of each response
// of a report, by href; XML parsing turns &#13; back into CR.
func reportData(t *testing.T, r *reply) map[string]string {
	t.Helper()
	ms := parseMS(t, r)
	out := map[string]string{}
	for _, resp := range ms.Responses {
		for _, ps := range resp.Propstats {
			for _, p := range ps.Prop.Props {
				if p.XMLName.Local == "calendar-data" || p.XMLName.Local == "address-data" {
					out[resp.Href] = p.Text
				}
			}
		}
	}
	return out
}

func TestDiscoveryAndDefaults(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	r := g.do(t, "", "", "GET", "/.well-known/caldav", nil, "")
	if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/dav/" {
		t.Fatalf("well-known caldav: %d %q", r.status, r.header.Get("Location"))
	}
	r = g.do(t, "", "", "PROPFIND", "/.well-known/carddav", nil, "")
	if r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/dav/" {
		t.Fatalf("well-known carddav: %d %q", r.status, r.header.Get("Location"))
	}
	wantStatus(t, g.do(t, "", "", "PROPFIND", "/dav/", nil, ""), http.StatusUnauthorized, "AuthenticationFailed")
	wantStatus(t, g.do(t, g.alice, "wrong", "PROPFIND", "/dav/", nil, ""), http.StatusUnauthorized, "AuthenticationFailed")

	ms := parseMS(t, alice("PROPFIND", "/dav/", map[string]string{"Depth": "0"}, propfindAll))
	principal := "/dav/principals/" + g.alice + "/"
	if v, _ := ms.prop("/dav/", "current-user-principal"); !strings.Contains(v, "") || !strings.Contains(string(alice("PROPFIND", "/dav/", map[string]string{"Depth": "0"}, propfindAll).body), principal) {
		t.Fatalf("current-user-principal not %s", principal)
	}
	body := string(alice("PROPFIND", principal, map[string]string{"Depth": "0"}, propfindAll).body)
	for _, want := range []string{"/dav/calendars/" + g.alice + "/", "/dav/addressbooks/" + g.alice + "/"} {
		if !strings.Contains(body, want) {
			t.Fatalf("principal lacks %s: %s", want, body)
		}
	}
	ms = parseMS(t, alice("PROPFIND", "/dav/calendars/"+g.alice+"/", map[string]string{"Depth": "1"}, propfindAll))
	cal, tasks := "/dav/calendars/"+g.alice+"/Calendar/", "/dav/calendars/"+g.alice+"/Tasks/"
	hrefs := strings.Join(ms.hrefs(), " ")
	if !strings.Contains(hrefs, cal) || !strings.Contains(hrefs, tasks) || strings.Contains(hrefs, "Inbox") || strings.Contains(hrefs, "Contacts") {
		t.Fatalf("calendar home lists %s", hrefs)
	}
	raw := string(alice("PROPFIND", cal, map[string]string{"Depth": "0"}, propfindAll).body)
	if !strings.Contains(raw, `name="VEVENT"`) || !strings.Contains(raw, `name="VTODO"`) {
		t.Fatalf("Calendar components: %s", raw)
	}
	raw = string(alice("PROPFIND", tasks, map[string]string{"Depth": "0"}, propfindAll).body)
	if strings.Contains(raw, `name="VEVENT"`) || !strings.Contains(raw, `name="VTODO"`) {
		t.Fatalf("Tasks components: %s", raw)
	}
	ms = parseMS(t, alice("PROPFIND", "/dav/addressbooks/"+g.alice+"/", map[string]string{"Depth": "1"}, propfindAll))
	if hrefs := strings.Join(ms.hrefs(), " "); !strings.Contains(hrefs, "/dav/addressbooks/"+g.alice+"/Contacts/") {
		t.Fatalf("address book home lists %s", hrefs)
	}
}

func TestObjectsByteExactAndPreconditions(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	cal := "/dav/calendars/" + g.alice + "/Calendar/"
	tasks := "/dav/calendars/" + g.alice + "/Tasks/"
	book := "/dav/addressbooks/" + g.alice + "/Contacts/"
	objects := map[string]string{
		cal + "weekly.ics":                      "calendar/weekly-meeting.ics",
		cal + url.PathEscape("fête-allday.ics"): "calendar/allday-rdate-cancelled.ics",
		cal + "tentative.ics":                   "calendar/tentative.ics",
		tasks + "task.ics":                      "calendar/task.ics",
		book + "asa.vcf":                        "contacts/v3-photo.vcf",
		book + url.PathEscape("jürgen.vcf"):     "contacts/v4-photo.vcf",
		book + "no-uid.vcf":                     "contacts/v3-no-uid.vcf",
	}
	etags := map[string]string{}
	for href, f := range objects {
		r := alice("PUT", href, map[string]string{"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"}, string(fixture(t, f)))
		wantStatus(t, r, http.StatusCreated, "")
		etags[href] = r.header.Get("ETag")
	}
	for href, f := range objects {
		r := alice("GET", href, nil, "")
		if r.status != 200 || sum(r.body) != sum(fixture(t, f)) || r.header.Get("ETag") != etags[href] {
			t.Fatalf("GET %s: %d etag %s, bytes differ: %v", href, r.status, r.header.Get("ETag"), sum(r.body) != sum(fixture(t, f)))
		}
	}
	// Reports carry the bytes exactly too (CR survives as &#13;).
	for _, coll := range []string{cal, book} {
		kind, ns, data := "calendar-multiget", "urn:ietf:params:xml:ns:caldav", "calendar-data"
		if coll == book {
			kind, ns, data = "addressbook-multiget", "urn:ietf:params:xml:ns:carddav", "address-data"
		}
		var hrefs strings.Builder
		for href := range objects {
			if strings.HasPrefix(href, coll) {
				hrefs.WriteString("<d:href>" + href + "</d:href>")
			}
		}
		hrefs.WriteString("<d:href>" + coll + "missing.ics</d:href>")
		rep := alice("REPORT", coll, map[string]string{"Depth": "1"}, `<?xml version="1.0"?><x:`+kind+` xmlns:d="DAV:" xmlns:x="`+ns+`"><d:prop><d:getetag/><x:`+data+`/></d:prop>`+hrefs.String()+`</x:`+kind+`>`)
		got := reportData(t, rep)
		for href, f := range objects {
			if strings.HasPrefix(href, coll) && sum([]byte(got[href])) != sum(fixture(t, f)) {
				t.Fatalf("%s of %s differs:\n%q", data, href, got[href])
			}
		}
		if !strings.Contains(string(rep.body), "missing.ics</D:href><D:status>HTTP/1.1 404") {
			t.Fatalf("multiget of a missing object: %s", rep.body)
		}
	}

	weekly := cal + "weekly.ics"
	v1 := string(fixture(t, objects[weekly]))
	v2 := strings.Replace(v1, "SUMMARY:Équipe – Wochenbesprechung", "SUMMARY:Équipe – neu", 1)
	wantStatus(t, alice("PUT", weekly, map[string]string{"If-None-Match": "*"}, v2), http.StatusPreconditionFailed, "PreconditionFailed")
	wantStatus(t, alice("PUT", weekly, map[string]string{"If-Match": `"1-1"`}, v2), http.StatusPreconditionFailed, "PreconditionFailed")
	wantStatus(t, alice("DELETE", weekly, map[string]string{"If-Match": `"1-1"`}, ""), http.StatusPreconditionFailed, "PreconditionFailed")
	r := alice("PUT", weekly, map[string]string{"If-Match": etags[weekly]}, v2)
	wantStatus(t, r, http.StatusNoContent, "")
	if r.header.Get("ETag") == etags[weekly] {
		t.Fatal("ETag unchanged by an update")
	}
	if got := alice("GET", weekly, nil, ""); string(got.body) != v2 {
		t.Fatal("update not byte-exact")
	}

	// Bad input is refused with a code and leaves the collection alone.
	before := alice("PROPFIND", cal, map[string]string{"Depth": "1"}, propfindAll).body
	i := strings.LastIndex(v1, "UID:0400")
	mixed := v1[:i] + "UID:other-uid" + v1[strings.Index(v1[i:], "\r\n")+i:]
	for _, c := range []struct {
		path, body, code string
		status           int
		cond             string
	}{
		{cal + "junk.ics", "this is not iCalendar", "InvalidCalendarData", 403, "valid-calendar-data"},
		{cal + "mixed.ics", mixed, "InvalidCalendarObject", 403, "valid-calendar-object-resource"},
		{cal + "method.ics", strings.Replace(v1, "VERSION:2.0\r\n", "VERSION:2.0\r\nMETHOD:REQUEST\r\n", 1), "InvalidCalendarObject", 403, ""},
		{cal + "dup.ics", v1, "ObjectUIDConflict", 409, "no-uid-conflict"},
		{tasks + "event.ics", v1, "UnsupportedCalendarComponent", 403, "supported-calendar-component"},
		{cal + "nul.ics", strings.Replace(v1, "Agenda", "Agen\x00da", 1), "InvalidCalendarData", 403, ""},
		{cal + "latin1.ics", strings.Replace(v1, "café", "caf\xe9", 1), "InvalidCalendarData", 403, ""},
		{book + "two.vcf", string(fixture(t, "contacts/v3-no-uid.vcf")) + string(fixture(t, "contacts/v3-no-uid.vcf")), "InvalidContactData", 403, "valid-address-data"},
		{book + "v21.vcf", "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Old\r\nEND:VCARD\r\n", "InvalidContactData", 403, ""},
		{cal + url.PathEscape("a/b.ics"), v1, "InvalidPath", 400, ""},
	} {
		r := alice("PUT", c.path, nil, c.body)
		wantStatus(t, r, c.status, c.code)
		if c.cond != "" && !strings.Contains(string(r.body), c.cond) {
			t.Fatalf("%s: no %s element: %s", c.path, c.cond, r.body)
		}
		if c.code == "ObjectUIDConflict" && !strings.Contains(string(r.body), "<D:href>"+weekly+"</D:href>") {
			t.Fatalf("no-uid-conflict does not name %s: %s", weekly, r.body)
		}
	}
	g.srv.Groupware.MaxObjectSize = 4096
	wantStatus(t, alice("PUT", book+"big.vcf", nil, string(fixture(t, "contacts/v3-photo.vcf"))), http.StatusRequestEntityTooLarge, "ObjectTooLarge")
	g.srv.Groupware.MaxObjectSize = 0
	if after := alice("PROPFIND", cal, map[string]string{"Depth": "1"}, propfindAll).body; string(after) != string(before) {
		t.Fatalf("a refused PUT changed the calendar:\n%s\n%s", before, after)
	}
	wantStatus(t, alice("DELETE", weekly, map[string]string{"If-Match": r.header.Get("ETag")}, ""), http.StatusNoContent, "")
	wantStatus(t, alice("GET", weekly, nil, ""), http.StatusNotFound, "ObjectNotFound")
}

func TestTenantIsolation(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	bobCal := "/dav/calendars/" + g.bob + "/Calendar/"
	ev := string(fixture(t, "calendar/tentative.ics"))
	wantStatus(t, g.do(t, g.bob, g.bobPw, "PUT", bobCal+"secret.ics", nil, ev), http.StatusCreated, "")
	upper := strings.ToUpper(g.bob)
	for _, p := range []string{
		bobCal, bobCal + "secret.ics", "/dav/principals/" + g.bob + "/", "/dav/addressbooks/" + g.bob + "/",
		"/dav/calendars/" + upper + "/Calendar/secret.ics", "/dav/principals/" + upper + "/",
		"/dav/calendars/" + strings.Replace(g.bob, "@", "%40", 1) + "/Calendar/secret.ics",
	} {
		for _, m := range []string{"GET", "PROPFIND", "DELETE"} {
			r := alice(m, p, map[string]string{"Depth": "1"}, "")
			wantStatus(t, r, http.StatusNotFound, "PrincipalNotFound")
		}
	}
	wantStatus(t, alice("PUT", bobCal+"x.ics", nil, ev), http.StatusNotFound, "PrincipalNotFound")
	wantStatus(t, alice("MKCALENDAR", "/dav/calendars/"+g.bob+"/new/", nil, ""), http.StatusNotFound, "PrincipalNotFound")
	// Traversal and encoded slashes are refused, never resolved.
	own := "/dav/calendars/" + g.alice + "/Calendar/"
	for _, p := range []string{
		own + "../../" + g.bob + "/Calendar/secret.ics",
		own + "..%2F..%2F" + url.PathEscape(g.bob) + "%2FCalendar%2Fsecret.ics",
		"/dav/calendars/" + g.alice + "%2F..%2F" + g.bob + "/Calendar/secret.ics",
		own + "%2e%2e/%2e%2e/" + g.bob + "/Calendar/secret.ics",
		"/dav/calendars/" + g.alice + "//Calendar/",
	} {
		r := alice("GET", p, nil, "")
		if r.status != http.StatusBadRequest && r.status != http.StatusNotFound && r.status != http.StatusMovedPermanently {
			t.Fatalf("%s: %s", p, r)
		}
		if strings.Contains(string(r.body), "Vielleicht") {
			t.Fatalf("%s leaked bob's event", p)
		}
	}
	// Alice's own URL in any case works.
	wantStatus(t, alice("PROPFIND", "/dav/calendars/"+strings.ToUpper(g.alice)+"/Calendar/", map[string]string{"Depth": "0"}, ""), http.StatusMultiStatus, "")
	// A multiget in alice's calendar cannot name bob's objects.
	rep := alice("REPORT", own, nil, `<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><d:href>`+bobCal+`secret.ics</d:href></c:calendar-multiget>`)
	if rep.status != http.StatusMultiStatus || strings.Contains(string(rep.body), "Vielleicht") || !strings.Contains(string(rep.body), "404") {
		t.Fatalf("cross-tenant multiget: %s", rep)
	}
}

func TestCollectionsLifecycle(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	home := "/dav/calendars/" + g.alice + "/"
	mk := `<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:a="http://apple.com/ns/ical/"><d:set><d:prop>
<d:displayname>Projekt Ü – 日本</d:displayname><a:calendar-color>#FF8800FF</a:calendar-color><c:calendar-description>Beschreibung</c:calendar-description>
<c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`
	wantStatus(t, alice("MKCALENDAR", home+"projekt/", nil, mk), http.StatusCreated, "")
	wantStatus(t, alice("MKCALENDAR", home+"projekt/", nil, mk), http.StatusMethodNotAllowed, "CollectionExists")
	wantStatus(t, alice("MKCALENDAR", home+"Inbox/", nil, ""), http.StatusMethodNotAllowed, "CollectionExists")
	raw := string(alice("PROPFIND", home+"projekt/", map[string]string{"Depth": "0"}, "").body)
	for _, want := range []string{"Projekt Ü – 日本", "#FF8800FF", "Beschreibung", `name="VTODO"`} {
		if !strings.Contains(raw, want) {
			t.Fatalf("new calendar lacks %q: %s", want, raw)
		}
	}
	pp := `<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/" xmlns:x="urn:example:dead"><d:set><d:prop>
<d:displayname>Renamed</d:displayname><x:dead><x:inner attr="v">text</x:inner></x:dead></d:prop></d:set><d:remove><d:prop><a:calendar-color/></d:prop></d:remove></d:propertyupdate>`
	ms := parseMS(t, alice("PROPPATCH", home+"projekt/", nil, pp))
	if len(ms.Responses) != 1 || !strings.Contains(string(ms.Responses[0].Propstats[0].Status), "200") {
		t.Fatalf("proppatch: %+v", ms)
	}
	raw = string(alice("PROPFIND", home+"projekt/", map[string]string{"Depth": "0"}, "").body)
	if !strings.Contains(raw, "Renamed") || strings.Contains(raw, "#FF8800FF") || !strings.Contains(raw, `<inner xmlns="urn:example:dead" attr="v">text</inner>`) {
		t.Fatalf("after proppatch: %s", raw)
	}
	var ms2 multistatus
	if err := xml.Unmarshal([]byte(raw), &ms2); err != nil {
		t.Fatalf("PROPFIND answer with a dead property is not XML: %v", err)
	}
	// Protected properties are refused as a whole.
	bad := `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>X</d:displayname><d:getetag>"1"</d:getetag></d:prop></d:set></d:propertyupdate>`
	if body := string(alice("PROPPATCH", home+"projekt/", nil, bad).body); !strings.Contains(body, "403") || !strings.Contains(body, "424") {
		t.Fatalf("protected property: %s", body)
	}
	// A task list takes tasks only; the new one can be deleted, defaults not.
	wantStatus(t, alice("PUT", home+"projekt/t.ics", nil, string(fixture(t, "calendar/task.ics"))), http.StatusCreated, "")
	wantStatus(t, alice("PUT", home+"projekt/e.ics", nil, string(fixture(t, "calendar/tentative.ics"))), http.StatusForbidden, "UnsupportedCalendarComponent")
	wantStatus(t, alice("DELETE", home+"projekt/", nil, ""), http.StatusNoContent, "")
	wantStatus(t, alice("PROPFIND", home+"projekt/", nil, ""), http.StatusNotFound, "CollectionNotFound")
	wantStatus(t, alice("DELETE", home+"Calendar/", nil, ""), http.StatusForbidden, "DefaultCollection")
	// Extended MKCOL for an address book.
	mkcol := `<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype><d:displayname>Kunden</d:displayname></d:prop></d:set></d:mkcol>`
	ab := "/dav/addressbooks/" + g.alice + "/kunden/"
	wantStatus(t, alice("MKCOL", ab, nil, mkcol), http.StatusCreated, "")
	wantStatus(t, alice("PUT", ab+"a.vcf", nil, string(fixture(t, "contacts/v4-photo.vcf"))), http.StatusCreated, "")
	wantStatus(t, alice("MKCOL", "/dav/calendars/"+g.alice+"/wrong/", nil, mkcol), http.StatusForbidden, "CollectionLocation")
	wantStatus(t, alice("MKCALENDAR", "/dav/calendars/"+g.alice+"/.hidden/", nil, ""), http.StatusBadRequest, "InvalidCollection")
}

// TestLockedMailbox: while a move completes, reads work and writes answer
// 503 with Retry-After (the client retries after the cutover).
func TestLockedMailbox(t *testing.T) {
	g := newRig(t)
	alice := g.asAlice(t)
	cal := "/dav/calendars/" + g.alice + "/Calendar/"
	wantStatus(t, alice("PUT", cal+"a.ics", nil, string(fixture(t, "calendar/tentative.ics"))), http.StatusCreated, "")
	mb := g.srv.Content("contoso", mustGUID(t, g))
	if err := g.srv.Store.SetMailboxState(t.Context(), mb.ID, "locked"); err != nil {
		t.Fatal(err)
	}
	if r := alice("GET", cal+"a.ics", nil, ""); r.status != http.StatusOK {
		t.Fatalf("read of a locked mailbox: %s", r)
	}
	r := alice("PUT", cal+"b.ics", nil, string(fixture(t, "calendar/task.ics")))
	wantStatus(t, r, http.StatusServiceUnavailable, "MailboxLocked")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	wantStatus(t, alice("DELETE", cal+"a.ics", nil, ""), http.StatusServiceUnavailable, "MailboxLocked")
}
