package migration_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// TestMailboxTypeRule: completing a move converts the whole source (both
// its mailboxes are retired), so a CSV MailboxType that moves only one of
// them would strand the other's content on the source — before this rule
// an ArchiveOnly move completed "Perfect" with the primary mailbox left
// retired on the source and absent from the target. Such a user fails
// validation with MailboxTypeNotSupported, nothing written; PrimaryOnly of
// a source without an archive moves everything and passes; the same users
// with PrimaryAndArchive sync.
func TestMailboxTypeRule(t *testing.T) {
	r := newRig(t)
	po := r.source("po", 3, true, true)
	ao := r.source("ao", 3, true, true)
	plain := r.source("plain", 3, false, true)
	var frozen []*frozen
	for _, s := range []string{"po", "ao", "plain"} {
		r.stamp(r.srcOf(s), nil)
	}
	frozen = append(frozen, r.freeze(po, r.addr("po")), r.freeze(ao, r.addr("ao")))
	csv := "EmailAddress,MailboxType\n" + r.addr("po") + ",PrimaryOnly\n" + r.addr("ao") + ",ArchiveOnly\n" + r.addr("plain") + ",PrimaryOnly\n"
	r.batchSpec(migration.BatchSpec{Name: "types", Endpoint: r.tr.Endpoint, CSV: []byte(csv), AutoStart: true, AutoComplete: true})
	r.waitFailed("types", r.addr("po"), "MailboxTypeNotSupported")
	r.waitFailed("types", r.addr("ao"), "MailboxTypeNotSupported")
	for _, f := range frozen {
		f.check(t)
	}
	r.waitUser("types", r.addr("plain"), migration.StateCompleted)
	r.sameContent(plain)

	r.cmd("types", admin.BatchRemove, false)
	r.batch("both", r.tr.Endpoint, r.addr("po"), r.addr("ao"))
	for _, s := range []string{"po", "ao"} {
		if u := r.waitUser("both", r.addr(s), migration.StateSynced); u.ItemsSynced != 5 {
			t.Fatalf("%s: %+v", s, u)
		}
	}
	r.sameContent(po)
	r.sameContent(ao)
}
