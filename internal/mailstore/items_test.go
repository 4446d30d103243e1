package mailstore_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// step checks that an operation raised the MODSEQ by exactly one and
// returns the new value.
func step(t *testing.T, s *mailstore.Store, mb int64, before int64, what string) int64 {
	t.Helper()
	after := modseq(t, s, mb)
	if after != before+1 {
		t.Fatalf("%s: modseq %d → %d, want +1", what, before, after)
	}
	return after
}

func TestItemMutationsAndChangeFeed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		other, err := s.CreateFolder(bg, mb.ID, "Other", mailstore.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		m := modseq(t, s, mb.ID)

		// Append.
		raw := "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nFrom: A <a@x.test>\n\nbare LF\rCR\x00NUL\n"
		a, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(raw), Flags: []string{`\seen`, "Work", "work", `\Recent`}})
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "append")
		if a.UID != 1 || a.ModSeq != m || a.UIDValidity != inbox.UIDValidity || a.Size != int64(len(raw)) {
			t.Fatalf("appended %+v", a)
		}
		if got := readItem(t, s, mb.ID, a.ItemID); got != raw {
			t.Fatalf("content not byte-exact: %q", got)
		}
		it, err := s.Item(bg, mb.ID, a.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		if it.Subject != "Grüße" || it.From != "A <a@x.test>" || !reflect.DeepEqual(it.Flags, []string{`\Seen`, "Work"}) {
			t.Fatalf("item %+v", it)
		}
		more := appendN(t, s, mb.ID, inbox.ID, 3)
		m = step(t, s, mb.ID, m, "append batch")
		if more[0].UID != 2 || more[2].UID != 4 {
			t.Fatalf("uids %+v", more)
		}
		ch := itemChanges(t, s, mb.ID, m-2)
		if len(ch) != 4 || ch[0].ItemID != a.ItemID || ch[0].FolderStableID != inbox.StableID {
			t.Fatalf("changes after appends: %+v", ch)
		}

		// Flags: only items whose flags change get the new MODSEQ.
		res, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDSet{{Start: 1, Stop: 2}}, mailstore.FlagsAdd, []string{mailstore.FlagSeen})
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "flags")
		if len(res) != 2 || res[0].Changed || !res[1].Changed || res[1].ModSeq != m {
			t.Fatalf("flag results %+v", res)
		}
		ch = itemChanges(t, s, mb.ID, m-1)
		if len(ch) != 1 || ch[0].UID != 2 || !reflect.DeepEqual(ch[0].Flags, []string{`\Seen`}) {
			t.Fatalf("changes after flags: %+v", ch)
		}
		// A STORE that changes nothing does not raise the MODSEQ.
		if _, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDs(1), mailstore.FlagsAdd, []string{`\Seen`}); err != nil {
			t.Fatal(err)
		}
		if modseq(t, s, mb.ID) != m {
			t.Fatal("no-op STORE raised the modseq")
		}
		if _, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDs(1), mailstore.FlagsAdd, []string{`\Bogus`}); !errors.Is(err, mailstore.ErrInvalidFlag) {
			t.Fatalf("want InvalidFlag, got %v", err)
		}

		// Copy: new items, same blobs.
		cp, err := s.Copy(bg, mb.ID, inbox.ID, mailstore.UIDs(1, 3), other.ID)
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "copy")
		if !reflect.DeepEqual(cp.SourceUIDs, []uint32{1, 3}) || !reflect.DeepEqual(cp.DestUIDs, []uint32{1, 2}) || cp.UIDValidity != other.UIDValidity {
			t.Fatalf("copy %+v", cp)
		}
		if cp.ItemIDs[0] == a.ItemID || readItem(t, s, mb.ID, cp.ItemIDs[0]) != raw {
			t.Fatal("copy must be a new item with the same bytes")
		}
		if ch = itemChanges(t, s, mb.ID, m-1); len(ch) != 2 || ch[0].FolderStableID != other.StableID {
			t.Fatalf("changes after copy %+v", ch)
		}

		// Move: same item ids, new UIDs, moved tombstones.
		mv, err := s.Move(bg, mb.ID, inbox.ID, mailstore.UIDs(2, 4), other.ID)
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "move")
		if !reflect.DeepEqual(mv.DestUIDs, []uint32{3, 4}) || mv.ItemIDs[0] != more[0].ItemID || mv.ItemIDs[1] != more[2].ItemID {
			t.Fatalf("move %+v", mv)
		}
		ch = itemChanges(t, s, mb.ID, m-1)
		if len(ch) != 2 || ch[0].ItemID != more[0].ItemID || ch[0].UID != 3 || ch[0].FolderStableID != other.StableID {
			t.Fatalf("changes after move %+v", ch)
		}
		ts := tombstones(t, s, mb.ID, m-1)
		if len(ts) != 2 || !ts[0].Moved || ts[0].UID != 2 || ts[0].ItemID != more[0].ItemID || ts[0].FolderStableID != inbox.StableID {
			t.Fatalf("tombstones after move %+v", ts)
		}

		// Expunge: only \Deleted, only within the UID set when given.
		if _, err := s.StoreFlags(bg, mb.ID, other.ID, mailstore.AllUIDs, mailstore.FlagsAdd, []string{mailstore.FlagDeleted}); err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "flag deleted")
		gone, err := s.Expunge(bg, mb.ID, other.ID, mailstore.UIDs(1, 3))
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "uid expunge")
		if !reflect.DeepEqual(gone, []uint32{1, 3}) {
			t.Fatalf("expunged %v", gone)
		}
		ts = tombstones(t, s, mb.ID, m-1)
		if len(ts) != 2 || ts[0].Moved || ts[0].ModSeq != m {
			t.Fatalf("tombstones after expunge %+v", ts)
		}
		gone, err = s.Expunge(bg, mb.ID, other.ID, nil)
		if err != nil || !reflect.DeepEqual(gone, []uint32{2, 4}) {
			t.Fatalf("expunge all: %v %v", gone, err)
		}
		m = step(t, s, mb.ID, m, "expunge")
		if gone, _ = s.Expunge(bg, mb.ID, other.ID, nil); len(gone) != 0 || modseq(t, s, mb.ID) != m {
			t.Fatal("empty expunge changed something")
		}
		// Expunged items are not in ItemChanges any more.
		for _, c := range itemChanges(t, s, mb.ID, 0) {
			if c.FolderID == other.ID {
				t.Fatalf("expunged item in changes: %+v", c)
			}
		}

		// Fetch and Select.
		items, err := s.Fetch(bg, mb.ID, inbox.ID, mailstore.AllUIDs)
		if err != nil || len(items) != 2 || items[0].UID != 1 || items[1].UID != 3 {
			t.Fatalf("fetch %+v %v", items, err)
		}
		snap, err := s.Select(bg, mb.ID, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap.Messages) != 2 || snap.Unseen != 1 || snap.FirstUnseen != 2 || snap.Folder.UIDNext != 5 || snap.HighestModSeq != m {
			t.Fatalf("snapshot %+v", snap)
		}
		if b, err := s.OpenUID(bg, mb.ID, inbox.ID, 2); err == nil {
			b.Close()
			t.Fatal("opened a moved-away UID")
		} else {
			wantCode(t, err, "ItemNotFound")
		}
		// Folder changes did not move through item operations.
		if fc, _ := s.FolderChanges(bg, mb.ID, m-8); len(fc) != 0 {
			t.Fatalf("item operations changed folders: %+v", fc)
		}
	})
}

