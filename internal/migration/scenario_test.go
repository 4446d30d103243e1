package migration_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// waitUsers waits until every user of the batch is in one of the states.
func waitUsers(t *testing.T, s *scenario.Server, tenant, batch string, timeout time.Duration, states ...string) []*migration.UserView {
	t.Helper()
	var us []*migration.UserView
	scenario.Eventually(t, timeout, "batch "+batch+" users in "+strings.Join(states, "|"), func() error {
		var err error
		us, err = s.Admin.BatchUsers(context.Background(), s.Op, tenant, batch)
		if err != nil {
			return err
		}
		for _, u := range us {
			ok := false
			for _, st := range states {
				ok = ok || u.Status == st
			}
			if u.Status == migration.StateFailed && !slices.Contains(states, migration.StateFailed) {
				t.Fatalf("user %s failed: %+v", u.EmailAddress, u.Error)
			}
			if !ok || (u.Status == migration.StateSynced && (u.StatusDetail == "SyncQueued" || u.StatusDetail == "CompletionQueued")) {
				return fmt.Errorf("%s is %s %s", u.EmailAddress, u.Status, u.StatusDetail)
			}
		}
		return nil
	})
	return us
}

// moved describes one user of the scenario: its source content and GUIDs.
type moved struct {
	alias   string
	src     *directory.Recipient
	archive bool
}

func compareUser(t *testing.T, src *scenario.Server, srcTenant string, tgt *scenario.Server, tgtTenant string, u moved, what string) {
	t.Helper()
	for _, g := range []string{u.src.ExchangeGuid, u.src.ArchiveGuid} {
		if g == "" {
			continue
		}
		want := scenario.Take(t, src.Store, src.Content(srcTenant, g).ID)
		got := scenario.Take(t, tgt.Store, tgt.Content(tgtTenant, g).ID)
		if d := scenario.Diff(want, got); d != "" {
			t.Fatalf("%s: %s (%s) differs:\n%s", what, u.alias, g, d)
		}
	}
}

// TestCrossServerMove runs the whole scenario between two servers, on
// SQLite and (when TENANTFERRY_TEST_POSTGRES is set) on PostgreSQL.
func TestCrossServerMove(t *testing.T) {
	if testing.Short() {
		t.Skip("scenario test")
	}
	t.Run("sqlite", func(t *testing.T) { crossServerMove(t, db.SQLite, "files") })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			t.Skip("set " + dbtest.EnvPostgres + " to run the PostgreSQL variant")
		}
		crossServerMove(t, db.Postgres, "db")
	})
	// Both servers keep message bytes in S3 (SeaweedFS).
	t.Run("sqlite-s3", func(t *testing.T) { crossServerMove(t, db.SQLite, "s3") })
}

