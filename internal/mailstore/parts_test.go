package mailstore_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/message"
)

// TestParts: the part tree of large content is built while it is
// appended and stored with it (one message_parts row per content, before
// any access reads the blob); content stored without one (before trees
// were built at append) has it parsed on first access and stored; it is
// read back on the next access, and parsed again when the stored tree is
// of another parser version. On every blob backend and dialect.
// PurgeParts deletes the trees of content no item holds.
func TestParts(t *testing.T) {
	raw := "Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\n" +
		strings.Repeat("two two two\r\n", mailstore.StoredPartsAbove/13+1) + "--b--\r\n"
	small := "Subject: small\r\n\r\nbody\r\n"
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, e *blobtest.Env) {
		s := mailstore.New(e.DB, e.Open(t))
		t.Cleanup(func() {
			if err := s.CheckConsistency(context.Background()); err != nil {
				t.Errorf("store consistency: %v", err)
			}
		})
		mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox := mustFolder(t, s, mb.ID, "Inbox")
		a, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(raw)})
		if err != nil {
			t.Fatal(err)
		}
		rows := func() (n, version int) {
			t.Helper()
			if err := e.DB.Read().QueryRowContext(bg, `SELECT COUNT(*), COALESCE(MAX(version), 0) FROM message_parts`).Scan(&n, &version); err != nil {
				t.Fatal(err)
			}
			return n, version
		}
		want := message.ParseBytes([]byte(raw))
		if n, v := rows(); n != 1 || v != message.Version {
			t.Fatalf("%d trees of version %d right after the append", n, v)
		}
		var enc []byte
		if err := e.DB.Read().QueryRowContext(bg, `SELECT tree FROM message_parts WHERE sha256 = ?`, a.SHA256).Scan(&enc); err != nil {
			t.Fatal(err)
		}
		if p, err := message.Decode(enc); err != nil || !reflect.DeepEqual(p, want) {
			t.Fatalf("the tree stored at append differs from Parse's (%v)", err)
		}
		// Content stored before trees were built at append: lazy fill.
		if _, err := e.DB.Read().ExecContext(bg, `DELETE FROM message_parts`); err != nil {
			t.Fatal(err)
		}
		// A small message is parsed in memory; nothing is stored.
		sa, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(small)})
		if err != nil {
			t.Fatal(err)
		}
		sb, err := s.OpenItem(bg, mb.ID, sa.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Parts(bg, sb)
		sb.Close()
		if err != nil || !reflect.DeepEqual(p, message.ParseBytes([]byte(small))) {
			t.Fatalf("small message: %+v (%v)", p, err)
		}
		if n, _ := rows(); n != 0 {
			t.Fatalf("%d trees stored for a small message", n)
		}
		for i := range 2 {
			b, err := s.OpenItem(bg, mb.ID, a.ItemID)
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Parts(bg, b)
			b.Close()
			if err != nil || !reflect.DeepEqual(p, want) {
				t.Fatalf("access %d: tree %+v (%v)", i+1, p, err)
			}
			if n, v := rows(); n != 1 || v != message.Version {
				t.Fatalf("access %d: %d rows of version %d", i+1, n, v)
			}
		}
		if _, err := e.DB.Read().ExecContext(bg, `UPDATE message_parts SET version = 0, tree = ?`, []byte("stale")); err != nil {
			t.Fatal(err)
		}
		b, err := s.OpenItem(bg, mb.ID, a.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if p, err := s.Parts(bg, b); err != nil || !reflect.DeepEqual(p, want) {
			t.Fatalf("after a parser change: %+v (%v)", p, err)
		}
		if n, v := rows(); n != 1 || v != message.Version {
			t.Fatalf("after a parser change: %d rows of version %d", n, v)
		}
		// Housekeeping keeps the tree of referenced content and deletes it
		// once no item holds the content.
		if n, err := s.PurgeParts(bg); err != nil || n != 0 {
			t.Fatalf("purge with the item present: %d (%v)", n, err)
		}
		if _, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.AllUIDs, mailstore.FlagsAdd, []string{mailstore.FlagDeleted}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Expunge(bg, mb.ID, inbox.ID, mailstore.AllUIDs); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PurgeParts(bg); err != nil || n != 1 {
			t.Fatalf("purge after the expunge: %d (%v)", n, err)
		}
		if n, _ := rows(); n != 0 {
			t.Fatalf("%d trees left", n)
		}
	})
}
