package migration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// registrations lists the source tenant's registered moves.
func (r *rig) registrations() []*replication.Registration {
	r.t.Helper()
	regs, err := r.s.Admin.MoveRegistrations(r.ctx, r.s.Op, srcName)
	if err != nil {
		r.t.Fatal(err)
	}
	return regs
}

// TestMoveRegistrationLifecycle: a batch registers its move on the source
// when it syncs, and removing the batch ends the registration; a move
// whose registration the source admin cancelled cannot complete — the
// source is neither locked nor converted — and then fails with
// MoveRegistrationCancelled.
func TestMoveRegistrationLifecycle(t *testing.T) {
	r := newRig(t)
	a := r.source("rega", 3, false, true)
	r.stamp(a, nil)
	r.batch("one", r.tr.Endpoint, r.addr("rega"))
	r.waitUser("one", r.addr("rega"), migration.StateSynced)
	regs := r.registrations()
	if len(regs) != 1 || regs[0].Mailbox != a.PrimarySmtpAddress || regs[0].State != source.RegRegistered ||
		regs[0].TargetTenantId != r.tgtID() || regs[0].TargetDeliveryDomain != r.tr.TargetDelivery || regs[0].AppId != r.tr.AppID {
		t.Fatalf("registrations after the sync: %+v", regs)
	}
	r.cmd("one", admin.BatchRemove, false)
	if regs := r.registrations(); len(regs) != 0 {
		t.Fatalf("registrations after the batch was removed: %+v", regs)
	}

	b := r.source("regb", 3, true, true)
	r.stamp(b, nil)
	r.batch("two", r.tr.Endpoint, r.addr("regb"))
	r.waitUser("two", r.addr("regb"), migration.StateSynced)
	want := scenario.Take(t, r.s.Store, r.s.Content(srcName, b.ExchangeGuid).ID)
	regs = r.registrations()
	if len(regs) != 1 {
		t.Fatalf("registrations: %+v", regs)
	}
	if _, err := r.s.Admin.CancelMoveRegistration(r.ctx, r.s.Op, srcName, regs[0].Id); err != nil {
		t.Fatal(err)
	}
	r.cmd("two", admin.BatchComplete, false)
	var u *migration.UserView
	scenario.Eventually(t, 30*time.Second, "the completion refused", func() error {
		u = r.user("two", r.addr("regb"))
		switch {
		case u.Error != nil && u.Error.Code == "MoveNotRegistered" && settled(u, migration.StateSynced):
			return nil
		case u.Error != nil && u.Error.Code == "MoveRegistrationCancelled" && u.Status == migration.StateFailed:
			return nil
		}
		return fmt.Errorf("%s %s %+v", u.Status, u.StatusDetail, u.Error)
	})
	rec, err := r.s.Dir.GetRecipient(r.ctx, r.srcID(), b.ID)
	if err != nil || rec.Type != directory.UserMailbox {
		t.Fatalf("source after the refused completion: %v %+v", err, rec)
	}
	for _, g := range []string{b.ExchangeGuid, b.ArchiveGuid} {
		if st := r.s.Content(srcName, g).State; st != mailstore.StateActive {
			t.Fatalf("source mailbox %s is %s", g, st)
		}
	}
	if d := scenario.Diff(want, scenario.Take(t, r.s.Store, r.s.Content(srcName, b.ExchangeGuid).ID)); d != "" {
		t.Fatalf("source content changed:\n%s", d)
	}
	if tg, err := r.s.Dir.GetRecipient(r.ctx, r.tgtID(), r.addr("regb")); err != nil || tg.Type != directory.MailUser {
		t.Fatalf("target after the refused completion: %v %+v", err, tg)
	}
	// The next pass finds the move cancelled for good.
	r.cmd("two", admin.BatchSyncNow, false)
	u = r.waitUser("two", r.addr("regb"), migration.StateFailed)
	if u.Error == nil || u.Error.Code != "MoveRegistrationCancelled" {
		t.Fatalf("after the next pass: %+v", u.Error)
	}
}
