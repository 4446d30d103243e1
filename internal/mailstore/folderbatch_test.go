package mailstore_test

import (
	"fmt"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
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

// TestCreateInQueued: CreateIn's folders are written together at the end
// of the batch in a few statements (not three per folder), get their IDs
// and distinct UIDVALIDITYs, serve as parents of later CreateIn and
// Create calls, and conflicts with live folders or within the batch fail
// the whole batch with the folder-by-folder codes.
func TestCreateInQueued(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		d := dbtest.Open(t, dialect)
		s := newStore(t, d)
		mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		var made []*mailstore.Folder
		st0 := d.Statements()
		err = s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
			made = made[:0]
			top, err := b.CreateIn(nil, "Clients", mailstore.FolderOptions{Origin: "src-clients"})
			if err != nil {
				return err
			}
			made = append(made, top)
			for i := range 12 {
				f, err := b.CreateIn(top, fmt.Sprintf("Client %02d", i), mailstore.FolderOptions{Origin: fmt.Sprintf("src-%d", i)})
				if err != nil {
					return err
				}
				made = append(made, f)
			}
			if top.ID != 0 {
				t.Error("a queued folder has an ID before the batch is written")
			}
			// Create sees the queued folders as parents (they are written first).
			f, err := b.Create("Clients/Client 03/Notes", mailstore.FolderOptions{})
			if err != nil {
				return err
			}
			made = append(made, f)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := d.Statements() - st0; n > 20 {
			t.Errorf("%d statements for 14 folders, want at most 20 (three per folder before)", n)
		}
		uv := map[uint32]bool{}
		for _, f := range made {
			got := mustFolder(t, s, mb.ID, f.Path)
			if f.ID == 0 || got.ID != f.ID || got.UIDValidity != f.UIDValidity || got.Origin != f.Origin || got.ParentID != f.ParentID {
				t.Errorf("%s: returned %+v, stored %+v", f.Path, f, got)
			}
			if uv[got.UIDValidity] {
				t.Errorf("%s: UIDVALIDITY %d used twice", f.Path, got.UIDValidity)
			}
			uv[got.UIDValidity] = true
		}
		before := modseq(t, s, mb.ID)
		for _, c := range []struct {
			code string
			f    func(b *mailstore.FolderBatch) error
		}{
			{"FolderExists", func(b *mailstore.FolderBatch) error {
				_, err := b.CreateIn(nil, "clients", mailstore.FolderOptions{})
				return err
			}},
			{"FolderOriginExists", func(b *mailstore.FolderBatch) error {
				_, err := b.CreateIn(nil, "Other", mailstore.FolderOptions{Origin: "src-clients"})
				return err
			}},
			{"SpecialUseTaken", func(b *mailstore.FolderBatch) error {
				_, err := b.CreateIn(nil, "Sent 2", mailstore.FolderOptions{SpecialUse: mailstore.UseSent})
				return err
			}},
			{"FolderExists", func(b *mailstore.FolderBatch) error { // twice in one batch
				b.CreateIn(nil, "Twice", mailstore.FolderOptions{})
				_, err := b.CreateIn(nil, "TWICE", mailstore.FolderOptions{})
				return err
			}},
		} {
			err := s.CreateFolders(bg, mb.ID, func(b *mailstore.FolderBatch) error {
				if _, err := b.CreateIn(nil, "Fresh", mailstore.FolderOptions{}); err != nil {
					return err
				}
				return c.f(b)
			})
			wantCode(t, err, c.code)
			if _, err := s.FolderByPath(bg, mb.ID, "Fresh"); err == nil {
				t.Fatalf("%s: a failed batch left the folder Fresh", c.code)
			}
		}
		if got := modseq(t, s, mb.ID); got != before {
			t.Fatalf("MODSEQ %d after failed batches, want %d", got, before)
		}
	})
}
