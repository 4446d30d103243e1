package imapd_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// TestArchiveOverIMAP is issue 9's archive criterion: a user's archive
// mailbox appears under "Online Archive" to Python's imaplib, which lists
// it (the root \Noselect, no special uses below it), reads every archived
// message byte-exact (real-world corpus messages, compared by SHA-256 with
// what was stored), appends into it, moves INBOX messages into it, and
// creates, renames and deletes archive folders, while the root cannot be
// selected or created and folders cannot be renamed out of the archive.
func TestArchiveOverIMAP(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; it runs the imaplib archive test")
	}
	msgs := corpus.Messages(t)
	eachFull(t, func(t *testing.T, e *env) {
		r, err := e.Dir.CreateRecipient(bg, e.Tenant.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "archivist",
			Password: password, Archive: true})
		if err != nil {
			t.Fatal(err)
		}
		arch, err := e.Store.EnsureMailbox(bg, r.TenantID, r.ArchiveGuid, mailstore.KindArchive)
		if err != nil {
			t.Fatal(err)
		}
		primary, err := e.Store.EnsureMailbox(bg, r.TenantID, r.ExchangeGuid, mailstore.KindPrimary)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{} // "folder uid" → sha256
		fill := func(mb *mailstore.Mailbox, path, imapName string, ms []corpus.Message) {
			f, err := e.Store.FolderByPath(bg, mb.ID, path)
			if err != nil {
				if f, err = e.Store.CreateFolder(bg, mb.ID, path, mailstore.FolderOptions{Class: mailstore.ClassNote}); err != nil {
					t.Fatal(err)
				}
			}
			items := make([]mailstore.AppendItem, len(ms))
			for i, m := range ms {
				items[i] = mailstore.AppendItem{FolderID: f.ID, Content: bytes.NewReader(m.Data), InternalDate: time.Unix(1600000000, 0)}
			}
			out, err := e.Store.AppendMany(bg, mb.ID, items, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range out {
				if imapName != "" {
					want[fmt.Sprintf("%s %d", imapName, a.UID)] = ms[i].SHA256()
				}
			}
		}
		n := min(len(msgs), 120)
		fill(arch, "Inbox", "Online Archive/Inbox", msgs[:n/2])
		fill(arch, "Projects/2019", "Online Archive/Projects/2019", msgs[n/2:n])
		fill(primary, "Inbox", "", msgs[n:n+3])

		host, port, _ := net.SplitHostPort(e.Addr)
		ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "testdata/imaplib_archive.py", host, port, r.PrimarySmtpAddress, password).CombinedOutput()
		if err != nil {
			t.Fatalf("imaplib_archive.py failed: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "HASH "); ok {
				i := strings.LastIndexByte(rest, ' ')
				got[rest[:i]] = rest[i+1:]
			}
		}
		if len(got) != len(want) {
			t.Errorf("imaplib read %d archived messages, want %d", len(got), len(want))
		}
		for k, h := range want {
			if got[k] != h {
				t.Errorf("%s: read %q, stored %s", k, got[k], h)
			}
		}
		for _, line := range []string{
			"PASS list root Online Archive with 8 folders: Online Archive/Archive,Online Archive/Deleted Items,Online Archive/Drafts,Online Archive/Inbox,Online Archive/Junk Email,Online Archive/Projects,Online Archive/Projects/2019,Online Archive/Sent Items",
			fmt.Sprintf("PASS read %d archived messages", n),
			"PASS select root refused",
			`PASS append move; INBOX (MESSAGES 0) | "Online Archive/Inbox" (MESSAGES 64)`,
			"PASS folders create rename delete",
			"PASS logout",
		} {
			if !strings.Contains(string(out), line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
		// The moved and appended messages are in the archive mailbox.
		f, err := e.Store.FolderByPath(bg, arch.ID, "Inbox")
		if err != nil {
			t.Fatal(err)
		}
		items, err := e.Store.Fetch(bg, arch.ID, f.ID, mailstore.AllUIDs)
		if err != nil || len(items) != n/2+4 {
			t.Fatalf("archive Inbox holds %d items (%v), want %d", len(items), err, n/2+4)
		}
		sum := sha256.Sum256(msgs[n].Data)
		found := false
		for _, it := range items {
			found = found || it.SHA256 == hex.EncodeToString(sum[:])
		}
		if !found {
			t.Errorf("the message moved from INBOX is not in the archive")
		}
	})
}
