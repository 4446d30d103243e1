package mailstore_test

import (
	"errors"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

const (
	guidArchive = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
	guidOther   = "7e6d5c4b-3a29-4187-9605-f4e3d2c1b0a9"
)

// TestCopyAcrossMailboxes copies and moves items between a mailbox and
// its archive: the copies read back byte-exact with their flags, a move
// leaves tombstones in the source and raises both MODSEQs, nothing crosses
// to another tenant's mailbox, and a locked archive refuses without
// changing the source.
func TestCopyAcrossMailboxes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		arch, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guidArchive, Kind: mailstore.KindArchive, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox := mustFolder(t, s, mb.ID, "Inbox")
		dst := mustFolder(t, s, arch.ID, "Inbox")
		app := appendN(t, s, mb.ID, inbox.ID, 4, mailstore.FlagFlagged)
		srcSeq, dstSeq := modseq(t, s, mb.ID), modseq(t, s, arch.ID)

		res, err := s.CopyAcross(bg, mb.ID, inbox.ID, mailstore.UIDs(app[0].UID, app[1].UID), arch.ID, dst.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.DestUIDs) != 2 || res.UIDValidity != dst.UIDValidity {
			t.Fatalf("copy: %+v", res)
		}
		for i, id := range res.ItemIDs {
			if got := readItem(t, s, arch.ID, id); got != msgN(i) {
				t.Fatalf("copy %d reads %q", i, got)
			}
		}
		if modseq(t, s, mb.ID) != srcSeq || modseq(t, s, arch.ID) <= dstSeq {
			t.Fatalf("a copy changes the destination only: source %d→%d, archive %d→%d", srcSeq, modseq(t, s, mb.ID), dstSeq, modseq(t, s, arch.ID))
		}

		before := modseq(t, s, mb.ID)
		res, err = s.CopyAcross(bg, mb.ID, inbox.ID, mailstore.UIDs(app[2].UID, app[3].UID), arch.ID, dst.ID, true)
		if err != nil || len(res.SourceUIDs) != 2 {
			t.Fatalf("move: %+v %v", res, err)
		}
		if ts := tombstones(t, s, mb.ID, before); len(ts) != 2 {
			t.Fatalf("move left %d tombstones in the source, want 2", len(ts))
		}
		items, err := s.Fetch(bg, arch.ID, dst.ID, mailstore.AllUIDs)
		if err != nil || len(items) != 4 {
			t.Fatalf("archive Inbox holds %d items (%v), want 4", len(items), err)
		}
		for _, it := range items {
			if !mailstore.HasFlag(it.Flags, mailstore.FlagFlagged) {
				t.Fatalf("item %d lost its flags: %v", it.UID, it.Flags)
			}
		}
		left, err := s.Fetch(bg, mb.ID, inbox.ID, mailstore.AllUIDs)
		if err != nil || len(left) != 2 {
			t.Fatalf("source Inbox holds %d items (%v), want 2", len(left), err)
		}

		other, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantB, GUID: guidOther, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CopyAcross(bg, mb.ID, inbox.ID, mailstore.AllUIDs, other.ID, mustFolder(t, s, other.ID, "Inbox").ID, true)
		if !errors.Is(err, mailstore.ErrCrossTenantCopy) {
			t.Fatalf("copy to another tenant's mailbox: %v, want CrossTenantCopy", err)
		}
		if err := s.SetMailboxState(bg, arch.ID, mailstore.StateLocked); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CopyAcross(bg, mb.ID, inbox.ID, mailstore.AllUIDs, arch.ID, dst.ID, true); err == nil {
			t.Fatal("a move into a locked archive succeeded")
		}
		if left, _ := s.Fetch(bg, mb.ID, inbox.ID, mailstore.AllUIDs); len(left) != 2 {
			t.Fatalf("refused moves changed the source: %d items", len(left))
		}
	})
}

// msgN is the content appendN gives its i-th item.
func msgN(i int) string { return msg(i) }
