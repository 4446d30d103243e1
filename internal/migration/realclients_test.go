package migration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// vdir is a vdirsyncer setup syncing one account's calendars and address
// books ("from b": every collection the server lists) with local
// directories.
type vdir struct {
	t    *testing.T
	dir  string
	conf string
}

func newVdir(t *testing.T, base, user, pw string) *vdir {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[general]\nstatus_path = \"" + dir + "/status/\"\n")
	for _, p := range []struct{ name, typ, ext string }{{"cal", "caldav", ".ics"}, {"card", "carddav", ".vcf"}} {
		b.WriteString("[pair " + p.name + "]\na = \"" + p.name + "_local\"\nb = \"" + p.name + "_remote\"\ncollections = [\"from b\"]\nconflict_resolution = \"b wins\"\n")
		b.WriteString("[storage " + p.name + "_local]\ntype = \"filesystem\"\npath = \"" + dir + "/" + p.name + "/\"\nfileext = \"" + p.ext + "\"\n")
		b.WriteString("[storage " + p.name + "_remote]\ntype = \"" + p.typ + "\"\nurl = \"" + base + "/dav/\"\nusername = \"" + user + "\"\npassword = \"" + pw + "\"\n")
	}
	conf := filepath.Join(dir, "config")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	v := &vdir{t: t, dir: dir, conf: conf}
	v.run("discover")
	return v
}

// run runs a vdirsyncer command, answering yes to its questions.
func (v *vdir) run(args ...string) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "vdirsyncer", append([]string{"-c", v.conf}, args...)...)
	cmd.Stdin = strings.NewReader(strings.Repeat("y\n", 20))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "error:") {
		v.t.Fatalf("vdirsyncer %v: %v\n%s", args, err, out)
	}
}

// write puts a file into a local collection (e.g. "cal/Calendar/x.ics").
func (v *vdir) write(rel string, data string) {
	v.t.Helper()
	if err := os.WriteFile(filepath.Join(v.dir, rel), []byte(data), 0o600); err != nil {
		v.t.Fatal(err)
	}
}

// hashes returns the sorted SHA-256 of every local file of a collection.
func (v *vdir) hashes(coll string) []string {
	v.t.Helper()
	ents, err := os.ReadDir(filepath.Join(v.dir, coll))
	if err != nil {
		v.t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(v.dir, coll, e.Name()))
		if err != nil {
			v.t.Fatal(err)
		}
		out = append(out, sha(b))
	}
	slices.Sort(out)
	return out
}

// TestRealClientsAcrossMove is issue 9's client acceptance criterion, on
// two servers and both dialects: vdirsyncer creates, updates and deletes
// events, tasks and contacts on the source (before and after the initial
// sync); the move's incremental pass
// (`batch sync-now`) carries later changes; after `batch complete`
// vdirsyncer, pointed at the target with the target credentials, gets every
// object byte-exact (hence the same UIDs), and python3-caldav's
// sync-collection runs incrementally from there.
func TestRealClientsAcrossMove(t *testing.T) {
	if _, err := exec.LookPath("vdirsyncer"); err != nil {
		t.Skip("vdirsyncer is not installed (Debian package vdirsyncer; .ci/run installs it)")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import caldav").Run(); err != nil {
		t.Skip("python3-caldav is not installed (Debian package python3-caldav; .ci/run installs it)")
	}
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { realClientsAcrossMove(t, dialect) })
}

