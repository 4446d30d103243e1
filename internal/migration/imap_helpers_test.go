package migration_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dovecot"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// skipWithoutDovecot skips a test when the Dovecot binaries are missing.
func skipWithoutDovecot(t *testing.T) {
	t.Helper()
	_, err := dovecot.Doveadm()
	if err == nil {
		_, err = dovecot.Dovecot()
	}
	if errors.Is(err, dovecot.ErrNotInstalled) {
		t.Skipf("%v; it is the IMAP source of the IMAP migration tests", err)
	}
}

// imapSource is a private Dovecot listener serving Maildirs: the source of
// an IMAP migration.
type imapSource struct {
	*dovecot.Instance
	addr  string
	users map[string]string
}

// plainIMAP is a Dovecot setting that announces only IMAP4rev1 basics after
// login: no CONDSTORE, LIST-STATUS, LIST-EXTENDED, SPECIAL-USE or ESEARCH,
// so the connector takes its fallback paths (STATUS per folder, FLAGS of
// every known message, special use by folder name).
const plainIMAP = "imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE MOVE UIDPLUS UNSELECT"

// startDovecot writes each user's items into a Maildir and starts the
// listener with extra settings. Sent Messages and Spam carry SPECIAL-USE attributes; the other
// special folders of the tests (Sent, Drafts, Trash, Junk, Archive) are
// known by their names only.
func startDovecot(t *testing.T, users map[string]string, items map[string][]scenario.Item, settings ...string) *imapSource {
	t.Helper()
	return startDovecotWith(t, users, items, dovecot.Options{Settings: settings})
}

// startDovecotWith is startDovecot with more options (o's Listen, Users
// and SpecialUse are set here).
func startDovecotWith(t *testing.T, users map[string]string, items map[string][]scenario.Item, o dovecot.Options) *imapSource {
	t.Helper()
	addr := scenario.FreeAddr(t)
	o.Listen, o.Users, o.SpecialUse = addr, users, map[string]string{"Sent Messages": `\Sent`, "Spam": `\Junk`}
	in, err := dovecot.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot log:\n%s", in.Log())
		}
		in.Close()
	})
	for u, its := range items {
		writeMaildir(t, in.MailDir(u), its)
	}
	if err := in.Chown(); err != nil {
		t.Fatal(err)
	}
	if err := in.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &imapSource{Instance: in, addr: addr, users: users}
}

