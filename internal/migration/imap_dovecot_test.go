package migration_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

const (
	alicePassword = `alice "secret", with spaces`
	bobPassword   = "bob-Pa55"
)

// aliceItems is the shared corpus spread over INBOX, folders named like
// special-use folders (known by name: Sent, Drafts, Trash, Junk, Archive),
// a nested folder and one folder per corpus source, with a rotation of
// system flags and keywords.
func aliceItems(t *testing.T) []scenario.Item {
	items := scenario.CorpusItems(t)
	if testing.Short() {
		items = items[:300]
	}
	folders := []string{"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Projects/Alpha"}
	extra := [][]string{nil, {`\Seen`}, {`\Seen`, `\Answered`}, {`\Flagged`}, {`\Draft`}, {`$Forwarded`, `\Seen`}, {`$Label1`, `NonJunk`}}
	for i := range items {
		if k := i % 10; k < len(folders) {
			items[i].Folder = folders[k]
		}
		items[i].Flags = mailstore.CleanFlags(append(append([]string{}, items[i].Flags...), extra[i%len(extra)]...))
	}
	return items
}

// bobItems are generated business mail in folders with SPECIAL-USE
// attributes (Sent Messages, Spam) and well-known names (Deleted
// Messages).
func bobItems() []scenario.Item {
	items := scenario.Generated(mailgen.Options{Seed: 7, Count: 150, Owner: "bob@legacy.example", Median: 4096, AttachKB: 40})
	folders := []string{"INBOX", "Sent Messages", "Spam", "Deleted Messages", "Notes"}
	for i := range items {
		items[i].Folder = folders[i%len(folders)]
	}
	return items
}

// countSubject counts the messages with a subject in a target folder.
func countSubject(t *testing.T, s *scenario.Server, rec *directory.Recipient, folder, subject string) int {
	t.Helper()
	ctx := context.Background()
	mb := s.Content("fabrikam", rec.ExchangeGuid).ID
	f, err := s.Store.FolderByPath(ctx, mb, folder)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.Store.Fetch(ctx, mb, f.ID, mailstore.AllUIDs)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, it := range items {
		if it.Subject == subject {
			n++
		}
	}
	return n
}

// deliver sends a message to a target address over SMTP and waits until
// it is in the Inbox.
func deliver(t *testing.T, s *scenario.Server, smtp string, rec *directory.Recipient, subject string) {
	t.Helper()
	if err := scenario.Send(smtp, "partner@example.net", []string{rec.PrimarySmtpAddress},
		scenario.Message("partner@example.net", rec.PrimarySmtpAddress, subject, "delivered to the new mailbox")); err != nil {
		t.Fatal(err)
	}
	scenario.Eventually(t, time.Minute, "local delivery of "+subject, func() error {
		if countSubject(t, s, rec, "Inbox", subject) != 1 {
			return fmt.Errorf("not delivered yet")
		}
		return nil
	})
}

var newItemsRE = regexp.MustCompile(`sync finished in [^:]*: (\d+) new items`)

// lastNewItems returns the number of new items of a user's last finished
// sync, from the report log.
func lastNewItems(t *testing.T, s *scenario.Server, batch, addr string) int {
	t.Helper()
	rs, err := s.Admin.BatchReport(context.Background(), s.Op, "fabrikam", batch, addr)
	if err != nil || len(rs) != 1 {
		t.Fatalf("report of %s: %v", addr, err)
	}
	n := -1
	for _, l := range rs[0].Report {
		if m := newItemsRE.FindStringSubmatch(l.Message); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
	}
	return n
}

