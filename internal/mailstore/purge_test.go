package mailstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

func deleteItems(t *testing.T, s *mailstore.Store, mb int64, items []mailstore.Appended) {
	t.Helper()
	var us []mailstore.ItemUpdate
	for _, a := range items {
		us = append(us, mailstore.ItemUpdate{ItemID: a.ItemID, Delete: true})
	}
	if _, err := s.UpdateItems(bg, mb, us, nil); err != nil {
		t.Fatal(err)
	}
}

// TestTombstonePurge: tombstones past the retention are purged, a feed
// asked for removals older than the purge horizon answers ResyncRequired,
// and a feed at or after the horizon goes on normally.
func TestTombstonePurge(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		items := appendN(t, s, mb.ID, inbox.ID, 10)
		deleteItems(t, s, mb.ID, items[:5])
		horizon := modseq(t, s, mb.ID)
		ts, _, err := s.Tombstones(bg, mb.ID, mailstore.Cursor{}, 0, 0)
		if err != nil || len(ts) != 5 {
			t.Fatalf("tombstones before purge: %d %v", len(ts), err)
		}
		// Tombstones younger than the cutoff stay.
		if n, err := s.PurgeTombstones(bg, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("young tombstones purged: %d %v", n, err)
		}
		n, err := s.PurgeTombstones(bg, time.Now().Add(time.Minute))
		if err != nil || n != 5 {
			t.Fatalf("purged %d tombstones (%v), want 5", n, err)
		}
		if h, err := s.PurgedUpTo(bg, s.DB().Read(), mb.ID); err != nil || h != horizon {
			t.Fatalf("horizon %d (%v), want %d", h, err, horizon)
		}
		for _, c := range []mailstore.Cursor{{}, {ModSeq: horizon - 1}, {ModSeq: horizon, ID: 1}} {
			_, _, err = s.Tombstones(bg, mb.ID, c, 0, 0)
			if !errors.Is(err, mailstore.ErrResyncRequired) {
				t.Fatalf("cursor %+v behind the horizon: %v", c, err)
			}
			wantCode(t, err, "ResyncRequired")
		}
		// From the horizon on, the feed works and sees later removals.
		deleteItems(t, s, mb.ID, items[5:7])
		ts, _, err = s.Tombstones(bg, mb.ID, mailstore.Cursor{ModSeq: horizon}, 0, 0)
		if err != nil || len(ts) != 2 {
			t.Fatalf("tombstones after the horizon: %d %v", len(ts), err)
		}
		// Item changes never need tombstones.
		if ch := itemChanges(t, s, mb.ID, 0); len(ch) != 3 {
			t.Fatalf("%d live items in the feed, want 3", len(ch))
		}
	})
}

// TestDeletedMailSpaceComesBack: on every backend, the bytes of expunged
// mail leave the disk, the bucket or the database after a GC round (the
// mailstore is the blobs' referrer), and the remaining mail is intact.
func TestDeletedMailSpaceComesBack(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{SpillSize: 32 << 10, PackAge: time.Minute,
		S3: &blobstore.S3Options{ObjectSize: 256 << 10}}, func(t *testing.T, e *blobtest.Env) {
		bs := e.Open(t)
		s := mailstore.New(e.DB, bs)
		mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		var items []mailstore.AppendItem
		var bodies []string
		for i := 0; i < 300; i++ {
			body := msg(i) + strings.Repeat("line of text\r\n", 100+i%7*40)
			if i%50 == 0 {
				body += strings.Repeat("attachment data\r\n", 5000) // large items
			}
			bodies = append(bodies, body)
			items = append(items, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(body)})
		}
		out, err := s.AppendMany(bg, mb.ID, items, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := e.StoredBytes(t)
		var del []mailstore.Appended
		var keep int64
		for i, a := range out {
			if i%10 != 3 {
				del = append(del, a)
			} else {
				keep += a.Size
			}
		}
		deleteItems(t, s, mb.ID, del)
		res, err := bs.GC(bg, blobstore.GCOptions{Now: time.Now().Add(2 * time.Hour), ReaderGrace: -1})
		if err != nil || len(res.Errors) > 0 {
			t.Fatalf("GC: %+v %v", res, err)
		}
		after := e.StoredBytes(t)
		t.Logf("%s: %d bytes stored, %d after deleting 90%% (%d live bytes): %+v", e.Name, before, after, keep, res)
		if res.BlobsDeleted != int64(len(del)) || after > keep+keep/2+64<<10 {
			t.Fatalf("space of deleted mail not reclaimed: %d → %d bytes for %d live", before, after, keep)
		}
		for i, a := range out {
			if i%10 == 3 && readItem(t, s, mb.ID, a.ItemID) != bodies[i] {
				t.Fatalf("item %d differs after GC", i)
			}
		}
	})
}
