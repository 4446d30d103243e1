package mailstore_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestCreateFoldersOneTransaction: CreateFolders commits every folder it
// creates with one MODSEQ, parents before children; when one Create fails
// none of the batch's folders exists afterwards.
func TestCreateFoldersOneTransaction(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		before := modseq(t, s, mb.ID)
		var paths []string
		err := s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
			paths = paths[:0]
			for _, p := range []string{"Projects", "Projects/Alpha", "Projects/Alpha/Notes", "Receipts"} {
				f, err := b.Create(p, mailstore.FolderOptions{Origin: "src-" + p})
				if err != nil {
					return err
				}
				paths = append(paths, f.Path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := modseq(t, s, mb.ID); got != before+1 {
			t.Fatalf("MODSEQ %d after the batch, want %d (one mutation)", got, before+1)
		}
		for _, p := range paths {
			if f := mustFolder(t, s, mb.ID, p); f.ModSeq != before+1 || f.Origin != "src-"+p {
				t.Fatalf("folder %s: modseq %d origin %q", p, f.ModSeq, f.Origin)
			}
		}
		// All or none: the second Create's name is taken.
		err = s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
			if _, err := b.Create("Fresh", mailstore.FolderOptions{}); err != nil {
				return err
			}
			_, err := b.Create("Receipts", mailstore.FolderOptions{})
			return err
		})
		wantCode(t, err, "FolderExists")
		if _, err := s.FolderByPath(bg, mb.ID, "Fresh"); err == nil {
			t.Fatal("a failed batch left the folder Fresh")
		}
		if got := modseq(t, s, mb.ID); got != before+1 {
			t.Fatalf("MODSEQ %d after a failed batch, want %d", got, before+1)
		}
		// CreateIn: straight under a known parent; a name taken there fails
		// the batch (the unique index), a name with the delimiter creates
		// its parents like Create.
		projects := mustFolder(t, s, mb.ID, "Projects")
		err = s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
			f, err := b.CreateIn(projects, "Beta", mailstore.FolderOptions{Origin: "src-beta"})
			if err != nil {
				return err
			}
			if f.Path != "Projects/Beta" || f.ParentID != projects.StableID {
				t.Errorf("CreateIn: %+v", f)
			}
			if f, err = b.CreateIn(nil, "Top/Sub", mailstore.FolderOptions{}); err != nil {
				return err
			}
			if f.Path != "Top/Sub" {
				t.Errorf("CreateIn with the delimiter: %+v", f)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		mustFolder(t, s, mb.ID, "Top")
		err = s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
			_, err := b.CreateIn(projects, "alpha", mailstore.FolderOptions{})
			return err
		})
		wantCode(t, err, "FolderExists")
	})
}
