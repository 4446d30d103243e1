package migration_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestMovedArchiveVisibleOverIMAP completes a move of a mailbox with an
// archive and logs in to the target at once: the moved archive is listed
// under imapd.ArchiveRoot and its messages are there.
func TestMovedArchiveVisibleOverIMAP(t *testing.T) {
	r := newRigOn(t, scenario.Options{IMAP: "127.0.0.1:0"})
	src := r.source("arch", 6, true, true) // 6 items in the primary, 2 in the archive
	const pw = "target-password-1"
	r.stamp(src, func(sp *directory.RecipientSpec) { sp.Password = pw })
	addr := r.addr("arch")
	r.batchSpec(migration.BatchSpec{Name: "archive", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true, AutoComplete: true})
	if u := r.waitUser("archive", addr, migration.StateCompleted); u.DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("move: %+v", u)
	}

	c, err := imapclient.DialInsecure(r.s.Addr("imap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(addr, pw).Wait(); err != nil {
		t.Fatalf("login to the moved mailbox: %v", err)
	}
	list, err := c.List("", imapd.ArchiveRoot+"/*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	total := uint32(0)
	for _, l := range list {
		st, err := c.Status(l.Mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatalf("status %s: %v", l.Mailbox, err)
		}
		total += *st.NumMessages
	}
	if len(list) == 0 || total != 2 {
		t.Fatalf("the moved archive over IMAP: %d folders, %d messages; want the archive's 2", len(list), total)
	}
}
