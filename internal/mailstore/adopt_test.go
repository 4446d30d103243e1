package mailstore_test

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestSetFolderOrigin adopts an existing folder for a source folder and
// releases it again: the folder keeps its name, special use and items,
// FolderByOrigin and an idempotent CreateFolder with that origin find it,
// a second folder cannot take the same origin, and the MODSEQ rises only
// when the origin changes.
func TestSetFolderOrigin(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		sent := mustFolder(t, s, mb.ID, "Sent Items")
		appendN(t, s, mb.ID, sent.ID, 2)
		before, err := s.HighestModSeq(bg, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.SetFolderOrigin(bg, mb.ID, sent.ID, "imapf:7")
		if err != nil {
			t.Fatal(err)
		}
		if f.Origin != "imapf:7" || f.Path != "Sent Items" || f.SpecialUse != mailstore.UseSent || f.ModSeq != before+1 {
			t.Fatalf("adopted folder %+v (MODSEQ before %d)", f, before)
		}
		if got, err := s.FolderByOrigin(bg, mb.ID, "imapf:7"); err != nil || got.ID != sent.ID {
			t.Fatalf("FolderByOrigin: %+v %v", got, err)
		}
		// Replication's idempotent create finds the adopted folder.
		if got, err := s.CreateFolder(bg, mb.ID, "Sent", mailstore.FolderOptions{Origin: "imapf:7", SpecialUse: mailstore.UseSent}); err != nil || got.ID != sent.ID {
			t.Fatalf("CreateFolder with the adopted origin: %+v %v", got, err)
		}
		if n, _ := s.FolderCounts(bg, mb.ID, sent.ID); n.Messages != 2 {
			t.Fatalf("adopted folder holds %d items", n.Messages)
		}
		// The same origin again changes nothing.
		if _, err := s.SetFolderOrigin(bg, mb.ID, sent.ID, "imapf:7"); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.HighestModSeq(bg, mb.ID); m != before+1 {
			t.Fatalf("a no-op adoption raised the MODSEQ to %d", m)
		}
		drafts := mustFolder(t, s, mb.ID, "Drafts")
		_, err = s.SetFolderOrigin(bg, mb.ID, drafts.ID, "imapf:7")
		wantCode(t, err, "FolderOriginExists")
		_, err = s.SetFolderOrigin(bg, mb.ID, drafts.ID, strings.Repeat("x", 600))
		wantCode(t, err, "InvalidOrigin")
		_, err = s.SetFolderOrigin(bg, mb.ID, 999999, "imapf:8")
		wantCode(t, err, "FolderNotFound")

		// Released, the folder is an ordinary local folder again.
		if f, err := s.SetFolderOrigin(bg, mb.ID, sent.ID, ""); err != nil || f.Origin != "" {
			t.Fatalf("release: %+v %v", f, err)
		}
		_, err = s.FolderByOrigin(bg, mb.ID, "imapf:7")
		wantCode(t, err, "FolderNotFound")
		if _, err := s.SetFolderOrigin(bg, mb.ID, drafts.ID, "imapf:7"); err != nil {
			t.Fatalf("the released origin is free: %v", err)
		}
	})
}

// TestAppendBatchLastSHA256 checks that a batch reports the hash of the
// content it just streamed.
func TestAppendBatchLastSHA256(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		b := s.NewAppendBatch(mb.ID)
		defer b.Close()
		if b.LastSHA256() != "" {
			t.Fatal("hash before the first Add")
		}
		if err := b.Add(bg, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(msg(1))}); err != nil {
			t.Fatal(err)
		}
		got := b.LastSHA256()
		out, err := b.Commit(bg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got == "" || got != out[0].SHA256 {
			t.Fatalf("LastSHA256 %q, committed %q", got, out[0].SHA256)
		}
	})
}
