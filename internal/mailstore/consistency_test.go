package mailstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestCheckConsistencyCatches: the checker that runs in every store test's
// cleanup finds a broken invariant (here: rows edited behind the store's
// back) and names it; a consistent store passes.
func TestCheckConsistencyCatches(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(t.TempDir(), "blobs")})
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		s := mailstore.New(d, bs) // no cleanup check: this test breaks the store on purpose
		mb, err := s.CreateMailbox(ctx, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		appendN(t, s, mb.ID, inbox.ID, 3)
		if err := s.CheckConsistency(ctx); err != nil {
			t.Fatalf("a consistent store: %v", err)
		}
		for _, c := range []struct{ sql, want string }{
			{`UPDATE items SET uid = 1000 WHERE uid = 2`, "UIDNEXT"},
			{`UPDATE mailboxes SET modseq = 0`, "highest MODSEQ"},
		} {
			if err := d.Write(ctx, func(tx *db.Tx) error { _, err := tx.ExecContext(ctx, c.sql); return err }); err != nil {
				t.Fatal(err)
			}
			err := s.CheckConsistency(ctx)
			if !errors.Is(err, mailstore.ErrInconsistent) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("after %q: %v, want ErrInconsistent naming %q", c.sql, err, c.want)
			}
		}
	})
}
