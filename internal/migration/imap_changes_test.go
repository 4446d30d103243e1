package migration_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// appendMsg appends a new message through an IMAP session.
func appendMsg(t *testing.T, c *imapclient.Client, folder, subject string, flags []imap.Flag) {
	t.Helper()
	msg := scenario.Message("someone@legacy.example", "user@legacy.example", subject, "appended over IMAP "+time.Now().String())
	cmd := c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: flags, Time: time.Now().Truncate(time.Second)})
	if _, err := cmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("append to %s: %v", folder, err)
	}
}

// withMessageID returns the UIDs of the messages of the selected folder
// that have a Message-ID, at most n.
func withMessageID(t *testing.T, c *imapclient.Client, n int) []imap.UID {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []imap.UID
	for _, m := range msgs {
		for _, b := range m.BodySection {
			if mailstore.ParseHeader(b.Bytes).MessageID != "" && len(out) < n {
				out = append(out, m.UID)
			}
		}
	}
	if len(out) < n {
		t.Fatalf("only %d messages with a Message-ID", len(out))
	}
	return out
}

// changeDovecot changes alice's mailbox through Dovecot in every way an
// incremental sync must carry: 3 APPENDs to INBOX and 2 to a new folder,
// flags set and cleared, 3 MOVEs from INBOX to Archive (messages with a
// Message-ID), 2 expunges, a rename (Projects/Alpha → Projects/Beta), a
// deleted corpus folder, the deleted Junk folder, and a new UIDVALIDITY for another corpus folder
// (doveadm mailbox update). It returns the target path of the renumbered
// folder and how many of its copied items have no Message-ID.
func changeDovecot(t *testing.T, s *scenario.Server, src *imapSource, alice *directory.Recipient) (string, int) {
	t.Helper()
	c := src.login(t, "alice")
	for i := 0; i < 3; i++ {
		appendMsg(t, c, "INBOX", "incremental inbox "+string(rune('a'+i)), nil)
	}
	if err := c.Create("Fresh", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	appendMsg(t, c, "Fresh", "fresh one", []imap.Flag{imap.FlagSeen, "$Label2"})
	appendMsg(t, c, "Fresh", "fresh two", nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids := withMessageID(t, c, 9)
	store := func(set []imap.UID, op imap.StoreFlagsOp, flags ...imap.Flag) {
		if err := c.Store(imap.UIDSetNum(set...), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	store(uids[0:2], imap.StoreFlagsAdd, imap.FlagFlagged, "$Important")
	store(uids[2:3], imap.StoreFlagsDel, imap.FlagSeen)
	if _, err := c.Move(imap.UIDSetNum(uids[3:6]...), "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	store(uids[6:8], imap.StoreFlagsAdd, imap.FlagDeleted)
	if err := c.UIDExpunge(imap.UIDSetNum(uids[6:8]...)).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("Projects/Alpha", "Projects/Beta", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "Corpus/*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var corpus []string
	for _, l := range list {
		corpus = append(corpus, l.Mailbox)
	}
	sort.Strings(corpus)
	if len(corpus) < 3 {
		t.Fatalf("corpus folders %v", corpus)
	}
	if err := c.Delete(corpus[0]).Wait(); err != nil {
		t.Fatal(err)
	}
	// A deleted special folder: its target (Junk Email) is the user's own
	// and stays, without the copied items.
	if err := c.Delete("Junk").Wait(); err != nil {
		t.Fatal(err)
	}
	renumbered := corpus[1]
	st, err := c.Status(renumbered, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	if out, err := src.Doveadm(context.Background(), "alice", "mailbox", "update", "--uid-validity", "77"+strings.Repeat("0", 6), renumbered); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c = src.login(t, "alice")
	st2, err := c.Status(renumbered, &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if st2.UIDValidity == st.UIDValidity {
		t.Fatalf("the UIDVALIDITY of %s did not change (%d)", renumbered, st.UIDValidity)
	}
	t.Logf("changes through Dovecot: deleted %s; %s UIDVALIDITY %d → %d", corpus[0], renumbered, st.UIDValidity, st2.UIDValidity)
	// Messages without a Message-ID cannot be matched across the new
	// UIDVALIDITY: they are copied again (and the old copies deleted).
	mb := s.Content("fabrikam", alice.ExchangeGuid).ID
	f, err := s.Store.FolderByPath(context.Background(), mb, renumbered)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.Store.Fetch(context.Background(), mb, f.ID, mailstore.AllUIDs)
	if err != nil {
		t.Fatal(err)
	}
	noID := 0
	for _, it := range items {
		if it.MessageID == "" {
			noID++
		}
	}
	return renumbered, noID
}

// folderItemIDs returns the ids of the target items of a folder.
func folderItemIDs(t *testing.T, s *scenario.Server, rec *directory.Recipient, path string) map[int64]bool {
	t.Helper()
	mb := s.Content("fabrikam", rec.ExchangeGuid).ID
	f, err := s.Store.FolderByPath(context.Background(), mb, path)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.Store.Fetch(context.Background(), mb, f.ID, mailstore.AllUIDs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	for _, it := range items {
		out[it.ID] = true
	}
	return out
}