// TestIMAPMigrationFromDovecot is the IMAP migration end to end with
// Dovecot as the source: a private Dovecot listener serves two users'
// Maildirs (alice: every corpus message, folders known by name; bob:
// generated mail, folders with SPECIAL-USE attributes), an IMAP endpoint
// and a batch (EmailAddress,UserName,Password) copy them into two existing
// mailboxes that already hold local mail.
//
// What it proves:
//   - Initial sync: per folder, the copied items equal what Dovecot serves
//     (SHA-256 of BODY[] as served, flags and keywords, internal dates), the
//     special folders landing in the target's Inbox, Sent Items, Drafts,
//     Deleted Items, Junk Email and Archive; counts in the statistics; the
//     local mail untouched; no password in any report.
//   - Incremental (sync-now) after changes made through Dovecot: APPENDs to
//     INBOX and to a new folder, flags set and cleared, MOVEs between
//     folders, expunges, a folder rename, a folder delete and a UIDVALIDITY
//     change (doveadm mailbox update): equal again, no duplicate, and only
//     the appended messages (plus messages of the renumbered folder that
//     have no Message-ID) are copied — moves and the renumbered folder are
//     matched, not copied again.
//   - Completion: final sync (a message appended just before), Completed
//     with DataConsistencyScore Perfect, local mail delivered before and
//     during the migration still there, credentials and mirror deleted, the
//     report telling the admin to switch MX records.
//
// It runs against Dovecot as it is (CONDSTORE, LIST-STATUS, SPECIAL-USE,
// ESEARCH) and announcing IMAP4rev1 basics only (the connector's
// fallbacks), on SQLite, and on PostgreSQL when TENANTFERRY_TEST_POSTGRES
// is set.
func TestIMAPMigrationFromDovecot(t *testing.T) {
	skipWithoutDovecot(t)
	t.Run("condstore", func(t *testing.T) { imapMigration(t, db.SQLite) })
	t.Run("plain-imap4rev1", func(t *testing.T) { imapMigration(t, db.SQLite, plainIMAP) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			t.Skip("set " + dbtest.EnvPostgres + " to run the PostgreSQL variant")
		}
		imapMigration(t, db.Postgres)
	})
}

