package migration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestSecondTargetOfMovedSource: two target tenants (fabrikam, northwind)
// sync the same source mailbox; fabrikam completes first. northwind's
// completion then finds the source converted: its user fails with
// SourceNotAMailbox (before the fix it stayed Completing for good, and its
// batch could not be removed), the batch can be removed, and fabrikam's
// move is untouched: the source still forwards to fabrikam, whose mailbox
// holds the content.
func TestSecondTargetOfMovedSource(t *testing.T) {
	r := newRig(t)
	const other = "northwind"
	tr2 := scenario.SetupTrust(t, r.s, srcName, r.s, other)
	src := r.source("dup", 5, false, true)
	r.stamp(src, nil)
	addr2 := "dup@" + tr2.TargetTenant.InitialDomain
	sp := r.spec(src)
	sp.PrimarySmtp = addr2
	if _, err := r.s.Admin.CreateRecipient(r.ctx, r.s.Op, other, sp); err != nil {
		t.Fatal(err)
	}
	users := func() *migration.UserView {
		us, err := r.s.Admin.BatchUsers(r.ctx, r.s.Op, other, "second")
		if err != nil {
			t.Fatal(err)
		}
		return us[0]
	}
	r.batch("first", r.tr.Endpoint, r.addr("dup"))
	if _, err := r.s.Admin.CreateBatch(r.ctx, r.s.Op, other, migration.BatchSpec{Name: "second", Endpoint: tr2.Endpoint, CSV: csvOf(addr2),
		TargetDeliveryDomain: tr2.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	r.waitUser("first", r.addr("dup"), migration.StateSynced)
	scenario.Eventually(t, 30*time.Second, "northwind synced", func() error {
		if u := users(); !settled(u, migration.StateSynced) {
			return fmt.Errorf("%s %s", u.Status, u.StatusDetail)
		}
		return nil
	})
	want := scenario.Take(t, r.s.Store, r.s.Content(srcName, src.ExchangeGuid).ID)

	r.cmd("first", admin.BatchComplete, false)
	r.waitUser("first", r.addr("dup"), migration.StateCompleted)
	if _, err := r.s.Admin.BatchCommand(r.ctx, r.s.Op, other, "second", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	var u *migration.UserView
	scenario.Eventually(t, 30*time.Second, "northwind's completion refused", func() error {
		if u = users(); u.Status != migration.StateFailed {
			return fmt.Errorf("%s %s", u.Status, u.StatusDetail)
		}
		return nil
	})
	if u.Error == nil || u.Error.Code != "SourceNotAMailbox" {
		t.Fatalf("northwind: %+v", u.Error)
	}
	if _, err := r.s.Admin.BatchCommand(r.ctx, r.s.Op, other, "second", admin.BatchRemove, false); err != nil {
		t.Fatalf("removing the failed batch: %v", err)
	}
	if _, err := r.s.Store.Mailbox(r.ctx, tr2.TargetTenant.ID, src.ExchangeGuid); !isCode(err, "MailboxNotFound") {
		t.Fatalf("northwind's staged copy after the removal: %v", err)
	}
	if g, err := r.s.Dir.GetRecipient(r.ctx, tr2.TargetTenant.ID, addr2); err != nil || g.Type != directory.MailUser {
		t.Fatalf("northwind's target: %v %+v", err, g)
	}

	// fabrikam's move stands.
	s, err := r.s.Dir.GetRecipient(r.ctx, r.srcID(), src.ID)
	if err != nil || s.Type != directory.MailUser || s.ExternalEmailAddress != r.addr("dup") {
		t.Fatalf("source: %v %+v", err, s)
	}
	mb := r.s.Content(tgtName, src.ExchangeGuid)
	if mb.State != mailstore.StateActive {
		t.Fatalf("fabrikam's mailbox is %s", mb.State)
	}
	if d := scenario.Diff(want, scenario.Take(t, r.s.Store, mb.ID)); d != "" {
		t.Fatalf("fabrikam's mailbox differs:\n%s", d)
	}
}
