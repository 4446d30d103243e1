package imapd_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// TestCorpusByteExact is issue 3's acceptance criterion 1: every message of
// the shared corpus (mbox files split into messages, maildir messages,
// single files) is imported into a mailbox (mailstore AppendMany) and read
// back over IMAP BODY[] with go-imap's client byte for byte (SHA-256 per
// message); the same holds for messages stored through IMAP APPEND. On
// the imported copy, FETCH ENVELOPE, BODYSTRUCTURE and the HEADER, TEXT,
// 1 and 1.MIME sections must succeed for every message, HEADER followed by
// TEXT must equal BODY[], and SEARCH must run over all of them. Runs a full
// server on SQLite and (with TENANTFERRY_TEST_POSTGRES) PostgreSQL.
func TestCorpusByteExact(t *testing.T) {
	msgs := corpus.Messages(t)
	t.Logf("corpus: %d messages", len(msgs))
	if testing.Short() {
		msgs = msgs[:200]
	}
	eachFull(t, func(t *testing.T, e *env) {
		addr := e.user(t, "corpus")
		c := e.login(t, addr, nil) // creates the mailbox
		mb := e.mailbox(t, addr)
		inbox := e.folder(t, mb, "INBOX")

		imported := map[imap.UID]corpus.Message{}
		for start := 0; start < len(msgs); start += 200 {
			batch := msgs[start:min(start+200, len(msgs))]
			items := make([]mailstore.AppendItem, len(batch))
			for i, m := range batch {
				items[i] = mailstore.AppendItem{FolderID: inbox.ID, Content: bytes.NewReader(m.Data), Flags: mailstore.CleanFlags(m.Flags),
					InternalDate: time.Unix(1700000000, 0)}
			}
			out, err := e.Store.AppendMany(bg, mb.ID, items, nil)
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			for i, a := range out {
				imported[imap.UID(a.UID)] = batch[i]
			}
		}
		n := checkBodies(t, c, "INBOX", imported)
		t.Logf("imported %d messages, %d read back byte-identical over IMAP BODY[]", len(msgs), n)
		checkSections(t, c, imported)

		if err := c.Create("Appended", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		appended := map[imap.UID]corpus.Message{}
		for _, m := range msgs {
			uid := appendMsg(t, c, "Appended", string(m.Data), &imap.AppendOptions{Time: time.Unix(1700000000, 0)})
			appended[uid] = m
		}
		n = checkBodies(t, c, "Appended", appended)
		t.Logf("appended %d messages over IMAP, %d read back byte-identical", len(msgs), n)
	})
}

// checkBodies selects a folder, streams UID, RFC822.SIZE and BODY.PEEK[]
// of every message and compares their SHA-256 with the expected messages.
// It returns the number of identical messages.
func checkBodies(t *testing.T, c *imapclient.Client, folder string, want map[imap.UID]corpus.Message) int {
	t.Helper()
	sel, err := c.Select(folder, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if int(sel.NumMessages) != len(want) {
		t.Fatalf("%s has %d messages, want %d", folder, sel.NumMessages, len(want))
	}
	cmd := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	same, failures := 0, 0
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		var uid imap.UID
		var size int64
		var sum string
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = item.UID
			case imapclient.FetchItemDataRFC822Size:
				size = item.Size
			case imapclient.FetchItemDataBodySection:
				h := sha256.New()
				if _, err := io.Copy(h, item.Literal); err != nil {
					t.Fatal(err)
				}
				sum = hex.EncodeToString(h.Sum(nil))
			}
		}
		m, ok := want[uid]
		switch {
		case !ok:
			t.Errorf("%s: unexpected UID %d", folder, uid)
		case sum != m.SHA256() || size != int64(len(m.Data)):
			if failures++; failures <= 20 {
				t.Errorf("%s: %s differs over IMAP (size %d, want %d)", folder, m.Name, size, len(m.Data))
			}
		default:
			same++
		}
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("fetch %s: %v", folder, err)
	}
	if same != len(want) {
		t.Errorf("%s: %d of %d messages byte-identical", folder, same, len(want))
	}
	return same
}

// checkSections fetches the parsed items of every message of the selected
// folder in chunks and checks that HEADER+TEXT reassemble BODY[].
func checkSections(t *testing.T, c *imapclient.Client, want map[imap.UID]corpus.Message) {
	t.Helper()
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var total imap.UID
	for uid := range want {
		total = max(total, uid)
	}
	checked := 0
	for start := imap.UID(1); start <= total; start += 100 {
		msgs, err := c.Fetch(imap.UIDSet{{Start: start, Stop: start + 99}}, &imap.FetchOptions{UID: true, Envelope: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{Peek: true, Specifier: imap.PartSpecifierHeader},
				{Peek: true, Specifier: imap.PartSpecifierText},
				{Peek: true, Part: []int{1}},
				{Peek: true, Part: []int{1}, Specifier: imap.PartSpecifierMIME},
				{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"From", "Subject"}},
			}}).Collect()
		if err != nil {
			t.Fatalf("fetch parsed items of UIDs %d-: %v", start, err)
		}
		for _, m := range msgs {
			cm := want[m.UID]
			if m.Envelope == nil || m.BodyStructure == nil {
				t.Errorf("%s: no envelope or body structure", cm.Name)
				continue
			}
			hdr := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader})
			text := m.FindBodySection(&imap.FetchItemBodySection{Specifier: imap.PartSpecifierText})
			if !bytes.Equal(append(append([]byte{}, hdr...), text...), cm.Data) {
				t.Errorf("%s: HEADER (%d bytes) + TEXT (%d bytes) is not the message (%d bytes)", cm.Name, len(hdr), len(text), len(cm.Data))
			}
			if !bytes.HasPrefix(cm.Data, hdr) || !bytes.Contains(cm.Data, m.FindBodySection(&imap.FetchItemBodySection{Part: []int{1}})) {
				t.Errorf("%s: sections are not slices of the message", cm.Name)
			}
			checked++
		}
	}
	if checked != len(want) {
		t.Errorf("parsed items for %d of %d messages", checked, len(want))
	}
	for _, crit := range []imap.SearchCriteria{
		{Text: []string{"no such text anywhere 7f3a"}},
		{Body: []string{"the"}},
		{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "re"}}},
		{Header: []imap.SearchCriteriaHeaderField{{Key: "To", Value: "enron"}}},
	} {
		data, err := c.UIDSearch(&crit, nil).Wait()
		if err != nil {
			t.Fatalf("search %+v: %v", crit, err)
		}
		if len(crit.Text) > 0 && len(data.AllUIDs()) != 0 {
			t.Errorf("search for absent text matched %v", data.AllUIDs())
		}
		if len(crit.Body) > 0 && len(data.AllUIDs()) < len(want)/2 {
			t.Errorf("BODY \"the\" matched only %d messages", len(data.AllUIDs()))
		}
	}
}
