package imapd

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// TestWatcherOrder feeds a watcher events out of MODSEQ order and with a
// gap, and checks that its view gets the messages in UID order: an early
// event waits for the missing one, and a resync (what the gap timer or an
// EventResync triggers) recovers events that never come.
func TestWatcherOrder(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(t.TempDir(), "blobs")})
		if err != nil {
			t.Fatal(err)
		}
		defer bs.Close()
		watched := mailstore.New(d, bs) // the watcher's store: its hub gets no events here
		writer := mailstore.New(d, bs)  // makes the changes, publishing to its own hub
		mb, err := writer.CreateMailbox(ctx, mailstore.NewMailbox{TenantID: "t1", GUID: "6a4f1c2e-93b5-4d7a-8e21-0f9c3b5d7e11", DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := writer.FolderByPath(ctx, mb.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		ws := newWatchers(ctx, watched, slog.New(slog.NewTextHandler(io.Discard, nil)))
		w, err := ws.acquire(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.release(w)
		v, cv, _, err := w.openView(ctx, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer w.closeView(v, cv)

		add := func() mailstore.Event {
			a, err := writer.Append(ctx, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader("Subject: x\r\n\r\nx\r\n")})
			if err != nil {
				t.Fatal(err)
			}
			return mailstore.Event{MailboxID: mb.ID, Kind: mailstore.EventAppended, FolderID: inbox.ID, ModSeq: a.ModSeq,
				UIDs: []uint32{a.UID}, Flags: [][]string{nil}}
		}
		uids := func() []uint32 {
			v.mu.Lock()
			defer v.mu.Unlock()
			var out []uint32
			for _, m := range v.msgs {
				out = append(out, m.uid)
			}
			return out
		}
		e1, e2 := add(), add()
		w.handle(e2) // early: waits for e1
		if got := uids(); len(got) != 0 {
			t.Fatalf("an early event was applied: %v", got)
		}
		w.handle(e1)
		if got := uids(); len(got) != 2 || got[0] != e1.UIDs[0] || got[1] != e2.UIDs[0] {
			t.Fatalf("after the missing event: %v", got)
		}
		w.handle(e1) // a repeat changes nothing
		if got := uids(); len(got) != 2 {
			t.Fatalf("a repeated event changed the view: %v", got)
		}

		_, e4 := add(), add() // e3 is never delivered
		w.handle(e4)
		if got := uids(); len(got) != 2 {
			t.Fatalf("applied across a gap: %v", got)
		}
		w.resync()
		if got := uids(); len(got) != 4 {
			t.Fatalf("after resync: %v", got)
		}
		if n := len(cv.uids); n != 0 {
			t.Errorf("the session was not told of new messages yet, but it has %d", n)
		}
		if ups, _ := cv.replay(true); len(ups) != 1 || ups[0].kind != updExists || ups[0].n != 4 {
			t.Errorf("the session's updates: %+v, want one EXISTS 4", ups)
		}
		w.mu.Lock()
		applied, pending := w.applied, len(w.pending)
		w.mu.Unlock()
		if applied != e4.ModSeq || pending != 0 {
			t.Errorf("after resync: applied %d (want %d), %d pending", applied, e4.ModSeq, pending)
		}

		// Expunge by event, then a bogus future event: a resync applies it
		// instead of waiting forever.
		gone, err := writer.Expunge(ctx, mb.ID, inbox.ID, nil)
		if err != nil || len(gone) != 0 {
			t.Fatal(gone, err)
		}
		w.handle(mailstore.Event{MailboxID: mb.ID, Kind: mailstore.EventExpunged, FolderID: inbox.ID, ModSeq: e4.ModSeq + 1, UIDs: []uint32{e1.UIDs[0]}})
		w.handle(mailstore.Event{MailboxID: mb.ID, Kind: mailstore.EventFlags, FolderID: inbox.ID, ModSeq: e4.ModSeq + 9,
			UIDs: []uint32{e2.UIDs[0]}, Flags: [][]string{{mailstore.FlagSeen}}})
		w.resync()
		v.mu.Lock()
		got := append([]viewMsg(nil), v.msgs...)
		v.mu.Unlock()
		if len(got) != 3 || got[0].uid != e2.UIDs[0] || !mailstore.HasFlag(got[0].flags, mailstore.FlagSeen) {
			t.Errorf("after expunge and a future event: %+v", got)
		}
	})
}
