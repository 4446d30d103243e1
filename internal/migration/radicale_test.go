package migration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	gw "github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// radicale is a Radicale CalDAV/CardDAV server (Debian package radicale)
// on 127.0.0.1 with plain-text htpasswd users: the groupware source of an
// IMAP onboarding.
type radicale struct {
	base string // http://127.0.0.1:port
}

// startRadicale starts Radicale for users (name → password) and stops it
// when the test ends.
func startRadicale(t *testing.T, users map[string]string) *radicale {
	t.Helper()
	bin, err := exec.LookPath("radicale")
	if err != nil {
		t.Skip("radicale is not installed (Debian package radicale; .ci/run installs it)")
	}
	dir := t.TempDir()
	var htp strings.Builder
	for u, p := range users {
		fmt.Fprintf(&htp, "%s:%s\n", u, p)
	}
	addr := scenario.FreeAddr(t)
	conf := fmt.Sprintf(`[server]
hosts = %s
[auth]
type = htpasswd
htpasswd_filename = %s/users
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = %s/collections
[logging]
level = warning
`, addr, dir, dir)
	for name, body := range map[string]string{"users": htp.String(), "config": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config", filepath.Join(dir, "config"))
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
		if t.Failed() {
			t.Logf("radicale log:\n%s", log.String())
		}
	})
	scenario.Eventually(t, 30*time.Second, "radicale listening on "+addr, func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	})
	return &radicale{base: "http://" + addr}
}

// do sends one request to Radicale as user and returns status and body.
func (r *radicale) do(t *testing.T, user, pw, method, path, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, pw)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// must is do that fails the test unless the status is one of want.
func (r *radicale) must(t *testing.T, user, pw, method, path, body string, want ...int) []byte {
	t.Helper()
	st, b := r.do(t, user, pw, method, path, body, "Content-Type", "text/calendar; charset=utf-8", "Depth", "1")
	for _, w := range want {
		if st == w {
			return b
		}
	}
	t.Fatalf("radicale %s %s: %d %s", method, path, st, b)
	return nil
}

const (
	mkcalendar = `<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>` +
		`<d:displayname>%s</d:displayname><c:supported-calendar-component-set>%s</c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>`
	mkaddressbook = `<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:cr="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>` +
		`<d:resourcetype><d:collection/><cr:addressbook/></d:resourcetype><d:displayname>%s</d:displayname></d:prop></d:set></d:mkcol>`
)

// davFixtureFile reads a fixture of internal/dav/testdata.
func davFixtureFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "dav", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sourceObjects reads the named objects from Radicale and returns
// "collection/name" → SHA-256 of the bytes it serves.
func (r *radicale) sourceObjects(t *testing.T, user, pw string, paths []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		b := r.must(t, user, pw, "GET", "/"+user+"/"+p, "", http.StatusOK)
		s := sha256.Sum256(b)
		out[p] = hex.EncodeToString(s[:])
	}
	return out
}

// targetObjects returns every groupware object of a target mailbox that is
// not in a default collection left empty: "collection/name" → SHA-256.
func targetObjects(t *testing.T, s *scenario.Server, rec *directory.Recipient) map[string]string {
	t.Helper()
	ctx := context.Background()
	acc, err := s.Groupware.OwnerAccount(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kind := range []gw.Kind{gw.KindCalendar, gw.KindAddressBook} {
		cols, err := s.Groupware.Collections(ctx, acc, kind)
		if err != nil {
			t.Fatal(err)
		}
		for i := range cols {
			objs, err := s.Groupware.ListObjects(ctx, acc, &cols[i])
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				b, err := s.Groupware.ReadObject(ctx, acc, &o)
				if errors.Is(err, mailstore.ErrItemNotFound) {
					continue // replaced by a sync running meanwhile: the caller's next look sees the new version
				}
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(b)
				out[cols[i].Name+"/"+o.Name] = hex.EncodeToString(sum[:])
			}
		}
	}
	return out
}

func sameObjects(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	keys := func(m map[string]string) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return strings.Join(ks, " ")
	}
	if keys(want) != keys(got) {
		t.Fatalf("%s: target holds\n %s\nsource holds\n %s", what, keys(got), keys(want))
	}
	for k, h := range want {
		if got[k] != h {
			t.Errorf("%s: %s differs from the source (target %s, source %s)", what, k, got[k], h)
		}
	}
}

// TestIMAPBatchOnboardsRadicale is issue 9 item 5's acceptance criterion:
// an IMAP endpoint with CalDAV and CardDAV URLs pointing at Radicale; the
// batch imports the user's mail from Dovecot and calendars, task lists and
// address books from Radicale, byte-exact (every object as Radicale serves
// it, by SHA-256); a change, a new object and a deletion on the source are
// carried by `batch sync-now`; completion reaches Completed with Perfect,
// with per-class counts. SQLite and PostgreSQL.
func TestIMAPBatchOnboardsRadicale(t *testing.T) {
	skipWithoutDovecot(t)
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { onboardRadicale(t, dialect) })
}

