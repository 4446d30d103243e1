package mailstore_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// subscribedPaths returns the subscription list as "path" or "path
// (deleted)".
func subscribedPaths(t *testing.T, s *mailstore.Store, mb int64) string {
	t.Helper()
	subs, err := s.Subscriptions(bg, mb)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range subs {
		if f.Deleted {
			out = append(out, f.Path+" (deleted)")
		} else {
			out = append(out, f.Path)
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// plus returns the list with more paths, sorted as subscribedPaths sorts.
func plus(list string, more ...string) string {
	out := append(strings.Split(list, ", "), more...)
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// TestSubscriptions: Unsubscribed also covers the parents a create adds;
// a deleted folder stays subscribed (and so does its path when it is
// created again); Unsubscribe clears a path, live and deleted.
func TestSubscriptions(t *testing.T) {
	eachStore(t, func(t *testing.T, s *mailstore.Store, mb *mailstore.Mailbox) {
		before := subscribedPaths(t, s, mb.ID) // the default folders
		if !strings.Contains(before, "Inbox") || !strings.Contains(before, "Sent Items") {
			t.Fatalf("default folders not subscribed: %s", before)
		}
		for _, p := range []string{"A/B/C", "A/D"} {
			if _, err := s.CreateFolder(bg, mb.ID, p, mailstore.FolderOptions{Unsubscribed: true}); err != nil {
				t.Fatal(err)
			}
		}
		if got := subscribedPaths(t, s, mb.ID); got != before {
			t.Fatalf("an unsubscribed create subscribed something: %s", got)
		}
		c := mustFolder(t, s, mb.ID, "A/B/C")
		if err := s.SetSubscribed(bg, mb.ID, c.ID, true); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteFolder(bg, mb.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if got := subscribedPaths(t, s, mb.ID); got != plus(before, "A/B/C (deleted)") {
			t.Fatalf("after delete: %s", got)
		}
		again, err := s.CreateFolder(bg, mb.ID, "a/b/c", mailstore.FolderOptions{Unsubscribed: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := subscribedPaths(t, s, mb.ID); got != plus(before, "A/B/c") {
			t.Fatalf("after re-create: %s", got)
		}
		m := modseq(t, s, mb.ID)
		if err := s.Unsubscribe(bg, mb.ID, "A/B/C"); err != nil {
			t.Fatal(err)
		}
		if got := subscribedPaths(t, s, mb.ID); got != before {
			t.Fatalf("after unsubscribe: %s", got)
		}
		if err := s.Unsubscribe(bg, mb.ID, "A/B/C"); err != nil {
			t.Fatal(err)
		}
		if modseq(t, s, mb.ID) != m+1 {
			t.Fatal("unsubscribe: want one MODSEQ for the change and none for the repeat")
		}
		wantCode(t, s.Unsubscribe(bg, mb.ID, "No/Such"), "FolderNotFound")
		if err := s.Unsubscribe(bg, mb.ID, "INBOX"); err != nil {
			t.Fatal(err)
		}
		if got := subscribedPaths(t, s, mb.ID); strings.Contains(got, "Inbox") {
			t.Fatalf("INBOX still subscribed: %s", got)
		}
		_ = again
	})
}
