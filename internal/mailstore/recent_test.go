package mailstore_test

import (
	"sync"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestClaimRecent: concurrent claims never hand out a UID twice, and
// together they cover every UID once; claiming raises no MODSEQ; a
// missing folder is FolderNotFound.
func TestClaimRecent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		if from, err := s.RecentFrom(bg, mb.ID, inbox.ID); err != nil || from != 1 {
			t.Fatalf("a new folder's boundary: %d %v", from, err)
		}
		const claimers, upto = 8, 40
		appendN(t, s, mb.ID, inbox.ID, upto-1) // UIDs 1..39: UIDNEXT is upto
		m := modseq(t, s, mb.ID)
		claimed := make([][2]uint32, 0, claimers*upto)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for c := 0; c < claimers; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for u := uint32(c%3 + 2); u <= upto; u += 3 {
					from, err := s.ClaimRecent(bg, mb.ID, inbox.ID, u)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					claimed = append(claimed, [2]uint32{from, u})
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		owner := map[uint32]int{}
		for _, r := range claimed {
			for uid := r[0]; uid < r[1]; uid++ {
				owner[uid]++
			}
		}
		for uid := uint32(1); uid < upto; uid++ {
			if owner[uid] != 1 {
				t.Errorf("UID %d claimed %d times", uid, owner[uid])
			}
		}
		if from, _ := s.RecentFrom(bg, mb.ID, inbox.ID); from != upto {
			t.Errorf("boundary %d, want %d", from, upto)
		}
		if from, err := s.ClaimRecent(bg, mb.ID, inbox.ID, 10); err != nil || from != 10 {
			t.Errorf("a claim below the boundary: %d %v", from, err)
		}
		if from, err := s.ClaimRecent(bg, mb.ID, inbox.ID, 1000); err != nil || from != upto {
			t.Errorf("a claim beyond UIDNEXT: %d %v", from, err)
		}
		if from, _ := s.RecentFrom(bg, mb.ID, inbox.ID); from != upto {
			t.Errorf("a claim beyond UIDNEXT moved the boundary to %d, past UIDNEXT %d", from, upto)
		}
		if modseq(t, s, mb.ID) != m {
			t.Error("claiming raised the MODSEQ")
		}
		_, err := s.ClaimRecent(bg, mb.ID, 999999, 5)
		wantCode(t, err, "FolderNotFound")
	})
}
