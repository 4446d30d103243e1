package mailstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

const (
	tenantB = "1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
	guid2   = "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091"
)

// TestContentReuseIsPerTenant is the reuse rule of issue 7, hole 1: content
// named by SHA-256 without its bytes is appended only when the mailbox's
// tenant already holds it (or the caller received the bytes itself); a
// hash another tenant's mail has is refused with ContentNotHeld and writes
// nothing, and HeldContent answers from the tenant's own content only.
func TestContentReuseIsPerTenant(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, a *mailstore.Mailbox) {
		inboxA := mustFolder(t, s, a.ID, "Inbox")
		secret := appendN(t, s, a.ID, inboxA.ID, 2)
		b, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantB, GUID: guid2, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inboxB := mustFolder(t, s, b.ID, "Inbox")
		before := modseq(t, s, b.ID)

		held, err := s.HeldContent(bg, b.ID, []string{secret[0].SHA256, strings.ToUpper(secret[1].SHA256)})
		if err != nil || len(held) != 0 {
			t.Fatalf("tenant B holds %v (%v), want nothing", held, err)
		}
		_, err = s.Append(bg, b.ID, mailstore.AppendItem{FolderID: inboxB.ID, SHA256: secret[0].SHA256})
		if !errors.Is(err, mailstore.ErrContentNotHeld) {
			t.Fatalf("append of another tenant's content by hash: %v", err)
		}
		wantCode(t, err, "ContentNotHeld")
		if n := count(t, s, b.ID); n != 0 || modseq(t, s, b.ID) != before {
			t.Fatalf("a refused append wrote: %d items, modseq %d → %d", n, before, modseq(t, s, b.ID))
		}
		// A batch refuses the claimed item and stays usable for sent bytes.
		bt := s.NewAppendBatch(b.ID)
		if err := bt.Add(bg, mailstore.AppendItem{FolderID: inboxB.ID, SHA256: secret[1].SHA256}); !errors.Is(err, mailstore.ErrContentNotHeld) {
			t.Fatalf("batch add by hash: %v", err)
		}
		if err := bt.Add(bg, mailstore.AppendItem{FolderID: inboxB.ID, Content: strings.NewReader(msg(0))}); err != nil {
			t.Fatal(err)
		}
		// Once sent, the same hash may be referenced in the same batch.
		if err := bt.Add(bg, mailstore.AppendItem{FolderID: inboxB.ID, SHA256: secret[0].SHA256}); err != nil {
			t.Fatalf("reference to content sent in the batch: %v", err)
		}
		if _, err := bt.Commit(bg, nil); err != nil {
			t.Fatal(err)
		}
		bt.Close()
		// Tenant B now holds msg(0) (its own copy): reuse by hash works.
		held, err = s.HeldContent(bg, b.ID, []string{secret[0].SHA256, secret[1].SHA256})
		if err != nil || !held[secret[0].SHA256] || held[secret[1].SHA256] {
			t.Fatalf("held after sending: %v %v", held, err)
		}
		if _, err := s.Append(bg, b.ID, mailstore.AppendItem{FolderID: inboxB.ID, SHA256: secret[0].SHA256}); err != nil {
			t.Fatalf("reuse of the tenant's own content: %v", err)
		}
		// The delivery queue's own copy (Received) is no claim.
		if _, err := s.Append(bg, b.ID, mailstore.AppendItem{FolderID: inboxB.ID, SHA256: secret[1].SHA256, Received: true}); err != nil {
			t.Fatalf("received content: %v", err)
		}
		if n := count(t, s, b.ID); n != 4 {
			t.Fatalf("tenant B has %d items, want 4", n)
		}
	})
}

func count(t *testing.T, s *mailstore.Store, mb int64) int {
	t.Helper()
	var n int
	if err := s.DB().Read().QueryRowContext(bg, `SELECT COUNT(*) FROM items WHERE mailbox_id = ?`, mb).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
