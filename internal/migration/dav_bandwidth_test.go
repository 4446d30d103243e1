package migration_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// bigEvent is a valid iCalendar event of about size bytes: its
// DESCRIPTION folded at 75 octets (RFC 5545 section 3.1).
func bigEvent(i, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tenantferry//bandwidth test//EN\r\nBEGIN:VEVENT\r\n"+
		"UID:bandwidth-%d@tenantferry.test\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"+
		"SUMMARY:Planning %d\r\nDESCRIPTION:", i, i)
	line := len("DESCRIPTION:")
	for n := 0; n < size; n++ {
		if line == 75 {
			b.WriteString("\r\n ")
			line = 1
		}
		b.WriteByte("abcdefghij"[n%10])
		line++
	}
	b.WriteString("\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// TestDAVBandwidth: an IMAP endpoint's MaxBytesPerSecond bounds its
// groupware (CalDAV) import too, and the copied objects count in the
// user's BytesTransferred: ~180 KB of events under a 32 KiB/s cap take at
// least (bytes − one burst) / cap (a one-sided bound, as in
// TestEndpointBandwidth: a slow machine only makes the pass slower).
func TestDAVBandwidth(t *testing.T) {
	ctx := context.Background()
	const user, pw = "dora", "dora-dav-secret"
	const capBPS = 32 << 10
	rad := startRadicale(t, map[string]string{user: pw})
	s := scenario.Start(t, scenario.Options{DB: dbtest.DSN(t, db.SQLite), SMTP: "off"})
	s.Tenant("fabrikam")
	dora := s.Mailbox("fabrikam", "dora", "pw-dora-target", false)
	mail := scenario.Generated(mailgen.Options{Seed: 12, Count: 1, Owner: "dora@legacy.example", Median: 1024})
	src := startDovecot(t, map[string]string{user: pw}, map[string][]scenario.Item{user: mail})

	rad.must(t, user, pw, "PROPFIND", "/"+user+"/", "", http.StatusMultiStatus)
	rad.must(t, user, pw, "MKCALENDAR", "/"+user+"/plans/", fmt.Sprintf(mkcalendar, "Plans", `<c:comp name="VEVENT"/>`), http.StatusCreated)
	davBytes := 0
	for i := range 6 {
		p := fmt.Sprintf("/%s/plans/big%d.ics", user, i)
		rad.must(t, user, pw, "PUT", p, bigEvent(i, 30<<10), http.StatusCreated)
		davBytes += len(rad.must(t, user, pw, "GET", p, "", http.StatusOK)) // as Radicale serves it
	}
	bps := int64(capBPS)
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "legacy", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, CalDAVURL: rad.base + "/", MaxBytesPerSecond: bps}); err != nil {
		t.Fatal(err)
	}
	csv := imapCSV([3]string{dora.PrimarySmtpAddress, user, pw})
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "bw", Endpoint: "legacy", CSV: csv, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	u := waitIMAPUsers(t, s, "bw", migration.StateSynced)[0]
	if u.MailItems != 1 || u.CalendarItems != 6 {
		t.Fatalf("synced mail %d, calendar %d; want 1 and 6", u.MailItems, u.CalendarItems)
	}
	if u.BytesTransferred < int64(davBytes) {
		t.Fatalf("BytesTransferred %d, below the %d bytes of the calendar objects alone", u.BytesTransferred, davBytes)
	}
	took, err := time.ParseDuration(u.InitialSyncDuration)
	if err != nil {
		t.Fatal(err)
	}
	minimum := time.Duration(float64(davBytes-replication.ThrottleBurst) / capBPS * float64(time.Second))
	if took < minimum {
		t.Fatalf("%d bytes of events in %s: faster than the %d B/s cap allows (at least %s)", davBytes, took, capBPS, minimum)
	}
	t.Logf("%d bytes of events (%d in all) in %s under a cap of %d B/s", davBytes, u.BytesTransferred, took, capBPS)
}