func crossServerMove(t *testing.T, dialect db.Dialect, blobs string) {
	ctx := context.Background()
	smtpA, smtpB := scenario.FreeAddr(t), scenario.FreeAddr(t)
	a := scenario.Start(t, scenario.Options{SMTP: smtpA, DB: dbtest.DSN(t, dialect), BlobBackend: blobs, Transports: map[string]string{"fabrikam.tenantferry.test": smtpB}})
	b := scenario.Start(t, scenario.Options{SMTP: smtpB, DB: dbtest.DSN(t, dialect), BlobBackend: blobs, Transports: map[string]string{"contoso.tenantferry.test": smtpA}})
	a.Tenant("contoso")
	b.Tenant("fabrikam")

	users := []moved{{alias: "user01", archive: true}, {alias: "user02"}, {alias: "user03"}}
	for i := range users {
		u := &users[i]
		u.src = a.Mailbox("contoso", u.alias, "pw-"+u.alias, u.archive)
	}
	// user01: the whole corpus (byte-exact oddities) plus an archive;
	// user02 and user03: generated business mail with folder trees.
	scenario.Fill(t, a.Store, a.Content("contoso", users[0].src.ExchangeGuid).ID, scenario.CorpusItems(t))
	scenario.Fill(t, a.Store, a.Content("contoso", users[0].src.ArchiveGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 10, Count: 120, Owner: "user01@contoso.tenantferry.test", Median: 4096, AttachKB: 60}))
	scenario.Fill(t, a.Store, a.Content("contoso", users[1].src.ExchangeGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 2, Count: 400, Owner: "user02@contoso.tenantferry.test", Median: 4096, AttachKB: 60}))
	scenario.Fill(t, a.Store, a.Content("contoso", users[2].src.ExchangeGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 3, Count: 300, Owner: "user03@contoso.tenantferry.test", Median: 4096, AttachKB: 60}))

	tr := scenario.SetupTrust(t, a, "contoso", b, "fabrikam")
	tr.AddToScope(t, a, "user01", "user02", "user03")
	csv := "EmailAddress\nuser01@fabrikam.tenantferry.test\nuser02@fabrikam.tenantferry.test\nuser03@fabrikam.tenantferry.test\n"
	rows, err := b.Admin.PrepareMailUsers(ctx, b.Op, "fabrikam", tr.Endpoint, []byte(csv), tr.TargetDelivery, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Action != migration.PrepareCreated {
			t.Fatalf("prepare %s: %s %+v", r.EmailAddress, r.Action, r.Error)
		}
	}
	if _, err := b.Admin.CreateBatch(ctx, b.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: []byte(csv),
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	us := waitUsers(t, b, "fabrikam", "wave1", 3*time.Minute, migration.StateSynced)
	total := int64(0)
	for _, u := range us {
		total += u.ItemsSynced
		if u.ItemsSynced != u.ItemsTotal || u.ItemsSkipped != 0 {
			t.Fatalf("user %s: %d of %d items, %d skipped", u.EmailAddress, u.ItemsSynced, u.ItemsTotal, u.ItemsSkipped)
		}
	}
	t.Logf("initial sync: %d items in %d users", total, len(us))
	for _, u := range users {
		compareUser(t, a, "contoso", b, "fabrikam", u, "after the initial sync")
	}

	// Change the source in every way an incremental sync must carry.
	mb2 := a.Content("contoso", users[1].src.ExchangeGuid).ID
	for i := 0; i < 5; i++ {
		if err := scenario.Send(smtpA, "someone@partner.example", []string{"user02@contoso.tenantferry.test"},
			scenario.Message("someone@partner.example", "user02@contoso.tenantferry.test", fmt.Sprintf("incremental %d", i), "new mail")); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := a.Store.FolderBySpecialUse(ctx, mb2, mailstore.UseInbox)
	if err != nil {
		t.Fatal(err)
	}
	scenario.Eventually(t, time.Minute, "SMTP delivery on the source", func() error {
		st, err := a.Store.Select(ctx, mb2, inbox.ID)
		if err != nil {
			return err
		}
		for _, u := range st.Messages {
			if it, _ := a.Store.Fetch(ctx, mb2, inbox.ID, mailstore.UIDs(u.UID)); len(it) == 1 && it[0].Subject == "incremental 4" {
				return nil
			}
		}
		return fmt.Errorf("not delivered yet")
	})
	snap, err := a.Store.Select(ctx, mb2, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	uids := snap.Messages
	if len(uids) < 20 {
		t.Fatalf("inbox has %d items", len(uids))
	}
	if _, err := a.Store.StoreFlags(ctx, mb2, inbox.ID, mailstore.UIDs(uids[0].UID, uids[1].UID, uids[2].UID), mailstore.FlagsAdd, []string{`\Flagged`, "$Important"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.StoreFlags(ctx, mb2, inbox.ID, mailstore.UIDs(uids[3].UID), mailstore.FlagsRemove, []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	archive, err := a.Store.FolderByPath(ctx, mb2, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Move(ctx, mb2, inbox.ID, mailstore.UIDs(uids[4].UID, uids[5].UID, uids[6].UID), archive.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.StoreFlags(ctx, mb2, inbox.ID, mailstore.UIDs(uids[7].UID, uids[8].UID), mailstore.FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Expunge(ctx, mb2, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	alpha, err := a.Store.FolderByPath(ctx, mb2, "Projects/Alpha")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.RenameFolder(ctx, mb2, alpha.ID, "Customers/Alpha Renamed"); err != nil {
		t.Fatal(err)
	}
	customers, err := a.Store.FolderByPath(ctx, mb2, "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.DeleteFolder(ctx, mb2, customers.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.BatchCommand(ctx, b.Op, "fabrikam", "wave1", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, b, "fabrikam", "wave1", 2*time.Minute, migration.StateSynced)
	for _, u := range users {
		compareUser(t, a, "contoso", b, "fabrikam", u, "after the incremental sync")
	}

	// Complete while mail keeps arriving at user03's old address.
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			subj := fmt.Sprintf("during-completion %d", i)
			if err := scenario.Send(smtpA, "stream@partner.example", []string{"user03@contoso.tenantferry.test"},
				scenario.Message("stream@partner.example", "user03@contoso.tenantferry.test", subj, "x")); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			sent.Add(1)
			time.Sleep(30 * time.Millisecond)
		}
	}()
	// Some mail before the completion starts, and some after it ended:
	// wait for the sender's count, not for time.
	sentAtLeast := func(n int64) {
		t.Helper()
		scenario.Eventually(t, time.Minute, fmt.Sprintf("%d messages sent", n), func() error {
			if got := sent.Load(); got < n {
				return fmt.Errorf("%d sent", got)
			}
			return nil
		})
	}
	sentAtLeast(5)
	if _, err := b.Admin.BatchCommand(ctx, b.Op, "fabrikam", "wave1", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	us = waitUsers(t, b, "fabrikam", "wave1", 2*time.Minute, migration.StateCompleted)
	sentAtLeast(sent.Load() + 5)
	close(stop)
	wg.Wait()
	for _, u := range us {
		if u.DataConsistencyScore != migration.ScorePerfect || u.PercentComplete != 100 {
			t.Fatalf("%s: score %s, %d%%", u.EmailAddress, u.DataConsistencyScore, u.PercentComplete)
		}
		t.Logf("%s: lock window %s", u.EmailAddress, u.LockWindow)
	}

	// The source is a MailUser forwarding to the target's delivery-domain
	// address; the target a UserMailbox with the same GUIDs.
	for _, u := range users {
		s, err := a.Dir.GetRecipient(ctx, tr.SourceTenant.ID, u.alias)
		if err != nil {
			t.Fatal(err)
		}
		if s.Type != directory.MailUser || s.ExternalEmailAddress != u.alias+"@fabrikam.tenantferry.test" {
			t.Fatalf("source %s: %s → %s", u.alias, s.Type, s.ExternalEmailAddress)
		}
		g, err := b.Dir.GetRecipient(ctx, tr.TargetTenant.ID, u.alias+"@fabrikam.tenantferry.test")
		if err != nil {
			t.Fatal(err)
		}
		if g.Type != directory.UserMailbox || g.ExchangeGuid != u.src.ExchangeGuid || g.ArchiveGuid != u.src.ArchiveGuid {
			t.Fatalf("target %s: %s %s %s", u.alias, g.Type, g.ExchangeGuid, g.ArchiveGuid)
		}
	}
	// Every message sent during the completion is in the target, once.
	mb3 := b.Content("fabrikam", users[2].src.ExchangeGuid).ID
	countSubjects := func(prefix string) (map[string]int, error) {
		inbox, err := b.Store.FolderBySpecialUse(ctx, mb3, mailstore.UseInbox)
		if err != nil {
			return nil, err
		}
		st, err := b.Store.Select(ctx, mb3, inbox.ID)
		if err != nil {
			return nil, err
		}
		seen := map[string]int{}
		for _, u := range st.Messages {
			it, err := b.Store.Fetch(ctx, mb3, inbox.ID, mailstore.UIDs(u.UID))
			if err != nil {
				return nil, err
			}
			if len(it) == 1 && strings.HasPrefix(it[0].Subject, prefix) {
				seen[it[0].Subject]++
			}
		}
		return seen, nil
	}
	n := sent.Load()
	scenario.Eventually(t, time.Minute, "mail sent during the completion in the target", func() error {
		seen, err := countSubjects("during-completion ")
		if err != nil {
			return err
		}
		for i := int64(0); i < n; i++ {
			if c := seen[fmt.Sprintf("during-completion %d", i)]; c != 1 {
				return fmt.Errorf("message %d of %d found %d times", i, n, c)
			}
		}
		if len(seen) != int(n) {
			return fmt.Errorf("%d distinct messages for %d sent", len(seen), n)
		}
		return nil
	})
	t.Logf("%d messages sent during the completion arrived exactly once", n)

	// Mail to the old address afterwards lands in the target mailbox.
	if err := scenario.Send(smtpA, "late@partner.example", []string{"user03@contoso.tenantferry.test"},
		scenario.Message("late@partner.example", "user03@contoso.tenantferry.test", "after-cutover", "hello")); err != nil {
		t.Fatal(err)
	}
	scenario.Eventually(t, time.Minute, "mail to the old address in the target", func() error {
		seen, err := countSubjects("after-cutover")
		if err != nil {
			return err
		}
		if seen["after-cutover"] != 1 {
			return fmt.Errorf("found %d", seen["after-cutover"])
		}
		return nil
	})
}
