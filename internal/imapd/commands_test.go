package imapd_test

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

const sampleMsg = "From: Bob Sender <bob@example.test>\r\n" +
	"To: Alice <alice@contoso.tenantferry.test>\r\n" +
	"Subject: =?utf-8?q?Caf=C3=A9?= menu\r\n" +
	"Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n" +
	"Message-ID: <menu@example.test>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Soup of the day: tomato\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Cr=E8me br=FBl=E9e\r\n" +
	"--b1--\r\n"

// appendMsg appends a message with go-imap and returns its UID.
func appendMsg(t testing.TB, c *imapclient.Client, mailbox, msg string, opts *imap.AppendOptions) imap.UID {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), opts)
	if _, err := io.WriteString(cmd, msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return data.UID
}

// TestCommands walks the commands a mail client uses, over a go-imap
// client: LIST (special use, hidden folders, children, subscriptions),
// STATUS, CREATE/RENAME/DELETE, APPEND with flags and date, SELECT data,
// FETCH items and sections, SEARCH, STORE, COPY/MOVE with COPYUID, EXPUNGE.
func TestCommands(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice", "smtp:al@contoso.tenantferry.test")
		c := e.login(t, "al@contoso.tenantferry.test", nil) // a proxy address logs in too

		// LIST: mail folders only, INBOX, special use, delimiter.
		list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string][]imap.MailboxAttr{}
		for _, l := range list {
			names[l.Mailbox] = l.Attrs
			if l.Delim != '/' {
				t.Errorf("delimiter %q", l.Delim)
			}
			if l.Status == nil || l.Status.NumMessages == nil {
				t.Errorf("LIST-STATUS missing for %s", l.Mailbox)
			}
		}
		for _, want := range []string{"INBOX", "Sent Items", "Drafts", "Deleted Items", "Junk Email", "Archive"} {
			if _, ok := names[want]; !ok {
				t.Errorf("LIST lacks %q: %v", want, names)
			}
		}
		for _, hidden := range []string{"Calendar", "Contacts", "Tasks"} {
			if _, ok := names[hidden]; ok {
				t.Errorf("LIST shows %s", hidden)
			}
		}
		if !hasAttr(names["Sent Items"], imap.MailboxAttrSent) || !hasAttr(names["Deleted Items"], imap.MailboxAttrTrash) ||
			!hasAttr(names["Junk Email"], imap.MailboxAttrJunk) || !hasAttr(names["INBOX"], imap.MailboxAttrHasNoChildren) {
			t.Errorf("attributes: %v", names)
		}
		if _, err := c.Select("Calendar", nil).Wait(); err == nil {
			t.Error("SELECT Calendar succeeded")
		}

		// CREATE, children, RENAME, subscriptions, DELETE.
		for _, n := range []string{"Projects/2024", "INBOX/Receipts", "Trash me"} {
			if err := c.Create(n, nil).Wait(); err != nil {
				t.Fatalf("create %s: %v", n, err)
			}
		}
		if err := c.Create("Projects", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
			t.Errorf("create existing: %v", err)
		}
		if err := c.Rename("Projects", "Work", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Unsubscribe("Work/2024").Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete("Trash me").Wait(); err != nil {
			t.Fatal(err)
		}
		list, _ = c.List("", "*", nil).Collect()
		got := map[string][]imap.MailboxAttr{}
		for _, l := range list {
			got[l.Mailbox] = l.Attrs
		}
		if !hasAttr(got["Work"], imap.MailboxAttrHasChildren) || got["Work/2024"] == nil || got["INBOX/Receipts"] == nil ||
			!hasAttr(got["INBOX"], imap.MailboxAttrHasChildren) || got["Trash me"] != nil || got["Projects"] != nil {
			t.Errorf("after create/rename/delete: %v", got)
		}
		sub, _ := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
		for _, l := range sub {
			if l.Mailbox == "Work/2024" {
				t.Error("unsubscribed folder listed as subscribed")
			}
		}
		if pct, _ := c.List("", "%", nil).Collect(); len(pct) == 0 || containsMailbox(pct, "Work/2024") {
			t.Errorf("%% matched a subfolder: %v", pct)
		}

		// APPEND with flags and internal date; STATUS.
		date := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
		uid := appendMsg(t, c, "INBOX", sampleMsg, &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged, "$Label1"}, Time: date})
		second := "Subject: second\r\n\r\nhello world\r\n"
		appendMsg(t, c, "INBOX", second, nil)
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != 2 || *st.NumUnseen != 2 || st.UIDNext != uid+2 || st.UIDValidity == 0 || *st.Size != int64(len(sampleMsg)+len(second)) {
			t.Errorf("status messages %d unseen %d uidnext %d (uid %d) size %d (want %d)", *st.NumMessages, *st.NumUnseen, st.UIDNext, uid, *st.Size, len(sampleMsg)+len(second))
		}

		// SELECT, FETCH.
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages != 2 || sel.UIDValidity != st.UIDValidity || sel.UIDNext != st.UIDNext || !flagSet(sel.PermanentFlags)[imap.FlagWildcard] {
			t.Errorf("select %+v", sel)
		}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
			Flags: true, InternalDate: true, RFC822Size: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection: []*imap.FetchItemBodySection{
				{Peek: true},
				{Peek: true, Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject", "From"}},
				{Peek: true, Part: []int{2}},
				{Peek: true, Part: []int{2}, Specifier: imap.PartSpecifierMIME},
				{Peek: true, Specifier: imap.PartSpecifierText},
				{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 3}},
			},
		}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch: %v %v", msgs, err)
		}
		m := msgs[0]
		if !flagSet(m.Flags)[imap.FlagFlagged] || !flagSet(m.Flags)["$Label1"] || flagSet(m.Flags)[imap.FlagSeen] {
			t.Errorf("flags %v", m.Flags)
		}
		if !m.InternalDate.Equal(date) || m.RFC822Size != int64(len(sampleMsg)) {
			t.Errorf("date %v size %d", m.InternalDate, m.RFC822Size)
		}
		if m.Envelope.Subject != "Café menu" || m.Envelope.MessageID != "menu@example.test" || len(m.Envelope.From) != 1 || m.Envelope.From[0].Host != "example.test" {
			t.Errorf("envelope %+v", m.Envelope)
		}
		mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
		if !ok || len(mp.Children) != 2 || mp.Subtype != "mixed" {
			t.Fatalf("bodystructure %#v", m.BodyStructure)
		}
		if p2 := mp.Children[1].(*imap.BodyStructureSinglePart); p2.Encoding != "quoted-printable" || p2.Params["charset"] != "iso-8859-1" {
			t.Errorf("part 2 %+v", p2)
		}
		sections := map[string]string{}
		for _, bs := range m.BodySection {
			sections[sectionName(bs.Section)] = string(bs.Bytes)
		}
		hdrEnd := strings.Index(sampleMsg, "\r\n\r\n") + 4
		for name, want := range map[string]string{
			"":              sampleMsg,
			"HEADER.FIELDS": "From: Bob Sender <bob@example.test>\r\nSubject: =?utf-8?q?Caf=C3=A9?= menu\r\n\r\n",
			"2":             "Cr=E8me br=FBl=E9e",
			"2.MIME":        "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
			"TEXT":          sampleMsg[hdrEnd:],
			"<6>":           sampleMsg[6:9],
		} {
			if sections[name] != want {
				t.Errorf("BODY[%s] = %q, want %q", name, sections[name], want)
			}
		}

		// A body fetch without PEEK sets \Seen.
		msgs, _ = c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Part: []int{1}}}}).Collect()
		if len(msgs) != 1 || !flagSet(msgs[0].Flags)[imap.FlagSeen] || string(msgs[0].BodySection[0].Bytes) != "Soup of the day: tomato" {
			t.Errorf("BODY[1] without PEEK: %+v", msgs)
		}

		// SEARCH.
		for _, tc := range []struct {
			name string
			crit imap.SearchCriteria
			want []imap.UID
		}{
			{"from", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "bob sender"}}}, []imap.UID{uid}},
			{"subject decoded", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "café"}}}, []imap.UID{uid}},
			{"header", imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "menu@"}}}, []imap.UID{uid}},
			{"body qp latin1", imap.SearchCriteria{Body: []string{"crème brûlée"}}, []imap.UID{uid}},
			{"text", imap.SearchCriteria{Text: []string{"HELLO"}}, []imap.UID{uid + 1}},
			{"seen", imap.SearchCriteria{Flag: []imap.Flag{imap.FlagSeen}}, []imap.UID{uid}},
			{"unseen", imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []imap.UID{uid + 1}},
			{"keyword", imap.SearchCriteria{Flag: []imap.Flag{"$label1"}}, []imap.UID{uid}},
			{"before", imap.SearchCriteria{Before: time.Date(2023, 5, 7, 0, 0, 0, 0, time.UTC)}, []imap.UID{uid}},
			{"on", imap.SearchCriteria{Since: time.Date(2023, 5, 6, 0, 0, 0, 0, time.UTC), Before: time.Date(2023, 5, 7, 0, 0, 0, 0, time.UTC)}, []imap.UID{uid}},
			{"sentsince", imap.SearchCriteria{SentSince: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, []imap.UID{uid, uid + 1}},
			{"sentbefore", imap.SearchCriteria{SentBefore: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}, nil},
			{"larger", imap.SearchCriteria{Larger: 100}, []imap.UID{uid}},
			{"smaller", imap.SearchCriteria{Smaller: 100}, []imap.UID{uid + 1}},
			{"uid", imap.SearchCriteria{UID: []imap.UIDSet{imap.UIDSetNum(uid + 1)}}, []imap.UID{uid + 1}},
			{"not", imap.SearchCriteria{Not: []imap.SearchCriteria{{Larger: 100}}}, []imap.UID{uid + 1}},
			{"or", imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Smaller: 100}, {Flag: []imap.Flag{imap.FlagFlagged}}}}}, []imap.UID{uid, uid + 1}},
		} {
			data, err := c.UIDSearch(&tc.crit, nil).Wait()
			if err != nil {
				t.Fatalf("search %s: %v", tc.name, err)
			}
			if got := data.AllUIDs(); !equalUIDs(got, tc.want) {
				t.Errorf("search %s: %v, want %v", tc.name, got, tc.want)
			}
		}

		// STORE, COPY, MOVE, EXPUNGE.
		if err := c.Store(imap.UIDSetNum(uid+1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		cp, err := c.Copy(imap.UIDSetNum(uid, uid+1), "Archive").Wait()
		if err != nil || cp.UIDValidity == 0 || len(cp.DestUIDs) == 0 {
			t.Fatalf("copy %+v %v", cp, err)
		}
		mv, err := c.Move(imap.UIDSetNum(uid), "INBOX/Receipts").Wait()
		if err != nil || mv.UIDValidity == 0 {
			t.Fatalf("move %+v %v", mv, err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		st, _ = c.Status("Archive", &imap.StatusOptions{NumMessages: true}).Wait()
		st2, _ := c.Status("INBOX/Receipts", &imap.StatusOptions{NumMessages: true}).Wait()
		st3, _ := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		if *st.NumMessages != 2 || *st2.NumMessages != 1 || *st3.NumMessages != 0 {
			t.Errorf("after copy/move/expunge: archive %d receipts %d inbox %d", *st.NumMessages, *st2.NumMessages, *st3.NumMessages)
		}
		if c.Mailbox().NumMessages != 0 {
			t.Errorf("client still sees %d messages", c.Mailbox().NumMessages)
		}
		// The moved item kept its content.
		if _, err := c.Select("INBOX/Receipts", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, _ = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if len(msgs) != 1 || !bytes.Equal(msgs[0].BodySection[0].Bytes, []byte(sampleMsg)) {
			t.Errorf("moved message differs")
		}
		_ = addr
	})
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

func containsMailbox(l []*imap.ListData, name string) bool {
	for _, x := range l {
		if x.Mailbox == name {
			return true
		}
	}
	return false
}

func equalUIDs(a, b []imap.UID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sectionName names a body section for test tables: "" for BODY[],
// "2.MIME", "HEADER.FIELDS", "<6>" for a partial BODY[].
func sectionName(s *imap.FetchItemBodySection) string {
	var parts []string
	for _, p := range s.Part {
		parts = append(parts, itoa(p))
	}
	spec := string(s.Specifier)
	if len(s.HeaderFields) > 0 {
		spec = "HEADER.FIELDS"
	}
	if spec != "" {
		parts = append(parts, spec)
	}
	name := strings.Join(parts, ".")
	if s.Partial != nil {
		name += "<" + itoa(int(s.Partial.Offset)) + ">"
	}
	return name
}

func itoa(i int) string { return strconv.Itoa(i) }