func imapMigration(t *testing.T, dialect db.Dialect, settings ...string) {
	ctx := context.Background()
	smtp := scenario.FreeAddr(t)
	s := scenario.Start(t, scenario.Options{SMTP: smtp, DB: dbtest.DSN(t, dialect)})
	s.Tenant("fabrikam")
	alice := s.Mailbox("fabrikam", "alice", "pw-alice-target", false)
	bob := s.Mailbox("fabrikam", "bob", "pw-bob-target", false)
	src := startDovecot(t, map[string]string{"alice": alicePassword, "bob": bobPassword},
		map[string][]scenario.Item{"alice": aliceItems(t), "bob": bobItems()}, settings...)
	deliver(t, s, smtp, alice, "local before the migration")

	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "dove", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Admin.TestEndpoint(ctx, s.Op, "fabrikam", "dove", alice.PrimarySmtpAddress, "")
	if err != nil {
		t.Fatal(err)
	}
	wantSuccess(t, res)
	if !strings.Contains(res.Checks[0].Message, "IMAP4rev1") || !strings.Contains(res.Checks[0].Message, "TLS: none") {
		t.Fatalf("endpoint test does not report the capabilities and TLS: %+v", res.Checks[0])
	}
	t.Logf("endpoint test: %s", res.Checks[0].Message)

	start := time.Now()
	csv := imapCSV([3]string{alice.PrimarySmtpAddress, "alice", alicePassword}, [3]string{bob.PrimarySmtpAddress, "bob", bobPassword})
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "imap1", Endpoint: "dove", CSV: csv, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	us := waitIMAPUsers(t, s, "imap1", migration.StateSynced)
	t.Logf("initial sync of %d users: %s", len(us), time.Since(start).Round(time.Millisecond))
	na := sameAsDovecot(t, s, src, "alice", alice, "initial sync")
	nb := sameAsDovecot(t, s, src, "bob", bob, "initial sync")
	for _, u := range us {
		want := int64(na)
		if u.EmailAddress == bob.PrimarySmtpAddress {
			want = int64(nb)
		}
		if u.ItemsSynced != want || u.ItemsTotal != want || u.ItemsSkipped != 0 || u.BytesTransferred == 0 {
			t.Fatalf("%s: %d of %d items synced, %d skipped, want %d", u.EmailAddress, u.ItemsSynced, u.ItemsTotal, u.ItemsSkipped, want)
		}
	}
	if n := countSubject(t, s, alice, "Inbox", "local before the migration"); n != 1 {
		t.Fatalf("local mail found %d times after the initial sync", n)
	}
	for _, f := range []string{"Sent", "Sent Messages", "Spam", "Trash", "Junk"} {
		for _, rec := range []*directory.Recipient{alice, bob} {
			if _, err := s.Store.FolderByPath(ctx, s.Content("fabrikam", rec.ExchangeGuid).ID, f); err == nil {
				t.Fatalf("%s: source folder %q was created instead of mapped onto the default folder", rec.Alias, f)
			}
		}
	}
	t.Logf("initial sync: alice %d items, bob %d items, equal to Dovecot's BODY[], flags and dates per folder", na, nb)

	// Changes through Dovecot.
	renumbered, noMsgID := changeDovecot(t, s, src, alice)
	before := folderItemIDs(t, s, alice, renumbered)
	bobc := src.login(t, "bob")
	appendMsg(t, bobc, "Notes", "bob incremental", []imap.Flag{imap.FlagSeen})
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "imap1", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	waitIMAPUsers(t, s, "imap1", migration.StateSynced)
	na = sameAsDovecot(t, s, src, "alice", alice, "incremental sync")
	sameAsDovecot(t, s, src, "bob", bob, "incremental sync")
	if n := lastNewItems(t, s, "imap1", alice.PrimarySmtpAddress); n != 5+noMsgID {
		t.Fatalf("the incremental sync of alice copied %d new items, want the 5 appended (+%d without Message-ID in the renumbered folder)", n, noMsgID)
	}
	if n := lastNewItems(t, s, "imap1", bob.PrimarySmtpAddress); n != 1 {
		t.Fatalf("the incremental sync of bob copied %d new items, want 1", n)
	}
	if f, err := s.Store.FolderByPath(ctx, s.Content("fabrikam", alice.ExchangeGuid).ID, "Junk Email"); err != nil || f.SpecialUse != mailstore.UseJunk || f.Origin != "" {
		t.Fatalf("the target's Junk Email after the source deleted Junk: %+v %v (want it kept and released)", f, err)
	}
	after := folderItemIDs(t, s, alice, renumbered)
	kept := 0
	for id := range before {
		if after[id] {
			kept++
		}
	}
	if kept != len(before)-noMsgID {
		t.Fatalf("folder %s after its UIDVALIDITY change: %d of %d target items kept (%d have no Message-ID)", renumbered, kept, len(before), noMsgID)
	}
	t.Logf("incremental sync: equal again (alice %d items); %q renumbered, %d of its %d items kept their target item", na, renumbered, kept, len(before))

	// Completion: mail arrives at the new mailbox and at the old server.
	deliver(t, s, smtp, alice, "local during the migration")
	appendMsg(t, src.login(t, "alice"), "INBOX", "appended before the completion", nil)
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "imap1", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	us = waitIMAPUsers(t, s, "imap1", migration.StateCompleted)
	for _, u := range us {
		if u.DataConsistencyScore != migration.ScorePerfect || u.PercentComplete != 100 || u.Error != nil {
			t.Fatalf("%s: score %s, %d%%, error %+v", u.EmailAddress, u.DataConsistencyScore, u.PercentComplete, u.Error)
		}
	}
	sameAsDovecot(t, s, src, "alice", alice, "after the completion")
	sameAsDovecot(t, s, src, "bob", bob, "after the completion")
	for _, subj := range []string{"local before the migration", "local during the migration"} {
		if n := countSubject(t, s, alice, "Inbox", subj); n != 1 {
			t.Fatalf("%q found %d times after the completion", subj, n)
		}
	}
	for _, tbl := range []string{"imap_credentials", "imap_items", "imap_folders"} {
		if n := mirrorRows(t, s, tbl); n != 0 {
			t.Fatalf("%d rows left in %s after the completion", n, tbl)
		}
	}
	for _, rec := range []*directory.Recipient{alice, bob} {
		rs, err := s.Admin.BatchReport(ctx, s.Op, "fabrikam", "imap1", rec.PrimarySmtpAddress)
		if err != nil {
			t.Fatal(err)
		}
		mx := false
		for _, l := range rs[0].Report {
			mx = mx || strings.Contains(l.Message, "MX records")
			if strings.Contains(l.Message, alicePassword) || strings.Contains(l.Message, bobPassword) {
				t.Fatalf("a password is in the report: %s", l.Message)
			}
		}
		if !mx {
			t.Fatalf("the report of %s does not tell the admin to switch MX records", rec.Alias)
		}
	}
}
