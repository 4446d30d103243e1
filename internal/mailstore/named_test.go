package mailstore_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestPutNamedReplaceConflictDelete(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		cal := mustFolder(t, s, mb.ID, "Calendar")
		v1 := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:u1\r\nSUMMARY:Réunion\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		it, old, err := s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: "a.ics", ObjectUID: "u1", Content: strings.NewReader(v1)})
		if err != nil || old != nil {
			t.Fatalf("put: %v %v", err, old)
		}
		if it.SHA256 != sha(v1) || readItem(t, s, mb.ID, it.ID) != v1 {
			t.Fatal("content not byte-exact")
		}
		sync0, err := s.SyncFolder(bg, mb.ID, cal.ID, 0)
		if err != nil || len(sync0.Changed) != 1 || sync0.Token != it.ModSeq {
			t.Fatalf("sync0: %+v %v", sync0, err)
		}

		// The same UID under another name is refused, nothing written.
		_, _, err = s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: "b.ics", ObjectUID: "u1", Content: strings.NewReader(v1)})
		if !errors.Is(err, mailstore.ErrObjectUIDConflict) || !strings.Contains(err.Error(), "a.ics") {
			t.Fatalf("uid conflict: %v", err)
		}
		// A failing check aborts the put.
		stop := errors.New("precondition")
		_, _, err = s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: "a.ics", ObjectUID: "u1", Content: strings.NewReader("x"),
			Check: func(ex *mailstore.Item) error {
				if ex == nil || ex.ID != it.ID {
					t.Errorf("check saw %+v", ex)
				}
				return stop
			}})
		if !errors.Is(err, stop) {
			t.Fatalf("check: %v", err)
		}
		if cur, _ := s.ItemByName(bg, mb.ID, cal.ID, "a.ics"); cur.ID != it.ID {
			t.Fatal("a failed put changed the object")
		}

		// Replacing gives a new item and a tombstone with the name.
		v2 := strings.Replace(v1, "Réunion", "Réunion 2", 1)
		it2, old, err := s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: "a.ics", ObjectUID: "u1", Content: strings.NewReader(v2)})
		if err != nil || old == nil || old.ID != it.ID || it2.ID == it.ID || it2.ModSeq <= it.ModSeq {
			t.Fatalf("replace: %+v %+v %v", it2, old, err)
		}
		_, _, err = s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: "c.ics", ObjectUID: "u3", Content: strings.NewReader(v1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteNamed(bg, mb.ID, cal.ID, "c.ics", nil); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteNamed(bg, mb.ID, cal.ID, "c.ics", nil); !errors.Is(err, mailstore.ErrItemNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		sync1, err := s.SyncFolder(bg, mb.ID, cal.ID, sync0.Token)
		if err != nil {
			t.Fatal(err)
		}
		if len(sync1.Changed) != 1 || sync1.Changed[0].ID != it2.ID || !reflect.DeepEqual(sync1.Removed, []string{"c.ics"}) {
			t.Fatalf("sync1: %+v", sync1)
		}
		tok, err := s.FolderToken(bg, mb.ID, cal.ID)
		if err != nil || tok != sync1.Token {
			t.Fatalf("token %d vs %d (%v)", tok, sync1.Token, err)
		}
		// The deletion tombstone is in the general feed too, with its name.
		ts, _, err := s.Tombstones(bg, mb.ID, mailstore.Cursor{}, 0, 0)
		if err != nil || len(ts) != 2 || ts[0].Name != "a.ics" || ts[1].Name != "c.ics" {
			t.Fatalf("tombstones: %+v %v", ts, err)
		}
		cs, _, err := s.ItemChanges(bg, mb.ID, mailstore.Cursor{}, 0, 0)
		if err != nil || len(cs) != 1 || cs[0].Name != "a.ics" || cs[0].ObjectUID != "u1" {
			t.Fatalf("changes: %+v %v", cs, err)
		}

		// Purged tombstones make older tokens expire.
		if _, err := s.PurgeMailboxTombstones(bg, mb.ID, sync1.Token); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SyncFolder(bg, mb.ID, cal.ID, sync0.Token); !errors.Is(err, mailstore.ErrSyncTokenExpired) {
			t.Fatalf("expired token: %v", err)
		}
		if _, err := s.SyncFolder(bg, mb.ID, cal.ID, sync1.Token+100); !errors.Is(err, mailstore.ErrSyncTokenExpired) {
			t.Fatalf("future token: %v", err)
		}
		if s2, err := s.SyncFolder(bg, mb.ID, cal.ID, sync1.Token); err != nil || len(s2.Changed)+len(s2.Removed) != 0 {
			t.Fatalf("no-change sync: %+v %v", s2, err)
		}

		// Bad names are refused.
		for _, n := range []string{"a/b.ics", "..", "x\x00y"} {
			_, _, err := s.PutNamed(bg, mb.ID, mailstore.NamedPut{FolderID: cal.ID, Name: n, ObjectUID: "u9", Content: strings.NewReader(v1)})
			if !errors.Is(err, mailstore.ErrInvalidObjectName) {
				t.Fatalf("name %q: %v", n, err)
			}
		}
	})
}

func TestFolderProps(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		f, err := s.CreateFolder(bg, mb.ID, "Work", mailstore.FolderOptions{Class: mailstore.ClassAppointment,
			Props: map[string]string{"displayname": "Arbeit – 日本"}})
		if err != nil {
			t.Fatal(err)
		}
		if f.Props["displayname"] != "Arbeit – 日本" {
			t.Fatalf("props %v", f.Props)
		}
		before := f.ModSeq
		f, err = s.SetFolderProps(bg, mb.ID, f.ID, map[string]string{"color": "#ff0000", "displayname": ""})
		if err != nil || f.ModSeq <= before || !reflect.DeepEqual(f.Props, map[string]string{"color": "#ff0000"}) {
			t.Fatalf("set: %+v %v", f, err)
		}
		ch, err := s.FolderChanges(bg, mb.ID, before)
		if err != nil || len(ch) != 1 || ch[0].Props["color"] != "#ff0000" {
			t.Fatalf("changes: %+v %v", ch, err)
		}
		// Setting the same values changes nothing.
		g, err := s.SetFolderProps(bg, mb.ID, f.ID, map[string]string{"color": "#ff0000"})
		if err != nil || g.ModSeq != f.ModSeq {
			t.Fatalf("no-op set: %+v %v", g, err)
		}
	})
}
