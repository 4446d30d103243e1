package imapd_test

import (
	"bytes"
	"context"
	"net"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// TestSharedMailboxOverIMAP is issue 9's shared-mailbox criterion over
// IMAP: two delegates with FullAccess log in as themselves and find the
// shared mailbox under "Shared/<address>/" (NAMESPACE and LIST, roots
// \Noselect), read every message byte-exact (corpus messages, SHA-256
// against the store) and each sees what the other appended. A user of the
// same tenant without a permission, a user of another tenant, and a
// delegate whose permission was removed see nothing and can open nothing.
func TestSharedMailboxOverIMAP(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; it runs the imaplib shared-mailbox test")
	}
	msgs := corpus.Messages(t)
	eachFull(t, func(t *testing.T, e *env) {
		sales, err := e.Dir.CreateRecipient(bg, e.Tenant.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "sales", Shared: true})
		if err != nil {
			t.Fatal(err)
		}
		alice, bob, carol := e.user(t, "alice"), e.user(t, "bob"), e.user(t, "carol")
		for _, u := range []string{"alice", "bob"} {
			if _, err := e.Dir.AddPermission(bg, e.Tenant.ID, "sales", u, directory.FullAccess); err != nil {
				t.Fatal(err)
			}
		}
		// carol may send as sales, but SendAs opens nothing.
		if _, err := e.Dir.AddPermission(bg, e.Tenant.ID, "sales", "carol", directory.SendAs); err != nil {
			t.Fatal(err)
		}
		other, err := e.Dir.CreateTenant(bg, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		eve, err := e.Dir.CreateRecipient(bg, other.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "eve", Password: password})
		if err != nil {
			t.Fatal(err)
		}

		mb, err := e.Store.EnsureMailbox(bg, sales.TenantID, sales.ExchangeGuid, mailstore.KindPrimary)
		if err != nil {
			t.Fatal(err)
		}
		inbox := e.folder(t, mb, "Inbox")
		n := min(len(msgs), 60)
		items := make([]mailstore.AppendItem, n)
		for i := range items {
			items[i] = mailstore.AppendItem{FolderID: inbox.ID, Content: bytes.NewReader(msgs[i].Data), InternalDate: time.Unix(1600000000, 0)}
		}
		out, err := e.Store.AppendMany(bg, mb.ID, items, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for i, a := range out {
			want[strconv.FormatUint(uint64(a.UID), 10)] = msgs[i].SHA256()
		}

		host, port, _ := net.SplitHostPort(e.Addr)
		run := func(mode, user string) string {
			t.Helper()
			ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, "testdata/imaplib_shared.py", mode, host, port, sales.PrimarySmtpAddress, user, password).CombinedOutput()
			if err != nil {
				t.Fatalf("imaplib_shared.py %s %s failed: %v\n%s", mode, user, err, out)
			}
			return string(out)
		}
		check := func(out, user string, seen ...string) {
			t.Helper()
			got := map[string]string{}
			var filed []string
			for _, line := range strings.Split(out, "\n") {
				if rest, ok := strings.CutPrefix(line, "HASH "); ok {
					uid, h, _ := strings.Cut(rest, " ")
					got[uid] = h
				}
				if who, ok := strings.CutPrefix(line, "SEEN "); ok {
					filed = append(filed, who)
				}
			}
			for uid, h := range want {
				if got[uid] != h {
					t.Errorf("%s: UID %s read as %q, stored %s", user, uid, got[uid], h)
				}
			}
			sort.Strings(filed)
			if strings.Join(filed, ",") != strings.Join(seen, ",") {
				t.Errorf("%s sees notes filed by %v, want %v", user, filed, seen)
			}
		}
		check(run("delegate", alice), "alice", alice)
		check(run("delegate", bob), "bob", alice, bob)
		run("denied", carol)
		run("denied", eve.PrimarySmtpAddress)
		if err := e.Dir.RemovePermission(bg, e.Tenant.ID, "sales", "bob", directory.FullAccess); err != nil {
			t.Fatal(err)
		}
		run("denied", bob)
		items2, err := e.Store.Fetch(bg, mb.ID, inbox.ID, mailstore.AllUIDs)
		if err != nil || len(items2) != n+2 {
			t.Fatalf("the shared Inbox holds %d items (%v), want %d", len(items2), err, n+2)
		}
	})
}