// login opens an IMAP session of a user on the Dovecot listener.
func (d *imapSource) login(t *testing.T, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(d.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, d.users[user]).Wait(); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeMaildir writes items into a Maildir++ tree as Dovecot keeps one.
func writeMaildir(t *testing.T, root string, items []scenario.Item) {
	t.Helper()
	if err := dovecot.WriteMaildir(root, maildirMessages(items)); err != nil {
		t.Fatal(err)
	}
}

// maildirMessages converts scenario items.
func maildirMessages(items []scenario.Item) []dovecot.MaildirMessage {
	out := make([]dovecot.MaildirMessage, len(items))
	for i, it := range items {
		out[i] = dovecot.MaildirMessage{Folder: it.Folder, Data: it.Data, Flags: it.Flags, Date: it.Date}
	}
	return out
}

// snapFlags renders IMAP flags as the snapshots do (normalized, without
// \Recent, comma-separated).
func snapFlags(fs []imap.Flag) string {
	ss := make([]string, len(fs))
	for i, f := range fs {
		ss[i] = string(f)
	}
	return strings.Join(mailstore.CleanFlags(ss), ",")
}

// served reads what Dovecot serves over IMAP for a user: per selectable
// folder (mapped to its expected target path by rename), the
// "sha flags millis" entries of BODY[] (as served, which may differ from
// the file: Dovecot sends NUL as 0x80), FLAGS and INTERNALDATE.
func (d *imapSource) served(t *testing.T, user string, rename func(string) string) scenario.Snapshot {
	t.Helper()
	c := d.login(t, user)
	defer c.Logout()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := scenario.Snapshot{}
	for _, l := range list {
		skip := false
		for _, a := range l.Attrs {
			skip = skip || a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent
		}
		if skip {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		f := rename(l.Mailbox)
		out[f] = []string{}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatalf("fetch %s: %v", l.Mailbox, err)
		}
		for _, m := range msgs {
			body := m.FindBodySection(&imap.FetchItemBodySection{})
			out[f] = append(out[f], fmt.Sprintf("%s %s %d", sha(body), snapFlags(m.Flags), m.InternalDate.UnixMilli()))
		}
		sort.Strings(out[f])
	}
	return out
}

// copied snapshots the items of a target mailbox that an IMAP move copied
// (origin "imap:..."), by folder path; local mail is left out.
func copied(t *testing.T, st *mailstore.Store, mailboxID int64) scenario.Snapshot {
	t.Helper()
	ctx := context.Background()
	fs, err := st.ListFolders(ctx, mailboxID, false)
	if err != nil {
		t.Fatal(err)
	}
	path := map[int64]string{}
	for _, f := range fs {
		path[f.ID] = f.Path
	}
	out := scenario.Snapshot{}
	var after mailstore.Cursor
	for {
		cs, next, err := st.ItemChanges(ctx, mailboxID, after, 0, 5000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if strings.HasPrefix(c.Origin, "imap:") {
				p := path[c.FolderID]
				out[p] = append(out[p], fmt.Sprintf("%s %s %d", c.SHA256, strings.Join(c.Flags, ","), c.InternalDate.UnixMilli()))
			}
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

// specialTargets maps the source's special folders to the target's
// default folders.
var specialTargets = map[string]string{
	"INBOX": "Inbox", "Sent": "Sent Items", "Sent Messages": "Sent Items", "Drafts": "Drafts", "Trash": "Deleted Items",
	"Deleted Messages": "Deleted Items", "Junk": "Junk Email", "Spam": "Junk Email", "Archive": "Archive",
}

func toTarget(name string) string {
	if t, ok := specialTargets[name]; ok {
		return t
	}
	return name
}

// nonEmpty drops the empty folders of a snapshot (a target has empty
// default folders the source lacks, and the other way round).
func nonEmpty(s scenario.Snapshot) scenario.Snapshot {
	out := scenario.Snapshot{}
	for f, xs := range s {
		if len(xs) > 0 {
			out[f] = xs
		}
	}
	return out
}

// sameAsDovecot asserts that the items an IMAP move copied into the target
// mailbox of addr equal what Dovecot serves for user, per folder.
func sameAsDovecot(t *testing.T, s *scenario.Server, src *imapSource, user string, rec *directory.Recipient, what string) int {
	t.Helper()
	want := nonEmpty(src.served(t, user, toTarget))
	got := nonEmpty(copied(t, s.Store, s.Content("fabrikam", rec.ExchangeGuid).ID))
	if d := scenario.Diff(want, got); d != "" {
		t.Fatalf("%s: the copy of IMAP user %s differs from what Dovecot serves (want: Dovecot, got: target):\n%s", what, user, d)
	}
	return want.Count()
}

// imapCSV is the CSV of an IMAP batch.
func imapCSV(rows ...[3]string) []byte {
	var b strings.Builder
	b.WriteString("EmailAddress,UserName,Password\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,\"%s\"\n", r[0], r[1], strings.ReplaceAll(r[2], `"`, `""`))
	}
	return []byte(b.String())
}

// waitIMAPUsers waits for every user of a batch to settle in one of states.
func waitIMAPUsers(t *testing.T, s *scenario.Server, batch string, states ...string) []*migration.UserView {
	t.Helper()
	return waitUsers(t, s, "fabrikam", batch, 5*time.Minute, states...)
}

// mirrorRows counts a table's rows of the moves of a batch.
func mirrorRows(t *testing.T, s *scenario.Server, table string) int {
	t.Helper()
	var n int
	if err := s.DB.Read().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
