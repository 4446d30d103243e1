package imapd_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/dovecot"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// dovecotPassword is the IMAP password of the interop tests' users (with
// spaces and quotes, which the imapc configuration must carry).
const dovecotPassword = `dove "cot" pw`

// skipWithoutDovecot skips a test when the Dovecot binaries are missing.
func skipWithoutDovecot(t *testing.T, listener bool) {
	t.Helper()
	_, err := dovecot.Doveadm()
	if err == nil && listener {
		_, err = dovecot.Dovecot()
	}
	if errors.Is(err, dovecot.ErrNotInstalled) {
		t.Skipf("%v; it is the peer of the Dovecot interop tests", err)
	}
}

// TestDovecotPullsFromUs is docs/architecture.md §10's interop test with Dovecot as the
// client of our IMAP server: Dovecot's dsync with the imapc storage
// (`doveadm backup -R imapc:`, a private configuration, Maildir with
// mail_save_crlf = yes) copies a mailbox holding every message of the
// shared corpus, spread over INBOX and one folder per corpus source, with
// system flags and keywords, from a running tenantferry server.
//
// What it proves:
//   - On the wire (a recording proxy between doveadm and our server),
//     every BODY[] our server sent is a stored message byte for byte, and
//     every stored message was sent.
//   - Per folder, the Maildir holds exactly the source's multiset of
//     (content, flags, internal date), read from the files: the maildir
//     info suffix and dovecot-keywords give the flags, the file's mtime the
//     internal date. Dovecot's save path converts bare LF to CRLF (its
//     mail_save_crlf conversion, which no setting turns off), so a message
//     is compared byte for byte when it already uses CRLF and against that
//     conversion otherwise; both counts are logged.
//   - dsync's incremental passes match messages by a hash of the Date and
//     Message-ID fields (imapc fetches BODY[HEADER.FIELDS (Date
//     Message-ID)]). For every message, our answer is compared with
//     Dovecot's own answer for its copy (served by a Dovecot listener on the
//     Maildir, same UIDs), normalised as dsync does: they must agree for
//     every message, CR-only ones included (a lone CR ends no line for
//     either server), or dsync would re-copy a folder on every pass.
//   - After source changes (flags set and cleared, expunges, moves, a new
//     message in a new folder) a second backup converges to the source; a
//     third, without changes, renames, adds or removes no file.
func TestDovecotPullsFromUs(t *testing.T) {
	skipWithoutDovecot(t, true)
	items := dovecotItems(t)
	ctx, cancel := context.WithTimeout(bg, 10*time.Minute)
	defer cancel()

	s := scenario.Start(t, scenario.Options{IMAP: "127.0.0.1:0", SMTP: "off"})
	s.Tenant("contoso")
	r := s.Mailbox("contoso", "dove", dovecotPassword, false)
	mb := s.Content("contoso", r.ExchangeGuid)
	scenario.Fill(t, s.Store, mb.ID, items)
	bySHA := contentIndex(items)
	proxy := newTap(t, s.Addr("imap"))

	listen := scenario.FreeAddr(t)
	peer, err := dovecot.New(dovecot.Options{
		IMAPC:    &dovecot.IMAPC{Addr: proxy.Addr(), User: r.PrimarySmtpAddress, Password: dovecotPassword},
		Listen:   listen,
		Users:    map[string]string{"copy": dovecotPassword},
		Settings: []string{"mail_save_crlf = yes"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	backup := func(pass string) {
		t.Helper()
		start := time.Now()
		out, err := peer.Doveadm(ctx, "copy", "backup", "-R", "imapc:")
		if err != nil {
			t.Fatalf("%s: %v", pass, err)
		}
		t.Logf("%s: doveadm backup -R imapc: took %.1fs %s", pass, time.Since(start).Seconds(), strings.TrimSpace(string(out)))
	}
	compare := func(pass string) {
		t.Helper()
		src := inboxAsIMAP(scenario.Take(t, s.Store, mb.ID))
		want, identical, converted := dovecotExpect(t, src, bySHA)
		got := readMaildir(t, peer.MailDir("copy"))
		if d := scenario.Diff(want, got.snapshot); d != "" {
			t.Errorf("%s: the Maildir differs from the source (want: source, got: Maildir):\n%s", pass, d)
		}
		for f := range src {
			if _, ok := got.snapshot[f]; !ok {
				t.Errorf("%s: folder %q is missing from the Maildir", pass, f)
			}
		}
		t.Logf("%s: source %d messages in %d folders; Maildir %d files: %d byte-identical to the source, %d differ only by Dovecot's CRLF save conversion",
			pass, src.Count(), len(src), got.snapshot.Count(), identical, converted)
	}

	// 1. The initial copy, checked on the wire and on disk.
	backup("initial copy")
	_, toClient := proxy.take(t)
	sent := map[string]int{}
	for _, stream := range toClient {
		for _, l := range literals(t, stream) {
			if strings.HasSuffix(string(l.prefix), "BODY[]") {
				sent[sha(l.data)]++
			}
		}
	}
	stored := map[string]int{}
	for _, it := range items {
		stored[sha(it.Data)]++
	}
	wire, foreign := 0, 0
	for sum, n := range sent {
		if stored[sum] == 0 {
			foreign += n
			t.Errorf("our server sent a BODY[] (SHA-256 %s, %d times) that is no stored message", sum[:16], n)
		}
		wire += n
	}
	for sum, n := range stored {
		if sent[sum] < n {
			t.Errorf("stored message %s (%d copies) was sent %d times", sum[:16], n, sent[sum])
		}
	}
	t.Logf("wire: %d BODY[] literals sent for %d stored messages; %d not byte-identical to a stored message", wire, len(items), foreign)
	compare("initial copy")

	// 2. dsync's header hash: our HEADER.FIELDS (Date Message-ID) against
	// Dovecot's for the same messages.
	if err := peer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	divergent := headerHashDivergence(t, s, mb.ID, r.PrimarySmtpAddress, listen, "copy")
	if err := peer.Stop(); err != nil {
		t.Fatal(err)
	}
	for folder, uids := range divergent {
		expungeUIDs(t, s, mb.ID, mustFolder(t, s, mb.ID, folder), uids)
	}

	// 3. Changes on the source, then an incremental backup.
	changeSource(t, s, mb.ID, bySHA)
	backup("after changes")
	compare("after changes")

	// 4. No change: no file changes.
	before := readMaildir(t, peer.MailDir("copy"))
	backup("no change")
	after := readMaildir(t, peer.MailDir("copy"))
	if d := scenario.Diff(before.files, after.files); d != "" {
		t.Errorf("a backup without source changes changed files:\n%s", d)
	}
	proxy.take(t)
}

// TestDovecotPushesToUs is docs/architecture.md §10's interop test with Dovecot as the
// source: a private Dovecot listener serves a Maildir holding every
// message of the shared corpus (INBOX and one folder per corpus source,
// system flags and keywords, mtimes as internal dates), and Dovecot's own
// IMAP client writes the mailbox into our IMAP server: `doveadm import`
// from that Maildir into the user's storage set to imapc: (CREATE, APPEND
// with flags, internal date and literals). That is the only Dovecot path
// that writes into a foreign server: dsync cannot use imapc as its
// destination (`doveadm sync -1 imapc:` fails with "Backend didn't update
// mailbox GUID", `doveadm backup imapc:` tries to delete INBOX). A copier
// over go-imap would exercise our server only with the library it is
// built on.
//
// A recording proxy captures every APPEND. The test proves that our store
// holds, per folder, exactly the multiset of (bytes, flags, internal date)
// Dovecot appended, with the flags and dates its listener reports; it logs
// how the appended bytes relate to the Maildir files (Dovecot sends bare
// LF as CRLF) and to the listener's BODY[] (which also turns NUL into
// 0x80). Messages with keywords but no system flags arrive as "APPEND box
// ( kw ...)", a syntax bug of Dovecot's imapc that the server repairs
// (TestAppendFlagListLeadingSpace).
func TestDovecotPushesToUs(t *testing.T) {
	skipWithoutDovecot(t, true)
	items := dovecotItems(t)
	ctx, cancel := context.WithTimeout(bg, 10*time.Minute)
	defer cancel()

	s := scenario.Start(t, scenario.Options{IMAP: "127.0.0.1:0", SMTP: "off"})
	s.Tenant("contoso")
	r := s.Mailbox("contoso", "pushed", dovecotPassword, false)
	mb := s.Content("contoso", r.ExchangeGuid)
	proxy := newTap(t, s.Addr("imap"))

	listen := scenario.FreeAddr(t)
	peer, err := dovecot.New(dovecot.Options{
		IMAPC:  &dovecot.IMAPC{Addr: proxy.Addr(), User: r.PrimarySmtpAddress, Password: dovecotPassword},
		Listen: listen,
		Users:  map[string]string{"src": dovecotPassword},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	files := writeMaildir(t, peer.MailDir("src"), items)
	if err := peer.Chown(); err != nil {
		t.Fatal(err)
	}
	if err := peer.Start(ctx); err != nil {
		t.Fatal(err)
	}
	served := dovecotView(t, listen, "src")

	start := time.Now()
	out, err := peer.Doveadm(ctx, "src", "-o", "mail_location=imapc:", "import", "maildir:"+peer.MailDir("src"), "", "all")
	if err != nil {
		t.Fatalf("%v\n%s", err, peer.Log())
	}
	t.Logf("doveadm import into imapc: took %.1fs %s", time.Since(start).Seconds(), strings.TrimSpace(string(out)))
	toServer, _ := proxy.take(t)
	appended := appendedSnapshot(t, toServer)
	got := normalizeSnapshot(inboxAsIMAP(scenario.Take(t, s.Store, mb.ID)), true)
	if d := scenario.Diff(appended, got); d != "" {
		t.Errorf("our store differs from what Dovecot appended (want: APPENDs, got: store):\n%s", d)
	}
	if d := scenario.Diff(normalizeSnapshot(flagsDates(served), false), normalizeSnapshot(flagsDates(got), false)); d != "" {
		t.Errorf("flags or internal dates in our store differ from the Dovecot listener's (want: Dovecot, got: store):\n%s", d)
	}
	if got.Count() != len(items) {
		t.Errorf("our store holds %d messages, want %d", got.Count(), len(items))
	}

	// What Dovecot sent, against the Maildir file and its listener's
	// BODY[] (entries pair up by folder and internal date, unique here).
	item := map[string]scenario.Item{}
	for _, it := range items {
		item[fmt.Sprintf("%s %d", it.Folder, it.Date.Unix()*1000)] = it
	}
	servedSum := map[string]string{}
	for folder, entries := range served {
		for _, e := range entries {
			p := strings.Split(e, " ")
			servedSum[folder+" "+p[2]] = p[0]
		}
	}
	asFile, asCRLF, asServed := 0, 0, 0
	for folder, entries := range got {
		for _, e := range entries {
			p := strings.Split(e, " ")
			k := folder + " " + p[2]
			it, ok := item[k]
			if !ok {
				t.Errorf("%s: stored message %s has no Maildir original", k, p[0][:12])
				continue
			}
			switch p[0] {
			case sha(it.Data):
				asFile++
			case sha(crlf(it.Data)):
				asCRLF++
			default:
				t.Logf("%s: Dovecot appended %s, neither the file (%d bytes, NULs: %v) nor its CRLF form", k, p[0][:12], len(it.Data), bytes.IndexByte(it.Data, 0) >= 0)
			}
			if servedSum[k] == p[0] {
				asServed++
			} else {
				t.Logf("%s: Dovecot appended other bytes than its listener serves as BODY[] (file has NULs: %v; the listener sends NUL as 0x80)", k, bytes.IndexByte(it.Data, 0) >= 0)
			}
		}
	}
	t.Logf("Maildir %d messages in %d folders; Dovecot's imapc appended %d; our store holds %d, each byte-identical to its APPEND literal with its flags and date. Appended bytes: %d the Maildir file, %d its bare-LF-to-CRLF form; %d equal the Dovecot listener's BODY[]",
		len(items), len(files), appended.Count(), got.Count(), asFile, asCRLF, asServed)
}

// dovecotItems returns the shared corpus as items: one folder per corpus
// source plus every tenth message in INBOX, with the corpus's maildir
// flags and a rotation of system flags and keywords.
func dovecotItems(t *testing.T) []scenario.Item {
	items := scenario.CorpusItems(t)
	if testing.Short() {
		items = items[:300]
	}
	extra := [][]string{nil, {`\Seen`}, {`\Seen`, `\Answered`}, {`\Flagged`}, {`\Draft`}, {`$Forwarded`, `\Seen`}, {`\Deleted`}, {`$Label1`, `NonJunk`}}
	for i := range items {
		if i%10 == 0 {
			items[i].Folder = "INBOX"
		}
		items[i].Flags = mailstore.CleanFlags(append(append([]string{}, items[i].Flags...), extra[i%len(extra)]...))
	}
	return items
}

// inboxAsIMAP renames the store's Inbox folder to its IMAP name, INBOX.
func inboxAsIMAP(s scenario.Snapshot) scenario.Snapshot {
	out := scenario.Snapshot{}
	for f, xs := range s {
		if strings.EqualFold(f, "INBOX") {
			f = "INBOX"
		}
		out[f] = xs
	}
	return out
}

// normalizeSnapshot sorts the flags of every "sha flags millis" entry and,
// with seconds, truncates the date to whole seconds (IMAP's resolution).
func normalizeSnapshot(s scenario.Snapshot, seconds bool) scenario.Snapshot {
	out := scenario.Snapshot{}
	for f, xs := range s {
		ys := make([]string, 0, len(xs))
		for _, x := range xs {
			p := strings.Split(x, " ")
			if seconds {
				var ms int64
				fmt.Sscan(p[2], &ms)
				p[2] = fmt.Sprint(ms / 1000 * 1000)
			}
			ys = append(ys, p[0]+" "+sortFlags(p[1])+" "+p[2])
		}
		out[f] = sortedCopy(ys)
	}
	return out
}

// flagsDates replaces the content hash of every entry with "-", for
// comparing flags and dates alone.
func flagsDates(s scenario.Snapshot) scenario.Snapshot {
	out := scenario.Snapshot{}
	for f, xs := range s {
		ys := make([]string, 0, len(xs))
		for _, x := range xs {
			_, rest, _ := strings.Cut(x, " ")
			ys = append(ys, "- "+rest)
		}
		out[f] = ys
	}
	return out
}
