package imapd_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestSessionSurvivesPurgeAndCompaction: an IMAP session keeps its view
// while another session expunges most of the folder and the server then
// purges the tombstones, collects the blobs and compacts the pack files
// under it. With its next command the session is told every EXPUNGE, and
// the remaining messages read back byte-exact (their bytes moved to a new
// pack file meanwhile).
func TestSessionSurvivesPurgeAndCompaction(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		ha, chA := recorder()
		a := e.login(t, addr, ha) // the first login creates the mailbox
		defer a.Close()
		mb := e.mailbox(t, addr)
		inbox := e.folder(t, mb, "INBOX")
		var bodies []string
		var items []mailstore.AppendItem
		for i := 0; i < 60; i++ {
			body := fmt.Sprintf("Subject: m%d\r\n\r\n%s\r\n", i, strings.Repeat(fmt.Sprintf("line %d ", i), 200))
			bodies = append(bodies, body)
			items = append(items, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(body)})
		}
		if _, err := e.Store.AppendMany(bg, mb.ID, items, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		b := e.login(t, addr, nil)
		defer b.Close()
		if _, err := b.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		var del imap.UIDSet
		for i := 1; i <= 60; i++ {
			if i%4 != 0 {
				del.AddNum(imap.UID(i))
			}
		}
		if err := b.Store(del, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		if n, err := e.Store.PurgeTombstones(bg, time.Now().Add(time.Minute)); err != nil || n != 45 {
			t.Fatalf("purged %d tombstones: %v", n, err)
		}
		res, err := e.Store.Blobs().GC(bg, blobstore.GCOptions{Now: time.Now().Add(48 * time.Hour), ReaderGrace: -1})
		if err != nil || res.BlobsDeleted != 45 || res.ContainersCompacted == 0 {
			t.Fatalf("GC %+v: %v", res, err)
		}
		if err := a.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		expunges := 0
		for len(chA) > 0 {
			if u := <-chA; u.kind == "expunge" {
				expunges++
			}
		}
		if expunges != 45 {
			t.Fatalf("the session saw %d expunges, want 45", expunges)
		}
		msgs, err := a.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil || len(msgs) != 15 {
			t.Fatalf("fetched %d messages: %v", len(msgs), err)
		}
		for _, m := range msgs {
			want := bodies[m.UID-1]
			got := m.FindBodySection(&imap.FetchItemBodySection{Peek: true})
			if purgeTestSum(got) != purgeTestSum([]byte(want)) {
				t.Fatalf("UID %d differs after compaction", m.UID)
			}
		}
	})
}

func purgeTestSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