func realClientsAcrossMove(t *testing.T, dialect db.Dialect) {
	ctx := context.Background()
	a := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), SMTP: "off"})
	b := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), SMTP: "off"})
	a.Tenant(srcName)
	b.Tenant(tgtName)
	r := &rig{t: t, ctx: ctx, s: a, tgt: b, tr: scenario.SetupTrust(t, a, srcName, b, tgtName)}
	src := r.source("vd", 0, false, true)
	v := newVdir(t, "http://"+a.HTTPAddr(), src.PrimarySmtpAddress, "pw-vd")

	// Create, then update and delete, over CalDAV/CardDAV with vdirsyncer.
	v.write("cal/Calendar/weekly.ics", davFixture(t, "calendar/weekly-meeting.ics"))
	v.write("cal/Calendar/allday.ics", davFixture(t, "calendar/allday-rdate-cancelled.ics"))
	v.write("cal/Tasks/task.ics", davFixture(t, "calendar/task.ics"))
	v.write("cal/Tasks/task2.ics", strings.ReplaceAll(davFixture(t, "calendar/task.ics"), "UID:", "UID:second-"))
	v.write("card/Contacts/asa.vcf", davFixture(t, "contacts/v3-photo.vcf"))
	v.write("card/Contacts/juergen.vcf", davFixture(t, "contacts/v4-photo.vcf"))
	v.run("sync")
	v.write("cal/Calendar/weekly.ics", strings.Replace(davFixture(t, "calendar/weekly-meeting.ics"), "Salle Réunion 3", "Salle Réunion 4 – ñ", 1))
	if err := os.Remove(filepath.Join(v.dir, "card/Contacts/juergen.vcf")); err != nil {
		t.Fatal(err)
	}
	v.run("sync")
	v.write("cal/Tasks/task.ics", strings.Replace(davFixture(t, "calendar/task.ics"), "PRIORITY:1", "PRIORITY:2", 1))
	v.run("sync")

	r.stamp(src, nil)
	addr := r.addr("vd")
	r.batch("vd", r.tr.Endpoint, addr)
	r.waitUser("vd", addr, migration.StateSynced)
	// Changes after the initial sync: a new event, a changed contact, a
	// deleted event; `batch sync-now` carries them.
	v.write("cal/Calendar/tentative.ics", davFixture(t, "calendar/tentative.ics"))
	v.write("card/Contacts/asa.vcf", strings.Replace(davFixture(t, "contacts/v3-photo.vcf"), "TITLE:Leiterin", "TITLE:Präsidentin", 1))
	if err := os.Remove(filepath.Join(v.dir, "cal/Calendar/allday.ics")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(v.dir, "cal/Tasks/task2.ics")); err != nil {
		t.Fatal(err)
	}
	v.run("sync")
	v.run("sync") // fetch the server's view of what was uploaded
	r.cmd("vd", admin.BatchSyncNow, false)
	scenario.Eventually(t, time.Minute, "sync-now carries the client's changes", func() error {
		u := r.user("vd", addr)
		if u.Status != migration.StateSynced || u.StatusDetail != "" || u.CalendarItems != 2 || u.ContactItems != 1 || u.TaskItems != 1 {
			return fmt.Errorf("%s %s: calendar %d contacts %d tasks %d", u.Status, u.StatusDetail, u.CalendarItems, u.ContactItems, u.TaskItems)
		}
		return nil
	})
	r.cmd("vd", admin.BatchComplete, false)
	if u := r.waitUser("vd", addr, migration.StateCompleted); u.DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("completed with %s", u.DataConsistencyScore)
	}

	// The same client, pointed at the target with the target credentials.
	pw := "pw-vd-target"
	if _, err := b.Admin.UpdateRecipient(ctx, b.Op, tgtName, "vd", directory.RecipientUpdate{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	w := newVdir(t, "http://"+b.HTTPAddr(), addr, pw)
	w.run("sync")
	for _, coll := range []string{"cal/Calendar", "cal/Tasks", "card/Contacts"} {
		if got, want := w.hashes(coll), v.hashes(coll); !slices.Equal(got, want) || len(want) == 0 {
			t.Fatalf("%s on the target differs from the source:\n got %v\nwant %v", coll, got, want)
		}
	}

	// sync-collection from there, incrementally, with python3-caldav.
	calURL := "http://" + b.HTTPAddr() + "/dav/calendars/" + addr + "/Calendar/"
	syncOnce := func(token string) (string, []string) {
		t.Helper()
		args := []string{filepath.Join("testdata", "caldav_sync.py"), calURL, addr, pw}
		if token != "" {
			args = append(args, token)
		}
		out, err := exec.Command("/usr/bin/python3", args...).Output()
		if err != nil {
			t.Fatalf("caldav_sync.py: %v %s", err, out)
		}
		var res struct {
			Token string
			Names []string
		}
		if err := json.Unmarshal(out, &res); err != nil {
			t.Fatalf("caldav_sync.py: %v %s", err, out)
		}
		return res.Token, res.Names
	}
	token, names := syncOnce("")
	if len(names) != 2 {
		t.Fatalf("initial sync-collection on the target: %v", names)
	}
	w.write("cal/Calendar/new-on-target.ics", strings.ReplaceAll(davFixture(t, "calendar/allday-rdate-cancelled.ics"), "UID:", "UID:target-"))
	w.run("sync")
	if _, changed := syncOnce(token); len(changed) != 1 {
		t.Fatalf("incremental sync-collection on the target returned %v, want the one new event", changed)
	}
}
