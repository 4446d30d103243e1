package imapd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/dovecot"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// sha returns the hex SHA-256 of b.
func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// contentIndex maps the SHA-256 of each item's bytes to the bytes.
func contentIndex(items []scenario.Item) map[string][]byte {
	m := make(map[string][]byte, len(items))
	for _, it := range items {
		m[sha(it.Data)] = it.Data
	}
	return m
}

// crlf is Dovecot's save conversion with mail_save_crlf = yes (its
// i_stream_create_crlf): a LF not preceded by CR becomes CRLF; CR alone
// and every other byte stay.
func crlf(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/20)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// sortFlags re-sorts the comma-separated flags of a snapshot entry
// ("sha flags date") case-insensitively.
func sortFlags(flags string) string {
	if flags == "" {
		return ""
	}
	fs := strings.Split(flags, ",")
	sort.Slice(fs, func(i, j int) bool { return strings.ToLower(fs[i]) < strings.ToLower(fs[j]) })
	return strings.Join(fs, ",")
}

// dovecotExpect turns a source snapshot into what a Maildir written by
// Dovecot with mail_save_crlf = yes must hold: content hashes after the
// CRLF conversion, flags sorted, internal dates in whole seconds. It
// counts the messages the conversion leaves byte-identical and those it
// changes.
func dovecotExpect(t *testing.T, src scenario.Snapshot, bySHA map[string][]byte) (want scenario.Snapshot, identical, converted int) {
	t.Helper()
	want = scenario.Snapshot{}
	for folder, entries := range src {
		out := make([]string, 0, len(entries))
		for _, e := range entries {
			f := strings.Split(e, " ")
			data, ok := bySHA[f[0]]
			if !ok {
				t.Fatalf("source item %s is not in the content index", f[0])
			}
			sum := f[0]
			if c := crlf(data); !bytes.Equal(c, data) {
				sum = sha(c)
				converted++
			} else {
				identical++
			}
			ms, _ := strconv.ParseInt(f[2], 10, 64)
			out = append(out, fmt.Sprintf("%s %s %d", sum, sortFlags(f[1]), ms/1000*1000))
		}
		sort.Strings(out)
		want[folder] = out
	}
	return want, identical, converted
}

// maildirContent is what readMaildir found.
type maildirContent struct {
	// snapshot has one "sha flags date" entry per message file, by folder.
	snapshot scenario.Snapshot
	// files lists the file names (new/ and cur/), by folder.
	files scenario.Snapshot
}

// maildirFlags maps maildir info letters to IMAP system flags.
var maildirFlags = map[byte]string{'D': `\Draft`, 'F': `\Flagged`, 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}

// readMaildir reads a Dovecot Maildir++ tree: the root is INBOX, ".A.B"
// is folder "A/B"; a file's flags are the letters after ":2," (lower-case
// letters index the folder's dovecot-keywords), its internal date its
// mtime.
func readMaildir(t *testing.T, root string) maildirContent {
	t.Helper()
	out := maildirContent{snapshot: scenario.Snapshot{}, files: scenario.Snapshot{}}
	dirs := map[string]string{"INBOX": root}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), ".") && e.Name() != "." && e.Name() != ".." {
			dirs[strings.ReplaceAll(e.Name()[1:], ".", "/")] = filepath.Join(root, e.Name())
		}
	}
	for folder, dir := range dirs {
		keywords := map[byte]string{}
		if b, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords")); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if i, kw, ok := strings.Cut(l, " "); ok {
					if n, err := strconv.Atoi(i); err == nil && n < 26 {
						keywords['a'+byte(n)] = kw
					}
				}
			}
		}
		snap, files := []string{}, []string{}
		for _, sub := range []string{"new", "cur"} {
			fs, err := os.ReadDir(filepath.Join(dir, sub))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				p := filepath.Join(dir, sub, f.Name())
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				var flags []string
				if _, info, ok := strings.Cut(f.Name(), ":2,"); ok {
					for i := 0; i < len(info); i++ {
						switch c := info[i]; {
						case maildirFlags[c] != "":
							flags = append(flags, maildirFlags[c])
						case keywords[c] != "":
							flags = append(flags, keywords[c])
						default:
							flags = append(flags, fmt.Sprintf("?%c", c))
						}
					}
				}
				snap = append(snap, fmt.Sprintf("%s %s %d", sha(data), sortFlags(strings.Join(flags, ",")), st.ModTime().Unix()*1000))
				files = append(files, sub+"/"+f.Name())
			}
		}
		sort.Strings(snap)
		sort.Strings(files)
		out.snapshot[folder], out.files[folder] = snap, files
	}
	return out
}

