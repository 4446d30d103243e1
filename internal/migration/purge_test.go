package migration_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// syncWriter is a log sink safe for concurrent writers.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestIncrementalMoveAfterPurge: the source deletes mail and then purges
// its tombstones past the target's watermark (a move paused longer than
// the tombstone retention). The next incremental sync gets ResyncRequired
// for the removals, resynchronises them fully and converges — on every
// blob backend.
func TestIncrementalMoveAfterPurge(t *testing.T) {
	if testing.Short() {
		t.Skip("scenario test")
	}
	for _, backend := range blobtest.Names {
		t.Run(backend, func(t *testing.T) { incrementalMoveAfterPurge(t, backend) })
	}
}

func incrementalMoveAfterPurge(t *testing.T, backend string) {
	ctx := context.Background()
	smtpA, smtpB := scenario.FreeAddr(t), scenario.FreeAddr(t)
	logB := &syncWriter{}
	a := scenario.Start(t, scenario.Options{SMTP: smtpA, BlobBackend: backend, Transports: map[string]string{"fabrikam.tenantferry.test": smtpB}})
	b := scenario.Start(t, scenario.Options{SMTP: smtpB, BlobBackend: backend, Log: logB, Transports: map[string]string{"contoso.tenantferry.test": smtpA}})
	a.Tenant("contoso")
	b.Tenant("fabrikam")
	u := moved{alias: "user02"}
	u.src = a.Mailbox("contoso", u.alias, "pw-"+u.alias, false)
	mb := a.Content("contoso", u.src.ExchangeGuid).ID
	scenario.Fill(t, a.Store, mb, scenario.Generated(mailgen.Options{Seed: 7, Count: 300, Owner: "user02@contoso.tenantferry.test", Median: 4096, AttachKB: 60}))

	tr := scenario.SetupTrust(t, a, "contoso", b, "fabrikam")
	tr.AddToScope(t, a, u.alias)
	csv := "EmailAddress\nuser02@fabrikam.tenantferry.test\n"
	if _, err := b.Admin.PrepareMailUsers(ctx, b.Op, "fabrikam", tr.Endpoint, []byte(csv), tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.CreateBatch(ctx, b.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: []byte(csv),
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, b, "fabrikam", "wave1", 3*time.Minute, migration.StateSynced)
	compareUser(t, a, "contoso", b, "fabrikam", u, "after the initial sync")

	// Delete two thirds of the source's inbox, flag some of the rest,
	// then purge every tombstone.
	inbox, err := a.Store.FolderBySpecialUse(ctx, mb, mailstore.UseInbox)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.Store.Select(ctx, mb, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	var del, flag []uint32
	for i, m := range snap.Messages {
		switch {
		case i%3 != 0:
			del = append(del, m.UID)
		case i%2 == 0:
			flag = append(flag, m.UID)
		}
	}
	if len(del) < 20 {
		t.Fatalf("inbox has %d items", len(snap.Messages))
	}
	if _, err := a.Store.StoreFlags(ctx, mb, inbox.ID, mailstore.UIDs(flag...), mailstore.FlagsAdd, []string{`\Flagged`}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.StoreFlags(ctx, mb, inbox.ID, mailstore.UIDs(del...), mailstore.FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Expunge(ctx, mb, inbox.ID, mailstore.UIDs(del...)); err != nil {
		t.Fatal(err)
	}
	if n, err := a.Store.PurgeTombstones(ctx, time.Now().Add(time.Minute)); err != nil || n < int64(len(del)) {
		t.Fatalf("purged %d tombstones (%v), want at least %d", n, err, len(del))
	}
	// An operator's GC round meanwhile (the deleted mail is younger than
	// the GC grace: its space comes back in a later round).
	if _, err := a.Admin.StorageGC(ctx, a.Op, admin.StorageGCRequest{ReaderGrace: "0s"}); err != nil {
		t.Fatal(err)
	}

	if _, err := b.Admin.BatchCommand(ctx, b.Op, "fabrikam", "wave1", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	waitUsers(t, b, "fabrikam", "wave1", 2*time.Minute, migration.StateSynced)
	compareUser(t, a, "contoso", b, "fabrikam", u, "after the purge and an incremental sync")
	if !strings.Contains(logB.String(), "resynchronising deletions fully") {
		t.Fatal("the target did not resynchronise: the purge did not reach past its watermark")
	}
}
