package migration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestFilteredBatch (issue 11 item 4): a batch filtered by internal date
// (Since 2023-01-01) and by folder (excluding \Junk by its special use
// and the Private subtree by a glob) and mapping Projects/* to Work/*
// copies exactly the selected items, into the mapped folders,
// checked over IMAP on the moved mailbox by content hash per folder; its
// counts and verification are those of the selection (Perfect, 5 of 5),
// not of the whole source; an item moved on the source into an excluded
// folder leaves the target at the next sync. An invalid rule or an empty date range is
// refused with InvalidFilter and creates nothing. Before the batch starts,
// its dry run lists the selection per folder (5 items: Inbox 3, Projects/
// Alpha 2 into Work/Alpha) and writes nothing.
func TestFilteredBatch(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		filteredBatch(t, scenario.Options{DB: dbtest.DSN(t, dialect), IMAP: "127.0.0.1:0"})
	})
}

func filteredBatch(t *testing.T, o scenario.Options) {
	r := newRigOn(t, o)
	const alias = "flt"
	recent, old := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC), time.Date(2020, 5, 1, 9, 0, 0, 0, time.UTC)
	var all []scenario.Item
	want := map[string][]string{} // target folder → sorted content hashes
	add := func(folder string, date time.Time, n int, selected bool) {
		for i := 0; i < n; i++ {
			it := scenario.Item{Folder: folder, Date: date.Add(time.Duration(i) * time.Minute),
				Data: scenario.Message("partner@example.net", alias+"@contoso.tenantferry.test", fmt.Sprintf("%s %s %d", folder, date.Format("2006"), i), "hello")}
			all = append(all, it)
			if selected {
				served := folder
				switch folder {
				case "Inbox":
					served = "INBOX"
				case "Projects/Alpha":
					served = "Work/Alpha" // mapped
				}
				want[served] = append(want[served], hashOf(it.Data))
			}
		}
	}
	add("Inbox", recent, 3, true)
	add("Inbox", old, 2, false)
	add("Projects/Alpha", recent, 2, true)
	add("Junk Email", recent, 2, false)
	add("Private", recent, 1, false)
	add("Private/Diary", recent, 2, false)
	src := r.s.Mailbox(srcName, alias, "pw-"+alias, false)
	scenario.Fill(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID, all)
	r.tr.AddToScope(t, r.s, alias)
	const pw = "target-password-1"
	r.stamp(src, func(sp *directory.RecipientSpec) { sp.Password = pw })
	addr := r.addr(alias)

	for _, c := range []struct {
		name string
		f    replication.Filter
	}{
		{"bad glob", replication.Filter{ExcludeFolders: []string{"Projects/[a"}}},
		{"empty range", replication.Filter{Since: recent, Before: old}},
		{"mapping without arrow", replication.Filter{MapFolders: []string{"^Projects/(.*)$ Work/$1"}}},
		{"mapping with a bad regexp", replication.Filter{MapFolders: []string{"^Projects/(.*$ -> Work/$1"}}},
	} {
		_, err := r.tgt.Admin.CreateBatch(r.ctx, r.tgt.Op, tgtName, migration.BatchSpec{Name: "bad", Endpoint: r.tr.Endpoint, CSV: csvOf(addr),
			TargetDeliveryDomain: r.tr.TargetDelivery, Filter: &c.f})
		if !isCode(err, "InvalidFilter") {
			t.Fatalf("%s: %v, want InvalidFilter", c.name, err)
		}
	}
	if bs, _ := r.tgt.Admin.ListBatches(r.ctx, r.tgt.Op, tgtName); len(bs) != 0 {
		t.Fatalf("refused batches were created: %d", len(bs))
	}

	f := &replication.Filter{Since: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), ExcludeFolders: []string{`\Junk`, "private"},
		MapFolders: []string{"^Projects/(.*)$ -> Work/$1"}}
	bv := r.batchSpec(migration.BatchSpec{Name: "flt", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), Filter: f})
	if bv.Filter == nil || len(bv.Filter.ExcludeFolders) != 2 || bv.Filter.Since == nil {
		t.Fatalf("batch filter: %+v", bv.Filter)
	}
	// The dry run lists the selection per folder, mapped, and writes nothing.
	dr, err := r.tgt.Admin.BatchDryRun(r.ctx, r.tgt.Op, tgtName, "flt", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(dr) != 1 || dr[0].Error != nil || dr[0].Items != 5 || dr[0].Mailbox != "primary" {
		t.Fatalf("dry run: %+v", dr)
	}
	perFolder := map[string]string{}
	for _, fp := range dr[0].Folders {
		if fp.Items > 0 {
			perFolder[fp.Path+" -> "+fp.TargetPath] = fmt.Sprint(fp.Items)
		}
	}
	if fmt.Sprint(perFolder) != "map[Inbox -> Inbox:3 Projects/Alpha -> Work/Alpha:2]" {
		t.Fatalf("dry run per folder: %v", perFolder)
	}
	if _, err := r.tgt.Admin.BatchDryRun(r.ctx, r.tgt.Op, tgtName, "flt", "nobody@"+r.tr.TargetTenant.InitialDomain); !isCode(err, "MigrationUserNotFound") {
		t.Fatalf("dry run of an unknown user: %v", err)
	}
	if _, err := r.s.Store.Mailbox(r.ctx, r.tgtID(), src.ExchangeGuid); err == nil {
		t.Fatal("the dry run created the target mailbox")
	}
	if u := r.user("flt", addr); u.Status != migration.StateQueued || u.ItemsSynced != 0 {
		t.Fatalf("after the dry run: %s, %d items", u.Status, u.ItemsSynced)
	}
	r.cmd("flt", "start", false)
	if u := r.waitUser("flt", addr, migration.StateSynced); u.ItemsSynced != 5 || u.ItemsTotal != 5 || u.ItemsSkipped != 0 {
		t.Fatalf("synced: %d of %d, %d skipped; want the 5 selected", u.ItemsSynced, u.ItemsTotal, u.ItemsSkipped)
	}
	// An item that leaves the selection (moved into the excluded Private
	// subtree) leaves the target at the next sync.
	ctx, srcMB := r.ctx, r.s.Content(srcName, src.ExchangeGuid).ID
	inbox, _ := r.s.Store.FolderByPath(ctx, srcMB, "Inbox")
	private, _ := r.s.Store.FolderByPath(ctx, srcMB, "Private")
	snap, err := r.s.Store.Select(ctx, srcMB, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	var movedUID uint32
	for _, m := range snap.Messages {
		it, _ := r.s.Store.Fetch(ctx, srcMB, inbox.ID, mailstore.UIDs(m.UID))
		if it[0].InternalDate.Year() == 2024 {
			movedUID = m.UID
			break
		}
	}
	if _, err := r.s.Store.Move(ctx, srcMB, inbox.ID, mailstore.UIDs(movedUID), private.ID); err != nil {
		t.Fatal(err)
	}
	want["INBOX"] = want["INBOX"][:0]
	for _, it := range all {
		if it.Folder == "Inbox" && it.Date.Year() == 2024 && it.Date.Minute() != 0 {
			want["INBOX"] = append(want["INBOX"], hashOf(it.Data))
		}
	}
	r.cmd("flt", "sync-now", false)
	scenario.Eventually(t, 30*time.Second, "the moved-out item deleted", func() error {
		if u := r.user("flt", addr); !settled(u, migration.StateSynced) || u.ItemsSynced != 4 {
			return fmt.Errorf("%s %s, %d items", u.Status, u.StatusDetail, u.ItemsSynced)
		}
		return nil
	})
	r.cmd("flt", "complete", false)
	if u := r.waitUser("flt", addr, migration.StateCompleted); u.DataConsistencyScore != migration.ScorePerfect || u.ItemsSynced != 4 {
		t.Fatalf("completed: %s, %d items", u.DataConsistencyScore, u.ItemsSynced)
	}
	got := servedHashes(t, r.s.Addr("imap"), addr, pw)
	for folder, hs := range want {
		sort.Strings(hs)
		if strings.Join(got[folder], ",") != strings.Join(hs, ",") {
			t.Errorf("%s over IMAP: %d messages %v, want %d %v", folder, len(got[folder]), got[folder], len(hs), hs)
		}
		delete(got, folder)
	}
	for folder, hs := range got {
		if len(hs) > 0 {
			t.Errorf("%s over IMAP holds %d messages the filter left out", folder, len(hs))
		}
	}
}

func hashOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// servedHashes logs in over IMAP and returns, per folder, the sorted
// SHA-256 of every message's BODY[].
func servedHashes(t *testing.T, addr, user, pw string) map[string][]string {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range list {
		sd, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil || sd.NumMessages == 0 {
			continue
		}
		msgs := c.Fetch(imap.SeqSetNum(seqRange(sd.NumMessages)...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		for {
			m := msgs.Next()
			if m == nil {
				break
			}
			for {
				item := m.Next()
				if item == nil {
					break
				}
				if bs, ok := item.(imapclient.FetchItemDataBodySection); ok {
					h := sha256.New()
					io.Copy(h, bs.Literal)
					out[l.Mailbox] = append(out[l.Mailbox], hex.EncodeToString(h.Sum(nil)))
				}
			}
		}
		if err := msgs.Close(); err != nil {
			t.Fatalf("fetch %s: %v", l.Mailbox, err)
		}
		sort.Strings(out[l.Mailbox])
	}
	return out
}

func seqRange(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}

// TestFilteredIMAPBatch: an IMAP batch from Dovecot filtered by date and
// by folder (Spam by its \Junk special use, Notes by name) lists the
// selection in a dry run before it starts (read-only), then copies exactly
// the selected messages (by content hash, over the target's copy), counts
// them as its total, and completes Perfect against the selection of the
// IMAP mirror.
func TestFilteredIMAPBatch(t *testing.T) {
	skipWithoutDovecot(t)
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("fabrikam")
	bob := s.Mailbox("fabrikam", "bob", "pw-bob-target", false)
	items := bobItems()
	dates := make([]time.Time, len(items))
	for i, it := range items {
		dates[i] = it.Date
	}
	sort.Slice(dates, func(i, j int) bool { return dates[i].Before(dates[j]) })
	since := dates[len(dates)/2].Truncate(time.Second)
	var want []string
	for _, it := range items {
		if it.Folder != "Spam" && it.Folder != "Notes" && !it.Date.Before(since) {
			want = append(want, hashOf(it.Data))
		}
	}
	sort.Strings(want)
	src := startDovecot(t, map[string]string{"bob": bobPassword}, map[string][]scenario.Item{"bob": items})
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "dove", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr}); err != nil {
		t.Fatal(err)
	}
	f := &replication.Filter{Since: since, ExcludeFolders: []string{`\Junk`, "notes"}}
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "fimap", Endpoint: "dove", Filter: f,
		CSV: imapCSV([3]string{bob.PrimarySmtpAddress, "bob", bobPassword})}); err != nil {
		t.Fatal(err)
	}
	dr, err := s.Admin.BatchDryRun(ctx, s.Op, "fabrikam", "fimap", "")
	if err != nil || len(dr) != 1 || dr[0].Error != nil || dr[0].Items != int64(len(want)) {
		t.Fatalf("dry run: %+v %v; want %d items", dr, err, len(want))
	}
	for _, fp := range dr[0].Folders {
		if fp.Path == "Spam" || fp.Path == "Notes" {
			t.Fatalf("the dry run lists the excluded folder %s", fp.Path)
		}
	}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "fimap", admin.BatchStart, false); err != nil {
		t.Fatal(err)
	}
	us := waitIMAPUsers(t, s, "fimap", migration.StateSynced)
	if u := us[0]; u.ItemsSynced != int64(len(want)) || u.ItemsTotal != int64(len(want)) || len(want) == 0 || len(want) == len(items) {
		t.Fatalf("synced %d of %d; want the %d selected of %d", u.ItemsSynced, u.ItemsTotal, len(want), len(items))
	}
	var got []string
	for _, entries := range copied(t, s.Store, s.Content("fabrikam", bob.ExchangeGuid).ID) {
		for _, e := range entries {
			got = append(got, strings.Fields(e)[0])
		}
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("copied %d messages, want the %d selected", len(got), len(want))
	}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "fimap", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	if us := waitIMAPUsers(t, s, "fimap", migration.StateCompleted, migration.StateCompletedWithWarnings); us[0].DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("completed %s with %s", us[0].Status, us[0].DataConsistencyScore)
	}
}
