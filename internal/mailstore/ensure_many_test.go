package mailstore_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestEnsureMailboxes: a bulk creation writes the same mailboxes and
// default folders as EnsureMailbox one by one, leaves existing mailboxes
// alone, and the store stays consistent (checked in cleanup).
func TestEnsureMailboxes(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		s := newStore(t, d)
		one, err := s.EnsureMailbox(bg, tenantA, guid1, mailstore.KindPrimary)
		if err != nil {
			t.Fatal(err)
		}
		guids := []string{guid1}
		for i := 0; i < 250; i++ {
			guids = append(guids, uuid.NewString())
		}
		if err := s.EnsureMailboxes(bg, tenantA, guids, mailstore.KindPrimary); err != nil {
			t.Fatal(err)
		}
		describe := func(mb *mailstore.Mailbox) string {
			t.Helper()
			fs, err := s.ListFolders(bg, mb.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			out := fmt.Sprintf("%s %s modseq=%d:", mb.Kind, mb.State, mb.ModSeq)
			seen := map[uint32]bool{}
			for _, f := range fs {
				if seen[f.UIDValidity] {
					t.Fatalf("UIDVALIDITY %d twice in %s", f.UIDValidity, mb.GUID)
				}
				seen[f.UIDValidity] = true
				out += fmt.Sprintf(" %s/%s/%s/%d/%v", f.Path, f.Class, f.SpecialUse, f.UIDNext, f.Subscribed)
			}
			return out
		}
		want := describe(one)
		if again, err := s.Mailbox(bg, tenantA, guid1); err != nil || again.ID != one.ID {
			t.Fatalf("the existing mailbox was replaced: %v", err)
		}
		for _, g := range guids[1:] {
			mb, err := s.Mailbox(bg, tenantA, g)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(mb); got != want {
				t.Fatalf("bulk mailbox %s:\n%s\nwant\n%s", g, got, want)
			}
		}
		// A folder can still be created after the default ones.
		mb, _ := s.Mailbox(bg, tenantA, guids[7])
		if _, err := s.CreateFolder(bg, mb.ID, "Projects", mailstore.FolderOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
