package dav_test

import (
	"context"
	"encoding/json"
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
	_ = os.Getenv
}
