package scenario

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Snapshot is a mailbox's content per folder path: a sorted list of
// "sha256 flags internal-date" entries, the multiset the acceptance tests
// compare between source and target.
type Snapshot map[string][]string

// Count returns the number of items.
func (s Snapshot) Count() int {
	n := 0
	for _, xs := range s {
		n += len(xs)
	}
	return n
}

// Take snapshots a mailbox.
func Take(t testing.TB, st *mailstore.Store, mailboxID int64) Snapshot {
	t.Helper()
	ctx := context.Background()
	fs, err := st.ListFolders(ctx, mailboxID, false)
	if err != nil {
		t.Fatal(err)
	}
	path := map[int64]string{}
	out := Snapshot{}
	for _, f := range fs {
		if f.Deleted || f.Class != mailstore.ClassNote {
			continue
		}
		path[f.ID] = f.Path
		out[f.Path] = []string{}
	}
	var after mailstore.Cursor
	for {
		cs, next, err := st.ItemChanges(ctx, mailboxID, after, 0, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			p := path[c.FolderID]
			out[p] = append(out[p], fmt.Sprintf("%s %s %d", c.SHA256, strings.Join(c.Flags, ","), c.InternalDate.UnixMilli()))
		}
		if len(cs) < 5000 {
			break
		}
		after = next
	}
	for _, xs := range out {
		sort.Strings(xs)
	}
	return out
}

// Diff describes the differences between two snapshots ("" when equal).
// Folders that are empty on both sides may be absent on one.
func Diff(want, got Snapshot) string {
	var b strings.Builder
	paths := map[string]bool{}
	for p := range want {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	for _, p := range keys {
		w, g := want[p], got[p]
		if strings.Join(w, "\n") == strings.Join(g, "\n") {
			continue
		}
		fmt.Fprintf(&b, "folder %q: want %d items, got %d", p, len(w), len(g))
		wm := map[string]int{}
		for _, x := range w {
			wm[x]++
		}
		for _, x := range g {
			wm[x]--
		}
		n := 0
		for x, c := range wm {
			if c != 0 && n < 3 {
				fmt.Fprintf(&b, "; %+d × %s", -c, x)
				n++
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
