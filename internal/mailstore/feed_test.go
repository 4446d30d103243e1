package mailstore_test

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestChangeFeedUnderConcurrentWriters keeps a replica of a mailbox up to
// date from ItemChanges and Tombstones while writers append, flag, move and
// expunge concurrently; at the end the replica must equal the store.
func TestChangeFeedUnderConcurrentWriters(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		other, err := s.CreateFolder(bg, mb.ID, "Other", mailstore.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		type state struct {
			folder int64
			uid    uint32
			flags  string
		}
		replica := map[int64]state{}
		var itemCur, tombCur mailstore.Cursor
		pass := func() {
			upto := modseq(t, s, mb.ID)
			for {
				page, next, err := s.ItemChanges(bg, mb.ID, itemCur, upto, 7)
				if err != nil {
					t.Error(err)
					return
				}
				for _, c := range page {
					replica[c.ItemID] = state{c.FolderID, c.UID, strings.Join(c.Flags, " ")}
				}
				itemCur = next
				if len(page) < 7 {
					break
				}
			}
			for {
				page, next, err := s.Tombstones(bg, mb.ID, tombCur, upto, 7)
				if err != nil {
					t.Error(err)
					return
				}
				for _, ts := range page {
					if !ts.Moved {
						delete(replica, ts.ItemID)
					}
				}
				tombCur = next
				if len(page) < 7 {
					break
				}
			}
		}

		var wg sync.WaitGroup
		stop := make(chan struct{})
		consumerDone := make(chan struct{})
		go func() {
			defer close(consumerDone)
			for {
				select {
				case <-stop:
					return
				default:
					pass()
				}
			}
		}()
		writer := func(f func(i int) error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 25; i++ {
					if err := f(i); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		writer(func(i int) error { // appends
			items := make([]mailstore.AppendItem, 4)
			for k := range items {
				items[k] = mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(msg(i*10 + k))}
			}
			_, err := s.AppendMany(bg, mb.ID, items, nil)
			return err
		})
		writer(func(i int) error { // flag changes
			_, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDSet{{Start: uint32(i), Stop: uint32(i + 30)}}, mailstore.FlagsReplace, []string{fmt.Sprintf("k%d", i)})
			return err
		})
		writer(func(i int) error { // moves back and forth
			src, dst := inbox.ID, other.ID
			if i%2 == 1 {
				src, dst = dst, src
			}
			_, err := s.Move(bg, mb.ID, src, mailstore.AllUIDs, dst)
			return err
		})
		writer(func(i int) error { // expunges
			if i%3 != 0 {
				return nil
			}
			if _, err := s.StoreFlags(bg, mb.ID, other.ID, mailstore.AllUIDs, mailstore.FlagsAdd, []string{mailstore.FlagDeleted}); err != nil {
				return err
			}
			_, err := s.Expunge(bg, mb.ID, other.ID, nil)
			return err
		})
		wg.Wait()
		close(stop)
		<-consumerDone
		appendN(t, s, mb.ID, other.ID, 2, "late")
		pass() // the final incremental pass

		actual := map[int64]state{}
		for _, f := range []int64{inbox.ID, other.ID} {
			items, err := s.Fetch(bg, mb.ID, f, mailstore.AllUIDs)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				actual[it.ID] = state{it.FolderID, it.UID, strings.Join(it.Flags, " ")}
			}
		}
		if !reflect.DeepEqual(replica, actual) {
			t.Fatalf("replica (%d items) differs from the store (%d items)", len(replica), len(actual))
		}
		t.Logf("replica matches the store: %d items", len(actual))
	})
}