func onboardRadicale(t *testing.T, dialect db.Dialect) {
	ctx := context.Background()
	const user, pw = "carol", "carol-dav-secret"
	rad := startRadicale(t, map[string]string{user: pw})
	s := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, dialect), SMTP: "off"})
	s.Tenant("fabrikam")
	carol := s.Mailbox("fabrikam", "carol", "pw-carol-target", false)
	mail := scenario.Generated(mailgen.Options{Seed: 11, Count: 20, Owner: "carol@legacy.example", Median: 2048})
	for i := range mail {
		mail[i].Folder = []string{"INBOX", "Notes"}[i%2]
	}
	src := startDovecot(t, map[string]string{user: pw}, map[string][]scenario.Item{user: mail})

	rad.must(t, user, pw, "PROPFIND", "/"+user+"/", "", http.StatusMultiStatus) // Radicale creates the principal
	rad.must(t, user, pw, "MKCALENDAR", "/"+user+"/work/", fmt.Sprintf(mkcalendar, "Arbeit – 仕事", `<c:comp name="VEVENT"/>`), http.StatusCreated)
	rad.must(t, user, pw, "MKCALENDAR", "/"+user+"/todo/", fmt.Sprintf(mkcalendar, "Aufgaben", `<c:comp name="VTODO"/>`), http.StatusCreated)
	rad.must(t, user, pw, "MKCOL", "/"+user+"/friends/", fmt.Sprintf(mkaddressbook, "Freunde"), http.StatusCreated)
	put := func(p, fixture string) {
		rad.must(t, user, pw, "PUT", "/"+user+"/"+p, davFixtureFile(t, fixture), http.StatusCreated, http.StatusNoContent)
	}
	put("work/weekly.ics", "calendar/weekly-meeting.ics")
	put("work/tentative.ics", "calendar/tentative.ics")
	put("todo/task.ics", "calendar/task.ics")
	put("friends/v3.vcf", "contacts/v3-photo.vcf")
	put("friends/v4.vcf", "contacts/v4-photo.vcf")
	paths := []string{"work/weekly.ics", "work/tentative.ics", "todo/task.ics", "friends/v3.vcf", "friends/v4.vcf"}

	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "legacy", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, CalDAVURL: rad.base + "/", CardDAVURL: rad.base + "/"}); err != nil {
		t.Fatal(err)
	}
	// `endpoint test` checks that both DAV URLs answer as DAV servers; a
	// URL where nothing listens fails the test with the check named.
	res, err := s.Admin.TestEndpoint(ctx, s.Op, "fabrikam", "legacy", carol.PrimarySmtpAddress, "")
	if err != nil || res.Result != "Success" {
		t.Fatalf("endpoint test: %v %+v", err, res)
	}
	found := 0
	for _, c := range res.Checks {
		if (c.Name == "CalDAVConnectivity" || c.Name == "CardDAVConnectivity") && c.Result == migration.CheckPassed {
			found++
		}
	}
	if found != 2 {
		t.Fatalf("endpoint test lacks the DAV checks: %+v", res.Checks)
	}
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "nodav", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, CalDAVURL: "http://" + scenario.FreeAddr(t) + "/"}); err != nil {
		t.Fatal(err)
	}
	res, err = s.Admin.TestEndpoint(ctx, s.Op, "fabrikam", "nodav", "", "")
	if err != nil || res.Result != "Failed" || res.Checks[len(res.Checks)-1].Code != "DAVSourceError" {
		t.Fatalf("endpoint test with a dead CalDAV URL: %v %+v", err, res)
	}
	csv := imapCSV([3]string{carol.PrimarySmtpAddress, user, pw})
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "dav1", Endpoint: "legacy", CSV: csv, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	us := waitIMAPUsers(t, s, "dav1", migration.StateSynced)
	sameObjects(t, "initial sync", rad.sourceObjects(t, user, pw, paths), targetObjects(t, s, carol))
	if u := us[0]; u.MailItems != 20 || u.CalendarItems != 2 || u.TaskItems != 1 || u.ContactItems != 2 {
		t.Fatalf("per-class counts after the initial sync: mail %d calendar %d tasks %d contacts %d", u.MailItems, u.CalendarItems, u.TaskItems, u.ContactItems)
	}

	// Changes on the source: an event changed, one added, a contact deleted.
	changed := strings.Replace(davFixtureFile(t, "calendar/weekly-meeting.ics"), "SUMMARY:", "SUMMARY:(moved) ", 1)
	rad.must(t, user, pw, "PUT", "/"+user+"/work/weekly.ics", changed, http.StatusNoContent, http.StatusCreated)
	put("work/allday.ics", "calendar/allday-rdate-cancelled.ics")
	rad.must(t, user, pw, "DELETE", "/"+user+"/friends/v3.vcf", "", http.StatusOK, http.StatusNoContent)
	paths = []string{"work/weekly.ics", "work/tentative.ics", "work/allday.ics", "todo/task.ics", "friends/v4.vcf"}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "dav1", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	want := rad.sourceObjects(t, user, pw, paths)
	scenario.Eventually(t, 2*time.Minute, "incremental sync carries the groupware changes", func() error {
		got := targetObjects(t, s, carol)
		for k, h := range want {
			if got[k] != h {
				return fmt.Errorf("%s not yet as on the source", k)
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("target holds %d objects, source %d", len(got), len(want))
		}
		return nil
	})
	waitIMAPUsers(t, s, "dav1", migration.StateSynced)

	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "dav1", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	us = waitIMAPUsers(t, s, "dav1", migration.StateCompleted)
	if u := us[0]; u.DataConsistencyScore != migration.ScorePerfect || u.CalendarItems != 3 || u.ContactItems != 1 || u.TaskItems != 1 {
		t.Fatalf("completed: score %s, calendar %d contacts %d tasks %d", u.DataConsistencyScore, u.CalendarItems, u.ContactItems, u.TaskItems)
	}
	sameObjects(t, "after completion", want, targetObjects(t, s, carol))
}
