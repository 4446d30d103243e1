package mailstore_test

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

func TestMailboxLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		got, err := s.Mailbox(bg, tenantA, strings.ToUpper(guid1))
		if err != nil || got.ID != mb.ID || got.Kind != mailstore.KindPrimary || got.State != mailstore.StateActive {
			t.Fatalf("get mailbox: %+v %v", got, err)
		}
		_, err = s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1})
		wantCode(t, err, "MailboxExists")
		// The same GUID in another tenant is another mailbox (a move within
		// one server).
		other, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: "other-tenant", GUID: guid1, State: mailstore.StateStaging})
		if err != nil || other.ID == mb.ID {
			t.Fatalf("second tenant: %+v %v", other, err)
		}
		_, err = s.Mailbox(bg, tenantA, "00000000-0000-0000-0000-000000000001")
		wantCode(t, err, "MailboxNotFound")
		_, err = s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: "not-a-guid"})
		wantCode(t, err, "InvalidMailboxGuid")

		fs, err := s.ListFolders(bg, mb.ID, true)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range fs {
			names = append(names, f.Path+"="+f.Class+f.SpecialUse)
			if f.UIDNext != 1 || f.UIDValidity == 0 || !f.Subscribed || f.ModSeq != 1 {
				t.Fatalf("default folder %+v", f)
			}
		}
		want := `Archive=IPF.Note\Archive Calendar=IPF.Appointment Contacts=IPF.Contact Deleted Items=IPF.Note\Trash Drafts=IPF.Note\Drafts Inbox=IPF.Note\Inbox Junk Email=IPF.Note\Junk Sent Items=IPF.Note\Sent Tasks=IPF.Task`
		if strings.Join(names, " ") != want {
			t.Fatalf("folders:\n%s\nwant\n%s", strings.Join(names, " "), want)
		}
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		if inbox.SpecialUse != mailstore.UseInbox || mustFolder(t, s, mb.ID, "inbox").ID != inbox.ID {
			t.Fatal("INBOX does not map to the \\Inbox folder")
		}
		if f, err := s.FolderBySpecialUse(bg, mb.ID, mailstore.UseSent); err != nil || f.Name != "Sent Items" {
			t.Fatalf("sent: %+v %v", f, err)
		}

		appendN(t, s, mb.ID, inbox.ID, 3)
		appendN(t, s, mb.ID, inbox.ID, 1, mailstore.FlagSeen)
		st, err := s.Stats(bg, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Total.Messages != 4 || st.Total.Unseen != 3 || st.Total.Bytes == 0 {
			t.Fatalf("stats %+v", st.Total)
		}
		if err := s.SetMailboxState(bg, mb.ID, mailstore.StateRetired); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteMailbox(bg, mb.ID); err != nil {
			t.Fatal(err)
		}
		_, err = s.MailboxByID(bg, mb.ID)
		wantCode(t, err, "MailboxNotFound")
		// The GUID can come back (a move back to this tenant).
		if _, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFolderHierarchy(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		m0 := modseq(t, s, mb.ID)
		c, err := s.CreateFolder(bg, mb.ID, "Projects/2024/Q1", mailstore.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Path != "Projects/2024/Q1" || c.Name != "Q1" || c.Class != mailstore.ClassNote {
			t.Fatalf("created %+v", c)
		}
		m1 := modseq(t, s, mb.ID)
		if m1 != m0+1 {
			t.Fatalf("create raised modseq %d → %d", m0, m1)
		}
		ch, err := s.FolderChanges(bg, mb.ID, m0)
		if err != nil || len(ch) != 3 {
			t.Fatalf("folder changes after create: %d %v", len(ch), err)
		}
		_, err = s.CreateFolder(bg, mb.ID, "projects/2024/q1", mailstore.FolderOptions{})
		wantCode(t, err, "FolderExists")
		for _, bad := range []string{"", "a//b", "/a", "a/", "wild*", "per%cent", "ctl\x01", string([]byte{0xff})} {
			_, err = s.CreateFolder(bg, mb.ID, bad, mailstore.FolderOptions{})
			wantCode(t, err, "InvalidFolderName")
		}
		// A subfolder of INBOX lives under the \Inbox folder.
		sub, err := s.CreateFolder(bg, mb.ID, "INBOX/Receipts", mailstore.FolderOptions{})
		if err != nil || sub.Path != "Inbox/Receipts" {
			t.Fatalf("inbox child: %+v %v", sub, err)
		}
		if mustFolder(t, s, mb.ID, "inbox/receipts").ID != sub.ID {
			t.Fatal("INBOX/... lookup")
		}

		// Rename with a new parent: the subtree follows.
		p := mustFolder(t, s, mb.ID, "Projects/2024")
		q1 := mustFolder(t, s, mb.ID, "Projects/2024/Q1")
		appendN(t, s, mb.ID, q1.ID, 2)
		m2 := modseq(t, s, mb.ID)
		r, err := s.RenameFolder(bg, mb.ID, p.ID, "Archive/Old 2024")
		if err != nil {
			t.Fatal(err)
		}
		if r.StableID != p.StableID || r.Path != "Archive/Old 2024" || r.UIDValidity != p.UIDValidity {
			t.Fatalf("renamed %+v", r)
		}
		moved := mustFolder(t, s, mb.ID, "Archive/Old 2024/Q1")
		if moved.ID != q1.ID {
			t.Fatal("subfolder did not follow")
		}
		ch, _ = s.FolderChanges(bg, mb.ID, m2)
		if len(ch) != 2 || modseq(t, s, mb.ID) != m2+1 {
			t.Fatalf("rename changes %d", len(ch))
		}
		// Items stay put through a rename.
		if snap, err := s.Select(bg, mb.ID, moved.ID); err != nil || len(snap.Messages) != 2 {
			t.Fatalf("items after rename: %v", err)
		}
		// Cycles and collisions.
		_, err = s.RenameFolder(bg, mb.ID, r.ID, "Archive/Old 2024/Q1/Deeper")
		wantCode(t, err, "InvalidFolderName")
		_, err = s.RenameFolder(bg, mb.ID, moved.ID, "Projects")
		wantCode(t, err, "FolderExists")
		// Case-only rename is allowed.
		if f, err := s.RenameFolder(bg, mb.ID, moved.ID, "Archive/Old 2024/q1"); err != nil || f.Name != "q1" {
			t.Fatalf("case rename: %+v %v", f, err)
		}

		// Delete: children first, items leave tombstones.
		err = s.DeleteFolder(bg, mb.ID, r.ID)
		wantCode(t, err, "FolderHasChildren")
		m3 := modseq(t, s, mb.ID)
		if err := s.DeleteFolder(bg, mb.ID, moved.ID); err != nil {
			t.Fatal(err)
		}
		if ts := tombstones(t, s, mb.ID, m3); len(ts) != 2 || ts[0].Moved || ts[0].FolderStableID != moved.StableID {
			t.Fatalf("tombstones %+v", ts)
		}
		ch, _ = s.FolderChanges(bg, mb.ID, m3)
		if len(ch) != 1 || !ch[0].Deleted {
			t.Fatalf("delete change %+v", ch)
		}
		_, err = s.Folder(bg, mb.ID, moved.ID)
		wantCode(t, err, "FolderNotFound")
		// The name is free again, with a new identity.
		again, err := s.CreateFolder(bg, mb.ID, "Archive/Old 2024/Q1", mailstore.FolderOptions{})
		if err != nil || again.StableID == moved.StableID || again.UIDValidity <= moved.UIDValidity {
			t.Fatalf("recreated %+v %v", again, err)
		}
		err = s.DeleteFolder(bg, mb.ID, mustFolder(t, s, mb.ID, "INBOX").ID)
		wantCode(t, err, "CannotDeleteInbox")

		// Subscription is a hierarchy change.
		m4 := modseq(t, s, mb.ID)
		if err := s.SetSubscribed(bg, mb.ID, again.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := s.SetSubscribed(bg, mb.ID, again.ID, false); err != nil {
			t.Fatal(err)
		}
		if modseq(t, s, mb.ID) != m4+1 {
			t.Fatal("a no-op subscribe raised the modseq")
		}
		// Replication creates folders idempotently by origin.
		o1, err := s.CreateFolder(bg, mb.ID, "Src", mailstore.FolderOptions{Origin: "src-folder-1"})
		if err != nil {
			t.Fatal(err)
		}
		o2, err := s.CreateFolder(bg, mb.ID, "Src renamed meanwhile", mailstore.FolderOptions{Origin: "src-folder-1"})
		if err != nil || o2.ID != o1.ID {
			t.Fatalf("origin not idempotent: %+v %v", o2, err)
		}
		if f, err := s.FolderByOrigin(bg, mb.ID, "src-folder-1"); err != nil || f.ID != o1.ID {
			t.Fatalf("by origin %v", err)
		}
		_, err = s.CreateFolder(bg, mb.ID, "Second Sent", mailstore.FolderOptions{SpecialUse: mailstore.UseSent})
		if err == nil {
			t.Fatal("a second \\Sent folder was accepted")
		}
	})
}

func TestRenameInbox(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		inbox := mustFolder(t, s, mb.ID, "INBOX")
		child, err := s.CreateFolder(bg, mb.ID, "INBOX/Child", mailstore.FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		app := appendN(t, s, mb.ID, inbox.ID, 3, mailstore.FlagFlagged)
		m0 := modseq(t, s, mb.ID)
		nf, err := s.RenameFolder(bg, mb.ID, inbox.ID, "Old Inbox")
		if err != nil {
			t.Fatal(err)
		}
		if nf.ID == inbox.ID || nf.Path != "Old Inbox" || nf.SpecialUse != "" {
			t.Fatalf("new folder %+v", nf)
		}
		snap, err := s.Select(bg, mb.ID, nf.ID)
		if err != nil || len(snap.Messages) != 3 {
			t.Fatalf("moved items: %v", err)
		}
		if empty, _ := s.Select(bg, mb.ID, inbox.ID); len(empty.Messages) != 0 {
			t.Fatal("INBOX not empty after rename")
		}
		if mustFolder(t, s, mb.ID, "INBOX/Child").ID != child.ID {
			t.Fatal("INBOX children must stay")
		}
		ch := itemChanges(t, s, mb.ID, m0)
		if len(ch) != 3 || ch[0].ItemID != app[0].ItemID || ch[0].FolderStableID != nf.StableID {
			t.Fatalf("changes %+v", ch)
		}
		if ts := tombstones(t, s, mb.ID, m0); len(ts) != 3 || !ts[0].Moved {
			t.Fatalf("tombstones %+v", ts)
		}
	})
}