// changeSource changes the source mailbox between two backups: \Flagged
// set on five INBOX messages and \Seen cleared on five, three messages of
// the largest corpus folder expunged and two moved to Archive, and a new
// message in a new folder (added to bySHA).
func changeSource(t *testing.T, s *scenario.Server, mailboxID int64, bySHA map[string][]byte) {
	t.Helper()
	st := s.Store
	inbox, err := st.FolderByPath(bg, mailboxID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.Select(bg, mailboxID, inbox.ID)
	if err != nil || len(snap.Messages) < 10 {
		t.Fatalf("select INBOX: %v (%d messages)", err, len(snap.Messages))
	}
	uids := func(ms []mailstore.UIDFlags) mailstore.UIDSet {
		var set mailstore.UIDSet
		for _, m := range ms {
			set = append(set, mailstore.UIDRange{Start: m.UID, Stop: m.UID})
		}
		return set
	}
	if _, err := st.StoreFlags(bg, mailboxID, inbox.ID, uids(snap.Messages[:5]), mailstore.FlagsAdd, []string{`\Flagged`}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StoreFlags(bg, mailboxID, inbox.ID, uids(snap.Messages[5:10]), mailstore.FlagsRemove, []string{`\Seen`}); err != nil {
		t.Fatal(err)
	}
	fs, err := st.ListFolders(bg, mailboxID, true)
	if err != nil {
		t.Fatal(err)
	}
	var big *mailstore.Folder
	for i, f := range fs {
		if strings.HasPrefix(f.Path, "Corpus/") && (big == nil || f.Counts.Messages > big.Counts.Messages) {
			big = &fs[i]
		}
	}
	if big == nil {
		t.Fatal("no corpus folder")
	}
	snap, err = st.Select(bg, mailboxID, big.ID)
	if err != nil || len(snap.Messages) < 5 {
		t.Fatalf("select %s: %v", big.Path, err)
	}
	expungeUIDs(t, s, mailboxID, big.ID, uids(snap.Messages[:3]))
	archive, err := st.FolderBySpecialUse(bg, mailboxID, mailstore.UseArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Move(bg, mailboxID, big.ID, uids(snap.Messages[3:5]), archive.ID); err != nil {
		t.Fatal(err)
	}
	msg := scenario.Message("a@example.org", "b@example.org", "after the first backup", "new\r\n")
	bySHA[sha(msg)] = msg
	scenario.Fill(t, st, mailboxID, []scenario.Item{{Folder: "Dovecot/New", Data: msg, Flags: []string{`\Seen`, "$Later"},
		Date: time.Date(2002, 1, 2, 3, 4, 5, 0, time.UTC)}})
}

// sortedCopy returns a sorted copy of xs.
func sortedCopy(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

// writeMaildir writes items into a Maildir++ tree the way Dovecot keeps
// one (dovecot.WriteMaildir) and returns what it wrote as "sha flags millis"
// entries.
func writeMaildir(t *testing.T, root string, items []scenario.Item) scenario.Snapshot {
	t.Helper()
	msgs := make([]dovecot.MaildirMessage, len(items))
	out := scenario.Snapshot{}
	for i, it := range items {
		msgs[i] = dovecot.MaildirMessage{Folder: it.Folder, Data: it.Data, Flags: it.Flags, Date: it.Date}
		out[it.Folder] = append(out[it.Folder], fmt.Sprintf("%s %s %d", sha(it.Data), sortFlags(strings.Join(it.Flags, ",")), it.Date.Unix()*1000))
	}
	if err := dovecot.WriteMaildir(root, msgs); err != nil {
		t.Fatal(err)
	}
	for f, xs := range out {
		out[f] = sortedCopy(xs)
	}
	return out
}

// imapFolders logs in to an IMAP server and returns the client and its
// selectable folders.
func imapFolders(t *testing.T, addr, user string) (*imapclient.Client, []string) {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, dovecotPassword).Wait(); err != nil {
		t.Fatalf("login %s at %s: %v", user, addr, err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range list {
		skip := false
		for _, a := range l.Attrs {
			if a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent {
				skip = true
			}
		}
		if !skip {
			out = append(out, l.Mailbox)
		}
	}
	sort.Strings(out)
	return c, out
}

// imapFlags turns IMAP flags into the snapshot form (sorted, without
// \Recent).
func imapFlags(fs []imap.Flag) string {
	var out []string
	for _, f := range fs {
		if !strings.EqualFold(string(f), `\Recent`) {
			out = append(out, string(f))
		}
	}
	return sortFlags(strings.Join(out, ","))
}

// dovecotView reads every message of a user from an IMAP server (the
// Dovecot listener) as "sha flags millis" entries of BODY[], FLAGS and
// INTERNALDATE, by folder.
func dovecotView(t *testing.T, addr, user string) scenario.Snapshot {
	t.Helper()
	c, folders := imapFolders(t, addr, user)
	out := scenario.Snapshot{}
	for _, f := range folders {
		sel, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		out[f] = []string{}
		if sel.NumMessages == 0 {
			continue
		}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil {
			t.Fatalf("fetch %s: %v", f, err)
		}
		for _, m := range msgs {
			body := m.FindBodySection(&imap.FetchItemBodySection{})
			out[f] = append(out[f], fmt.Sprintf("%s %s %d", sha(body), imapFlags(m.Flags), m.InternalDate.Unix()*1000))
		}
		out[f] = sortedCopy(out[f])
	}
	return out
}

// appendRE parses the command line of an APPEND (RFC 9051 section 6.3.12)
// as Dovecot's imapc writes it: mailbox (quoted or atom), optional flags,
// optional date-time.
var appendRE = regexp.MustCompile(`^\S+ APPEND (?:"((?:[^"\\]|\\.)*)"|(\S+))(?: \(([^)]*)\))?(?: "([^"]*)")?$`)

// appendedSnapshot parses the client-to-server streams for APPENDs and
// returns what they appended as "sha flags millis" entries, by folder.
func appendedSnapshot(t *testing.T, streams [][]byte) scenario.Snapshot {
	t.Helper()
	out := scenario.Snapshot{}
	for _, st := range streams {
		for _, l := range literals(t, st) {
			if !bytes.Contains(l.prefix, []byte(" APPEND ")) {
				continue
			}
			m := appendRE.FindSubmatch(bytes.TrimSpace(l.prefix))
			if m == nil {
				t.Fatalf("cannot parse APPEND command %q", l.prefix)
			}
			folder := string(m[2])
			if m[1] != nil {
				folder = strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(string(m[1]))
			}
			if strings.EqualFold(folder, "INBOX") {
				folder = "INBOX"
			}
			var ms int64
			if len(m[4]) > 0 {
				d, err := time.Parse("_2-Jan-2006 15:04:05 -0700", string(m[4]))
				if err != nil {
					t.Fatalf("APPEND date %q: %v", m[4], err)
				}
				ms = d.Unix() * 1000
			}
			var flags []imap.Flag
			for _, f := range strings.Fields(string(m[3])) {
				flags = append(flags, imap.Flag(f))
			}
			out[folder] = append(out[folder], fmt.Sprintf("%s %s %d", sha(l.data), imapFlags(flags), ms))
		}
	}
	for f, xs := range out {
		out[f] = sortedCopy(xs)
	}
	return out
}

// dsyncHeaderKey normalises a BODY[HEADER.FIELDS (Date Message-ID)] answer
// the way dsync does before hashing it (Dovecot's dsync_mail_get_hdr_hash
// with header hash version 3): CRLF becomes LF, spaces are dropped, and
// every run of control, 8-bit and '?' characters other than tab and LF
// becomes one '?'.
func dsyncHeaderKey(b []byte) string {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	out := make([]byte, 0, len(b))
	q := false
	for _, c := range b {
		switch {
		case c == ' ':
			q = false
		case c == '\t' || c == '\n':
			out, q = append(out, c), false
		case c < 0x20 || c >= 0x7f || c == '?':
			if !q {
				out = append(out, '?')
			}
			q = true
		default:
			out, q = append(out, c), false
		}
	}
	return string(out)
}

// hashedFields is what dsync's imapc fetches to match messages.
var hashedFields = &imap.FetchItemBodySection{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Date", "Message-ID"}}

// headerFields fetches UID → BODY[HEADER.FIELDS (Date Message-ID)] of the
// selected folder.
func headerFields(t *testing.T, c *imapclient.Client, folder string) map[imap.UID][]byte {
	t.Helper()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("select %s: %v", folder, err)
	}
	msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{hashedFields}}).Collect()
	if err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	out := make(map[imap.UID][]byte, len(msgs))
	for _, m := range msgs {
		out[m.UID] = m.FindBodySection(hashedFields)
	}
	return out
}

// headerHashDivergence compares, message by message (same folder, same
// UID: dsync keeps UIDs), our server's BODY[HEADER.FIELDS (Date
// Message-ID)] with the Dovecot listener's for its copy, normalised as
// dsync hashes them. Every divergent message must contain a bare CR (the
// documented difference); they are logged and returned by folder.
func headerHashDivergence(t *testing.T, s *scenario.Server, mailboxID int64, ourUser, dovecotAddr, dovecotUser string) map[string]mailstore.UIDSet {
	t.Helper()
	ours, folders := imapFolders(t, s.Addr("imap"), ourUser)
	theirs, _ := imapFolders(t, dovecotAddr, dovecotUser)
	out := map[string]mailstore.UIDSet{}
	compared, n := 0, 0
	for _, f := range folders {
		a, b := headerFields(t, ours, f), headerFields(t, theirs, f)
		if len(a) != len(b) {
			t.Errorf("%s: %d messages here, %d in Dovecot's copy", f, len(a), len(b))
		}
		for uid, ha := range a {
			hb, ok := b[uid]
			if !ok {
				t.Errorf("%s: UID %d is not in Dovecot's copy (dsync keeps UIDs)", f, uid)
				continue
			}
			compared++
			if dsyncHeaderKey(ha) == dsyncHeaderKey(hb) {
				continue
			}
			n++
			t.Errorf("%s UID %d: dsync header hashes differ:\n ours:    %q\n Dovecot: %q", f, uid, ha, hb)
			out[f] = append(out[f], mailstore.UIDRange{Start: uint32(uid), Stop: uint32(uid)})
		}
	}
	t.Logf("dsync header hash: %d messages compared, %d differ", compared, n)
	return out
}

// mustFolder returns the store folder ID of an IMAP folder name.
func mustFolder(t *testing.T, s *scenario.Server, mailboxID int64, name string) int64 {
	t.Helper()
	f, err := s.Store.FolderByPath(bg, mailboxID, name)
	if err != nil {
		t.Fatalf("folder %s: %v", name, err)
	}
	return f.ID
}

// expungeUIDs sets \Deleted on messages of a folder and expunges them.
func expungeUIDs(t *testing.T, s *scenario.Server, mailboxID, folderID int64, uids mailstore.UIDSet) {
	t.Helper()
	if _, err := s.Store.StoreFlags(bg, mailboxID, folderID, uids, mailstore.FlagsAdd, []string{`\Deleted`}); err != nil {
		t.Fatal(err)
	}
	gone, err := s.Store.Expunge(bg, mailboxID, folderID, uids)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != len(uids) {
		t.Fatalf("expunged %d of %d messages", len(gone), len(uids))
	}
}
