package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

func TestHousekeeping(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	keep := s.Mailbox("contoso", "keep", "pw", false)
	gone := s.Mailbox("contoso", "gone", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", keep.ExchangeGuid).ID, scenario.Generated(mailgen.Options{Seed: 1, Count: 20}))
	scenario.Fill(t, s.Store, s.Content("contoso", gone.ExchangeGuid).ID, scenario.Generated(mailgen.Options{Seed: 2, Count: 30}))
	mb := s.Content("contoso", gone.ExchangeGuid)
	if err := s.Store.SetMailboxState(ctx, mb.ID, mailstore.StateRetired); err != nil {
		t.Fatal(err)
	}
	countBlobs := func() int {
		var n int
		s.DB.Read().QueryRowContext(ctx, `SELECT COUNT(*) FROM blobs`).Scan(&n)
		return n
	}
	before := countBlobs()
	// Within the retention nothing goes.
	res, err := s.Housekeep(ctx, time.Now().Add(24*time.Hour))
	if err != nil || res.RetiredMailboxes != 0 || res.Storage.BlobsDeleted != 0 {
		t.Fatalf("inside the retention: %+v %v", res, err)
	}
	// After it, the retired mailbox and the content only it referenced go;
	// the kept mailbox is untouched.
	res, err = s.Housekeep(ctx, time.Now().Add(31*24*time.Hour))
	if err != nil || res.RetiredMailboxes != 1 || res.Storage.BlobsDeleted != 30 {
		t.Fatalf("after the retention: %+v %v (blobs before %d)", res, err, before)
	}
	if _, err := s.Store.MailboxByID(ctx, mb.ID); err == nil {
		t.Fatal("retired mailbox still there")
	}
	if n := scenario.Take(t, s.Store, s.Content("contoso", keep.ExchangeGuid).ID).Count(); n != 20 {
		t.Fatalf("kept mailbox has %d items", n)
	}
	if got := countBlobs(); got != before-30 {
		t.Fatalf("blobs %d → %d", before, got)
	}
}
