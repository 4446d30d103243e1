package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Demo passwords: every source mailbox logs in with SourcePassword; the
// moved mailboxes get TargetPassword on the target after the cutover.
const (
	SourcePassword = "contoso-demo"
	TargetPassword = "fabrikam-demo"
)

// person is a demo user.
type person struct{ first, last string }

// alias is the person's alias: first name and the last name's initial.
func (p person) alias() string { return strings.ToLower(p.first + p.last[:1]) }

// people are the moved users, in order (Microsoft's demo tenant cast).
var people = []person{{"Megan", "Bowen"}, {"Alex", "Wilber"}, {"Lidia", "Holloway"}, {"Adele", "Vance"}, {"Diego", "Siciliani"},
	{"Isaiah", "Langer"}, {"Johanna", "Lorenz"}, {"Lynne", "Robbins"}, {"Miriam", "Graham"}, {"Patti", "Fernandez"}, {"Pradeep", "Gupta"}}

// stayer keeps a mailbox on the source (it is not in the batch).
var stayer = person{"Nestor", "Wilke"}

// personAt returns the i-th moved user (numbered users after the cast).
func personAt(i int) person {
	if i < len(people) {
		return people[i]
	}
	return person{"User", fmt.Sprintf("%02d", i+1)}
}

// user is a source mailbox of the demo.
type user struct {
	person
	alias   string
	moved   bool // in the batch
	archive bool
	src     *directory.Recipient
	items   int64 // generated items (primary + archive)
	bytes   int64
	folders int
	// gw holds the generated groupware's hashes by "collection/name";
	// events, tasks and contacts count it (moved users only).
	gw                      map[string]string
	events, tasks, contacts int
}

// sourceAddr is the user's address on the source.
func (u *user) sourceAddr(n *node) string { return u.alias + "@" + n.domain }

// fillStats summarises generated content.
type fillStats struct {
	items, bytes int64
	folders      int
}

// fill appends generated messages to a mailbox, chunk by chunk (one fsync
// and one transaction per chunk), creating folders as needed.
func fill(ctx context.Context, st *mailstore.Store, tenantID, guid string, o mailgen.Options) (fillStats, error) {
	var fs fillStats
	mb, err := st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return fs, err
	}
	folders := map[string]int64{}
	b := st.NewAppendBatch(mb.ID)
	defer func() { b.Close() }()
	flush := func() error {
		if b.Len() > 0 {
			if _, err := b.Commit(ctx, nil); err != nil {
				return err
			}
		}
		b.Close()
		b = st.NewAppendBatch(mb.ID)
		return nil
	}
	g := mailgen.New(o)
	for m, ok := g.Next(); ok; m, ok = g.Next() {
		fid, ok := folders[m.Folder]
		if !ok {
			f, err := st.FolderByPath(ctx, mb.ID, m.Folder)
			if errors.Is(err, mailstore.ErrFolderNotFound) {
				f, err = st.CreateFolder(ctx, mb.ID, m.Folder, mailstore.FolderOptions{})
			}
			if err != nil {
				return fs, fmt.Errorf("folder %s: %w", m.Folder, err)
			}
			fid = f.ID
			folders[m.Folder] = fid
		}
		if err := b.Add(ctx, mailstore.AppendItem{FolderID: fid, Content: bytes.NewReader(m.Data), Flags: m.Flags, InternalDate: m.Date}); err != nil {
			return fs, err
		}
		fs.items++
		fs.bytes += int64(len(m.Data))
		if b.Len() >= 500 {
			if err := flush(); err != nil {
				return fs, err
			}
		}
	}
	fs.folders = len(folders)
	return fs, flush()
}

// archiveFolders is the folder tree of generated archive mailboxes.
var archiveFolders = []string{"Inbox", "Inbox", "Sent Items", "2022/Projects", "2022/Customers", "2023/Projects", "2023/Customers", "2023/Finance"}

// generate creates the user's source mailbox and fills it: items messages
// in the primary mailbox and, with an archive, a fifth as many older ones.
func (d *run) generate(ctx context.Context, u *user, seed int64) error {
	src := d.src
	r, err := src.Admin.CreateRecipient(ctx, src.admin, src.tenant, directory.RecipientSpec{Type: directory.UserMailbox, Alias: u.alias,
		FirstName: u.first, LastName: u.last, DisplayName: u.first + " " + u.last, Password: SourcePassword, Archive: u.archive})
	if err != nil {
		return err
	}
	u.src = r
	o := mailgen.Options{Seed: seed, Count: d.o.Items, Owner: r.PrimarySmtpAddress, Median: 8 << 10, Attach: 0.05, AttachKB: d.o.AttachKB, Threads: true}
	if !u.moved {
		o.Count = max(10, d.o.Items/10)
	}
	fs, err := fill(ctx, src.Store, src.tenantID, r.ExchangeGuid, o)
	if err != nil {
		return err
	}
	u.items, u.bytes, u.folders = fs.items, fs.bytes, fs.folders
	if u.moved {
		if err := d.fillGroupware(ctx, u, seed); err != nil {
			return err
		}
	}
	if u.archive {
		o.Seed, o.Count, o.Folders = seed+1000, max(1, d.o.Items/5), archiveFolders
		fs, err := fill(ctx, src.Store, src.tenantID, r.ArchiveGuid, o)
		if err != nil {
			return err
		}
		u.items += fs.items
		u.bytes += fs.bytes
	}
	return nil
}

// sendMail submits a message over SMTP to addr (host:port).
func sendMail(addr, from, to string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, bytes.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// message builds a small RFC 5322 message with a unique Message-ID.
func message(from, to, subject, body string) []byte {
	now := time.Now()
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <demo.%d@tenantferry.test>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", from, to, subject, now.UnixNano(), now.Format(time.RFC1123Z), body))
}