func TestIdempotentBatchAppend(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		if _, err := s.DB().W.Exec(`CREATE TABLE test_watermark (v INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		hook := func(v int) func(tx *db.Tx) error {
			return func(tx *db.Tx) error {
				_, err := tx.ExecContext(bg, `INSERT INTO test_watermark (v) VALUES (?)`, v)
				return err
			}
		}
		batch := []mailstore.AppendItem{
			{FolderID: inbox.ID, Content: strings.NewReader(msg(1)), Origin: "src-1"},
			{FolderID: inbox.ID, Content: strings.NewReader(msg(2)), Origin: "src-2"},
			{FolderID: inbox.ID, Content: strings.NewReader(msg(1)), Origin: "src-1"}, // duplicate inside the batch
		}
		first, err := s.AppendMany(bg, mb.ID, batch, hook(1))
		if err != nil {
			t.Fatal(err)
		}
		if first[2].ItemID != first[0].ItemID || !first[2].Existing || first[0].Existing {
			t.Fatalf("in-batch duplicate %+v", first)
		}
		m := modseq(t, s, mb.ID)
		// Replaying the batch (a resumed sync) adds nothing, but the hook
		// still runs and the MODSEQ does not move.
		again, err := s.AppendMany(bg, mb.ID, []mailstore.AppendItem{
			{FolderID: inbox.ID, Content: strings.NewReader(msg(1)), Origin: "src-1"},
			{FolderID: inbox.ID, Content: strings.NewReader(msg(2)), Origin: "src-2"},
		}, hook(2))
		if err != nil {
			t.Fatal(err)
		}
		if !again[0].Existing || again[0].ItemID != first[0].ItemID || again[1].ItemID != first[1].ItemID {
			t.Fatalf("replay %+v", again)
		}
		if modseq(t, s, mb.ID) != m {
			t.Fatal("a replay raised the modseq")
		}
		var n, wm int
		s.DB().Read().QueryRowContext(bg, `SELECT COUNT(*) FROM items WHERE mailbox_id = ?`, mb.ID).Scan(&n)
		s.DB().Read().QueryRowContext(bg, `SELECT MAX(v) FROM test_watermark`).Scan(&wm)
		if n != 2 || wm != 2 {
			t.Fatalf("items %d watermark %d", n, wm)
		}
		// A failing hook rolls everything back.
		boom := errors.New("watermark write failed")
		_, err = s.AppendMany(bg, mb.ID, []mailstore.AppendItem{{FolderID: inbox.ID, Content: strings.NewReader(msg(3)), Origin: "src-3"}},
			func(tx *db.Tx) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("hook error: %v", err)
		}
		if got, _ := s.ItemsByOrigin(bg, mb.ID, []string{"src-1", "src-3"}); len(got) != 1 || got["src-1"].ID != first[0].ItemID {
			t.Fatalf("by origin %+v", got)
		}
		// Content the store holds can be referenced by hash (no bytes sent).
		ref, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, SHA256: first[1].SHA256, Origin: "copy-of-2"})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Size != first[1].Size || readItem(t, s, mb.ID, ref.ItemID) != msg(2) {
			t.Fatal("append by hash")
		}
		it, _ := s.Item(bg, mb.ID, ref.ItemID)
		if it.Subject != "message 2" {
			t.Fatalf("header of hash-referenced item: %+v", it)
		}
		_, err = s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, SHA256: strings.Repeat("ab", 32)})
		wantCode(t, err, "ContentNotHeld")
		_, err = s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, SHA256: strings.Repeat("ab", 32), Received: true})
		wantCode(t, err, "BlobMissing")
		// Size limit.
		s.MaxItemSize = 10
		_, err = s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(msg(9))})
		if e := errs.As(err); e == nil || e.Code != "ItemTooLarge" || e.Kind != errs.TooLarge {
			t.Fatalf("want ItemTooLarge, got %v", err)
		}
		s.MaxItemSize = mailstore.DefaultMaxItemSize
		_, err = s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: 999999, Content: strings.NewReader(msg(9))})
		wantCode(t, err, "FolderNotFound")
	})
}

func TestLockedMailbox(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		app := appendN(t, s, mb.ID, inbox.ID, 2)
		if err := s.SetMailboxState(bg, mb.ID, mailstore.StateLocked); err != nil {
			t.Fatal(err)
		}
		m := modseq(t, s, mb.ID)
		ops := map[string]func() error{
			"append": func() error {
				_, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(msg(5))})
				return err
			},
			"flags": func() error {
				_, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.AllUIDs, mailstore.FlagsAdd, []string{`\Seen`})
				return err
			},
			"copy": func() error {
				_, err := s.Copy(bg, mb.ID, inbox.ID, mailstore.AllUIDs, inbox.ID)
				return err
			},
			"move": func() error {
				_, err := s.Move(bg, mb.ID, inbox.ID, mailstore.AllUIDs, inbox.ID)
				return err
			},
			"expunge": func() error { _, err := s.Expunge(bg, mb.ID, inbox.ID, nil); return err },
			"create":  func() error { _, err := s.CreateFolder(bg, mb.ID, "New", mailstore.FolderOptions{}); return err },
			"rename":  func() error { _, err := s.RenameFolder(bg, mb.ID, inbox.ID, "X"); return err },
			"delete": func() error {
				return s.DeleteFolder(bg, mb.ID, mustFolder(t, s, mb.ID, "Tasks").ID)
			},
			"subscribe": func() error { return s.SetSubscribed(bg, mb.ID, inbox.ID, false) },
			"update": func() error {
				_, err := s.UpdateItems(bg, mb.ID, []mailstore.ItemUpdate{{ItemID: app[0].ItemID, Delete: true}}, nil)
				return err
			},
		}
		for name, op := range ops {
			err := op()
			if e := errs.As(err); e == nil || e.Code != "MailboxLocked" || e.Kind != errs.Conflict || e.Hint == "" {
				t.Fatalf("%s on a locked mailbox: %v", name, err)
			}
		}
		if modseq(t, s, mb.ID) != m {
			t.Fatal("refused mutations moved the modseq")
		}
		// Reads (replication's final sync) still work.
		if ch := itemChanges(t, s, mb.ID, 0); len(ch) != 2 {
			t.Fatalf("reads on a locked mailbox: %d", len(ch))
		}
		if readItem(t, s, mb.ID, app[0].ItemID) != msg(0) {
			t.Fatal("content read on a locked mailbox")
		}
		// Staging (a move's target) is writable; retired is not.
		if err := s.SetMailboxState(bg, mb.ID, mailstore.StateStaging); err != nil {
			t.Fatal(err)
		}
		if err := ops["append"](); err != nil {
			t.Fatal(err)
		}
		s.SetMailboxState(bg, mb.ID, mailstore.StateRetired)
		wantCode(t, ops["append"](), "MailboxRetired")
	})
}

func TestUpdateItemsByID(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		arch := mustFolder(t, s, mb.ID, "Archive")
		app := appendN(t, s, mb.ID, inbox.ID, 4)
		m := modseq(t, s, mb.ID)
		res, err := s.UpdateItems(bg, mb.ID, []mailstore.ItemUpdate{
			{ItemID: app[0].ItemID, SetFlags: true, Flags: []string{`\Seen`, "$Label1"}},
			{ItemID: app[1].ItemID, MoveTo: arch.ID, SetFlags: true, Flags: []string{`\Flagged`}},
			{ItemID: app[2].ItemID, Delete: true},
			{ItemID: app[3].ItemID, MoveTo: inbox.ID}, // already there: no change
			{ItemID: 987654321, Delete: true},         // gone already
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		m = step(t, s, mb.ID, m, "update items")
		if res.Changed != 3 || len(res.Missing) != 1 {
			t.Fatalf("result %+v", res)
		}
		ch := itemChanges(t, s, mb.ID, m-1)
		if len(ch) != 2 || ch[0].ItemID != app[0].ItemID || ch[1].FolderID != arch.ID || !reflect.DeepEqual(ch[1].Flags, []string{`\Flagged`}) {
			t.Fatalf("changes %+v", ch)
		}
		ts := tombstones(t, s, mb.ID, m-1)
		if len(ts) != 2 {
			t.Fatalf("tombstones %+v", ts)
		}
		// A replay changes nothing.
		res, err = s.UpdateItems(bg, mb.ID, []mailstore.ItemUpdate{
			{ItemID: app[0].ItemID, SetFlags: true, Flags: []string{"$label1", `\SEEN`}},
			{ItemID: app[2].ItemID, Delete: true},
		}, nil)
		if err != nil || res.Changed != 0 || len(res.Missing) != 1 || modseq(t, s, mb.ID) != m {
			t.Fatalf("replay: %+v %v", res, err)
		}
	})
}

func TestChangeCursorResumes(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		appendN(t, s, mb.ID, inbox.ID, 7)
		upto := modseq(t, s, mb.ID)
		var seen []int64
		cur := mailstore.Cursor{}
		for i := 0; ; i++ {
			page, next, err := s.ItemChanges(bg, mb.ID, cur, upto, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range page {
				seen = append(seen, c.ItemID)
			}
			if i == 1 {
				// Items change while a pass runs: they leave this pass's
				// range and come back in the next.
				if _, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDs(1, 7), mailstore.FlagsAdd, []string{`\Seen`}); err != nil {
					t.Fatal(err)
				}
			}
			if len(page) == 0 {
				break
			}
			cur = next // a consumer persists this and may restart here
		}
		if len(seen) != 6 { // 7 minus UID 7, which moved past upto
			t.Fatalf("first pass saw %d", len(seen))
		}
		upto2 := modseq(t, s, mb.ID)
		page, _, err := s.ItemChanges(bg, mb.ID, cur, upto2, 100)
		if err != nil || len(page) != 2 || page[0].UID != 1 || page[1].UID != 7 {
			t.Fatalf("second pass %+v %v", page, err)
		}
		// No-op at the current MODSEQ.
		if page, _, _ := s.ItemChanges(bg, mb.ID, mailstore.Cursor{ModSeq: upto2}, upto2, 100); len(page) != 0 {
			t.Fatal("changes at the current modseq")
		}
	})
}

func TestHubEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		ch, cancel := s.Subscribe(mb.ID)
		defer cancel()
		appendN(t, s, mb.ID, inbox.ID, 2, `\Seen`)
		ev := <-ch
		if ev.Kind != mailstore.EventAppended || ev.FolderID != inbox.ID || !reflect.DeepEqual(ev.UIDs, []uint32{1, 2}) || ev.Flags[0][0] != `\Seen` {
			t.Fatalf("event %+v", ev)
		}
		s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDs(2), mailstore.FlagsReplace, []string{`\Deleted`})
		if ev = <-ch; ev.Kind != mailstore.EventFlags || ev.UIDs[0] != 2 {
			t.Fatalf("event %+v", ev)
		}
		s.Expunge(bg, mb.ID, inbox.ID, nil)
		if ev = <-ch; ev.Kind != mailstore.EventExpunged || ev.UIDs[0] != 2 {
			t.Fatalf("event %+v", ev)
		}
		// A refused mutation publishes nothing.
		s.SetMailboxState(bg, mb.ID, mailstore.StateLocked)
		if ev = <-ch; ev.Kind != mailstore.EventMailbox {
			t.Fatalf("event %+v", ev)
		}
		s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.AllUIDs, mailstore.FlagsAdd, []string{`\Flagged`})
		s.SetMailboxState(bg, mb.ID, mailstore.StateActive)
		if ev = <-ch; ev.Kind != mailstore.EventMailbox {
			t.Fatalf("event after refused mutation %+v", ev)
		}
		// A subscriber that never reads does not block writers and gets a
		// resync.
		for i := 0; i < 300; i++ {
			if _, err := s.StoreFlags(bg, mb.ID, inbox.ID, mailstore.UIDs(1), mailstore.FlagsReplace, []string{[]string{"a", "b"}[i%2]}); err != nil {
				t.Fatal(err)
			}
		}
		if ev = <-ch; ev.Kind != mailstore.EventResync {
			t.Fatalf("want resync, got %+v", ev)
		}
	})
}

func TestCrashBetweenFsyncAndCommit(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, e *blobtest.Env) {
		d := e.DB
		bs := e.Open(t)
		s := mailstore.New(d, bs)
		mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
		if err != nil {
			t.Fatal(err)
		}
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		m := modseq(t, s, mb.ID)
		// Write and fsync the bytes, then "crash" before the transaction.
		b := bs.NewBatch()
		ref, err := b.Add(strings.NewReader(msg(1)))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		b.Close()
		bs.Close()
		// Reopen: no item, no error, nothing visible.
		bs2 := e.Open(t)
		s2 := mailstore.New(d, bs2)
		if snap, err := s2.Select(bg, mb.ID, inbox.ID); err != nil || len(snap.Messages) != 0 {
			t.Fatalf("after crash: %v", err)
		}
		if ch := itemChanges(t, s2, mb.ID, 0); len(ch) != 0 || modseq(t, s2, mb.ID) != m {
			t.Fatal("uncommitted batch is visible")
		}
		if has, _ := bs2.Has(bg, d.Read(), ref.SHA256); has {
			t.Fatal("uncommitted blob is recorded")
		}
		// The same message appended again works and is readable.
		a, err := s2.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader(msg(1))})
		if err != nil || a.SHA256 != ref.SHA256 || readItem(t, s2, mb.ID, a.ItemID) != msg(1) {
			t.Fatalf("append after crash: %v", err)
		}
	})
}

func TestParseHeaderTolerant(t *testing.T) {
	cases := []struct {
		raw  string
		want mailstore.HeaderFields
	}{
		{"Subject: plain\r\nMessage-ID: junk <a@b> trailing\r\n\r\nSubject: body\r\n", mailstore.HeaderFields{Subject: "plain", MessageID: "<a@b>"}},
		{"From MAILER-DAEMON Thu Apr 29 23:34:45 2015\nSubject: after mbox line\n\n", mailstore.HeaderFields{Subject: "after mbox line"}},
		{"Subject: folded\r\n  over lines\r\n", mailstore.HeaderFields{Subject: "folded  over lines"}},
		{"Subject: cr only\rFrom: x\r\rbody", mailstore.HeaderFields{Subject: "cr only", From: "x"}},
		{"  continuation first\nSubject: s\n", mailstore.HeaderFields{Subject: "s"}},
		{"Subject: caf\xe9 \x00nul\n", mailstore.HeaderFields{Subject: "café  nul"}},
		{"Subject: =?x-unknown?q?abc?=\n", mailstore.HeaderFields{Subject: "=?x-unknown?q?abc?="}},
		{"Subject: =?iso-2022-jp?B?GyRCJDMkcyRLJEEkTxsoQg==?=\n", mailstore.HeaderFields{Subject: "こんにちは"}},
		{"no colon line\nDate: Tue, 1 Jul 2003 10:52:37 +0200 (CEST)\n", mailstore.HeaderFields{Date: time.Date(2003, 7, 1, 10, 52, 37, 0, time.FixedZone("", 7200))}},
		{"Date: garbage\n", mailstore.HeaderFields{}},
		{"", mailstore.HeaderFields{}},
	}
	for _, c := range cases {
		got := mailstore.ParseHeader([]byte(c.raw))
		if got.Subject != c.want.Subject || got.MessageID != c.want.MessageID || got.From != c.want.From || !got.Date.Equal(c.want.Date) {
			t.Errorf("ParseHeader(%q) = %+v, want %+v", c.raw, got, c.want)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("Subject: =?utf-8?b?w6k=?=\r\nFrom: a\r\n\r\n"))
	f.Add([]byte("\x00\r\r\n:\n :x\nDate: 99 Foo 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := mailstore.ParseHeader(b)
		for _, s := range []string{h.Subject, h.From, h.MessageID} {
			if strings.ContainsRune(s, 0) || len(s) > 1000 || !utf8Valid(s) {
				t.Fatalf("unclean field %q", s)
			}
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// TestMoveSetsSaveDate: an item moved into another folder gets a new save
// date (Item.CreatedAt, IMAP SAVEDATE), as a copy does; one left in place
// keeps its own.
func TestMoveSetsSaveDate(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		other, err := s.CreateFolder(bg, mb.ID, "Other", mailstore.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := 0; i < 2; i++ {
			a, err := s.Append(bg, mb.ID, mailstore.AppendItem{FolderID: inbox.ID, Content: strings.NewReader("Subject: s\r\n\r\nx\r\n")})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ItemID)
		}
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := s.DB().Write(bg, func(tx *db.Tx) error {
			_, err := tx.ExecContext(bg, `UPDATE items SET created_at = ? WHERE mailbox_id = ?`, db.Millis(old), mb.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		before := time.Now().Add(-time.Minute)
		if _, err := s.Move(bg, mb.ID, inbox.ID, mailstore.UIDs(1), other.ID); err != nil {
			t.Fatal(err)
		}
		moved, err := s.Item(bg, mb.ID, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		stayed, err := s.Item(bg, mb.ID, ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if moved.CreatedAt.Before(before) {
			t.Errorf("moved item's save date %v, want now", moved.CreatedAt)
		}
		if !stayed.CreatedAt.Equal(old) {
			t.Errorf("item left in place: save date %v, want %v", stayed.CreatedAt, old)
		}
	})
}
