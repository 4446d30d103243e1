package dav_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// debianPython is the interpreter with the Debian client modules
// (python3-caldav); the python3 on PATH may be another one.
const debianPython = "/usr/bin/python3"

// needPython skips the test unless /usr/bin/python3 imports module.
func needPython(t *testing.T, module, pkg string) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import "+module).Run(); err != nil {
		t.Skipf("%s with %s is not installed (Debian package %s): %v", debianPython, module, pkg, err)
	}
}

// runClient runs a client script and returns its stdout.
func runClient(t *testing.T, timeout time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, out, stderr.String())
	}
	return out
}

func TestPythonCalDAVClient(t *testing.T) {
	needPython(t, "caldav", "python3-caldav")
	g := newRig(t)
	fixtures, _ := filepath.Abs("testdata")
	out := runClient(t, 2*time.Minute, debianPython, filepath.Join("testdata", "clients", "caldav_client.py"), g.base, g.alice, g.alicePw, fixtures)
	var res struct {
		Principal        string
		Calendars        []string
		NewCalendar      string `json:"new_calendar"`
		Sent, Got, Names map[string]string
		Multiget         []string
		MultigetSent     []string `json:"multiget_sent"`
		SearchDST        []string `json:"search_dst"`
		SearchExdate     []string `json:"search_exdate"`
		Todos            []string
		FreebusyRaw      string `json:"freebusy_raw"`
		ChangedSent      string `json:"changed_sent"`
		ChangedGot       string `json:"changed_got"`
		Sync             struct {
			First        []string
			TokenChanged bool `json:"token_changed"`
			Updated      []string
			Deleted      []string
		}
		AfterDelete []string `json:"after_delete"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client output: %v\n%s", err, out)
	}
	if !strings.HasSuffix(res.Principal, "/dav/principals/"+g.alice+"/") {
		t.Errorf("principal %s", res.Principal)
	}
	if !slices.Contains(res.Calendars, "Calendar") || !slices.Contains(res.Calendars, "Tasks") {
		t.Errorf("calendars %v", res.Calendars)
	}
	if res.NewCalendar != "Python Ü – 日本" {
		t.Errorf("new calendar %q", res.NewCalendar)
	}
	if len(res.Sent) != 4 {
		t.Fatalf("sent %v", res.Sent)
	}
	for f, s := range res.Sent {
		if res.Got[f] != s {
			t.Errorf("%s: server returned other bytes than the client sent", f)
		}
	}
	// The library normalises what it parses from a report the same way
	// as what it sent: equal when the report carried the stored bytes.
	if len(res.Multiget) != 2 || !slices.Equal(res.Multiget, res.MultigetSent) {
		t.Errorf("multiget %v, want %v", res.Multiget, res.MultigetSent)
	}
	if !slices.Equal(res.SearchDST, []string{res.Names["weekly-meeting.ics"]}) || len(res.SearchExdate) != 0 {
		t.Errorf("search: DST %v, EXDATE %v", res.SearchDST, res.SearchExdate)
	}
	if len(res.Todos) != 1 || !strings.Contains(res.Todos[0], "Steuererklärung") {
		t.Errorf("todos %v", res.Todos)
	}
	if !strings.Contains(res.FreebusyRaw, "20260316T090000Z/20260316T100000Z") {
		t.Errorf("free-busy: %s", res.FreebusyRaw)
	}
	if res.ChangedGot != res.ChangedSent {
		t.Error("changed event not byte-exact")
	}
	s := res.Sync
	if len(s.First) != 2 || !s.TokenChanged || !slices.Equal(s.Updated, []string{res.Names["weekly-meeting.ics"]}) ||
		!slices.Equal(s.Deleted, []string{res.Names["allday-rdate-cancelled.ics"]}) {
		t.Errorf("sync %+v", s)
	}
	if slices.Contains(res.AfterDelete, "Python Ü – 日本") {
		t.Errorf("calendar not deleted: %v", res.AfterDelete)
	}
}

// vdirsyncerConfig writes a vdirsyncer configuration syncing alice's
// calendars and address books (every collection the server lists) with
// local directories, and returns its path.
func vdirsyncerConfig(t *testing.T, g *rig, dir string) string {
	t.Helper()
	conf := `[general]
status_path = "` + dir + `/status/"

[pair cal]
a = "cal_local"
b = "cal_remote"
collections = ["from b"]
conflict_resolution = "b wins"

[storage cal_local]
type = "filesystem"
path = "` + dir + `/cal/"
fileext = ".ics"

[storage cal_remote]
type = "caldav"
url = "` + g.base + `/dav/"
username = "` + g.alice + `"
password = "` + g.alicePw + `"

[pair card]
a = "card_local"
b = "card_remote"
collections = ["from b"]
conflict_resolution = "b wins"

[storage card_local]
type = "filesystem"
path = "` + dir + `/card/"
fileext = ".vcf"

[storage card_remote]
type = "carddav"
url = "` + g.base + `/dav/"
username = "` + g.alice + `"
password = "` + g.alicePw + `"
`
	p := filepath.Join(dir, "config")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// vdirsyncer runs a vdirsyncer command (answering yes to its questions).
func vdirsyncer(t *testing.T, conf string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "vdirsyncer", append([]string{"-c", conf}, args...)...)
	cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 20))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") {
		t.Fatalf("vdirsyncer %v: %v\n%s", args, err, out)
	}
}

// localHashes returns the SHA-256 of every file in a directory, by name.
func localHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sum(b)
	}
	return out
}

// serverHashes returns the SHA-256 of every object of a collection, by
// object name, read with GET.
func serverHashes(t *testing.T, g *rig, coll string) map[string]string {
	t.Helper()
	ms := parseMS(t, g.do(t, g.alice, g.alicePw, "PROPFIND", coll, map[string]string{"Depth": "1"}, ""))
	out := map[string]string{}
	for _, h := range ms.hrefs() {
		if strings.HasSuffix(h, "/") {
			continue
		}
		r := g.do(t, g.alice, g.alicePw, "GET", h, nil, "")
		name, _ := url.PathUnescape(h[strings.LastIndex(h, "/")+1:])
		out[name] = sum(r.body)
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func TestVdirsyncerBothWays(t *testing.T) {
	if _, err := exec.LookPath("vdirsyncer"); err != nil {
		t.Skip("vdirsyncer is not installed (Debian package vdirsyncer)")
	}
	g := newRig(t)
	alice := g.asAlice(t)
	cal := "/dav/calendars/" + g.alice + "/Calendar/"
	tasks := "/dav/calendars/" + g.alice + "/Tasks/"
	book := "/dav/addressbooks/" + g.alice + "/Contacts/"
	// Server → local: objects created over CalDAV/CardDAV.
	for href, f := range map[string]string{cal + "weekly.ics": "calendar/weekly-meeting.ics", cal + "allday.ics": "calendar/allday-rdate-cancelled.ics",
		book + "asa.vcf": "contacts/v3-photo.vcf", book + "no-uid.vcf": "contacts/v3-no-uid.vcf"} {
		wantStatus(t, alice("PUT", href, nil, string(fixture(t, f))), http.StatusCreated, "")
	}
	dir := t.TempDir()
	conf := vdirsyncerConfig(t, g, dir)
	vdirsyncer(t, conf, "discover")
	vdirsyncer(t, conf, "sync")
	check := func(local, coll string) {
		t.Helper()
		l, s := localHashes(t, filepath.Join(dir, local)), serverHashes(t, g, coll)
		if !slices.Equal(values(l), values(s)) {
			t.Fatalf("%s and %s differ:\nlocal  %v\nserver %v", local, coll, l, s)
		}
	}
	check("cal/Calendar", cal)
	check("card/Contacts", book)
	for _, f := range []string{"calendar/weekly-meeting.ics", "calendar/allday-rdate-cancelled.ics"} {
		if !slices.Contains(values(localHashes(t, filepath.Join(dir, "cal/Calendar"))), sum(fixture(t, f))) {
			t.Fatalf("%s did not arrive byte-exact", f)
		}
	}

	// Local → server: new files, a change and a deletion.
	write := func(p string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, p), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cal/Tasks/task.ics", fixture(t, "calendar/task.ics"))
	write("cal/Calendar/tentative.ics", fixture(t, "calendar/tentative.ics"))
	write("card/Contacts/juergen.vcf", fixture(t, "contacts/v4-photo.vcf"))
	var weeklyFile, noUIDFile string
	for n, h := range localHashes(t, filepath.Join(dir, "cal/Calendar")) {
		if h == sum(fixture(t, "calendar/weekly-meeting.ics")) {
			weeklyFile = n
		}
	}
	for n, h := range localHashes(t, filepath.Join(dir, "card/Contacts")) {
		if h == sum(fixture(t, "contacts/v3-no-uid.vcf")) {
			noUIDFile = n
		}
	}
	changed := strings.Replace(string(fixture(t, "calendar/weekly-meeting.ics")), "Salle Réunion 3", "Salle Réunion 4 – ñ", 1)
	write("cal/Calendar/"+weeklyFile, []byte(changed))
	if err := os.Remove(filepath.Join(dir, "card/Contacts", noUIDFile)); err != nil {
		t.Fatal(err)
	}
	vdirsyncer(t, conf, "sync")
	check("cal/Calendar", cal)
	check("cal/Tasks", tasks)
	check("card/Contacts", book)
	s := serverHashes(t, g, cal)
	for _, want := range []string{sum([]byte(changed)), sum(fixture(t, "calendar/tentative.ics"))} {
		if !slices.Contains(values(s), want) {
			t.Fatalf("calendar on the server lacks an uploaded object: %v", s)
		}
	}
	if sb := serverHashes(t, g, book); len(sb) != 2 || !slices.Contains(values(sb), sum(fixture(t, "contacts/v4-photo.vcf"))) {
		t.Fatalf("address book on the server: %v", sb)
	}

	// Server → local again, incrementally: a deletion and an update.
	wantStatus(t, alice("DELETE", cal+"allday.ics", nil, ""), http.StatusNoContent, "")
	v3 := strings.Replace(string(fixture(t, "contacts/v3-photo.vcf")), "TITLE:Leiterin", "TITLE:Präsidentin", 1)
	wantStatus(t, alice("PUT", book+"asa.vcf", nil, v3), http.StatusNoContent, "")
	vdirsyncer(t, conf, "sync")
	check("cal/Calendar", cal)
	check("card/Contacts", book)
	if !slices.Contains(values(localHashes(t, filepath.Join(dir, "card/Contacts"))), sum([]byte(v3))) {
		t.Fatal("server-side contact change did not arrive")
	}
}
