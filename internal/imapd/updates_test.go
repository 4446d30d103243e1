package imapd_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// update is a unilateral response a client received.
type update struct {
	kind  string // "exists", "expunge", "fetch"
	n     uint32 // EXISTS count or sequence number
	flags []imap.Flag
}

// recorder returns a handler that sends every unilateral response to a
// channel.
func recorder() (*imapclient.UnilateralDataHandler, chan update) {
	ch := make(chan update, 1000)
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { ch <- update{kind: "expunge", n: seq} },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				ch <- update{kind: "exists", n: *d.NumMessages}
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, _ := m.Collect()
			if buf != nil {
				ch <- update{kind: "fetch", n: buf.SeqNum, flags: buf.Flags}
			}
		},
	}, ch
}

// expectUpdate waits for the next update and checks it.
func expectUpdate(t *testing.T, ch chan update, kind string, n uint32, flag imap.Flag) {
	t.Helper()
	u := waitFor(t, ch, kind)
	if u.kind != kind || u.n != n || (flag != "" && !flagSet(u.flags)[flag]) {
		t.Fatalf("got update %+v, want %s %d %s", u, kind, n, flag)
	}
}

// noUpdates checks that nothing is pending after a round trip.
func noUpdates(t *testing.T, c *imapclient.Client, ch chan update, who string) {
	t.Helper()
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-ch:
		t.Errorf("%s got an unexpected update %+v", who, u)
	default:
	}
}

// TestSessionUpdates checks that sessions of the same mailbox see each
// other's changes: a client in IDLE gets EXISTS for an APPEND of another
// session and for a delivery straight into the store, FETCH FLAGS for a
// STORE, and EXPUNGE; a session not idling gets them with its next
// command; and the session making a change is told about it exactly once.
func TestSessionUpdates(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		ha, chA := recorder()
		hb, chB := recorder()
		hc, chC := recorder()
		a := e.login(t, addr, ha)
		b := e.login(t, addr, hb)
		c := e.login(t, addr, hc)
		for _, cl := range []*imapclient.Client{a, b, c} {
			if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
		}

		idle, err := b.Idle()
		if err != nil {
			t.Fatal(err)
		}
		appendMsg(t, a, "INBOX", "Subject: one\r\n\r\n1\r\n", nil)
		expectUpdate(t, chB, "exists", 1, "")
		expectUpdate(t, chA, "exists", 1, "") // reported to a in its APPEND

		// Local delivery writes to the store directly.
		mb := e.mailbox(t, addr)
		if _, err := e.Store.Append(bg, mb.ID, mailstore.AppendItem{FolderID: e.folder(t, mb, "INBOX").ID,
			Content: strings.NewReader("Subject: two\r\n\r\n2\r\n")}); err != nil {
			t.Fatal(err)
		}
		expectUpdate(t, chB, "exists", 2, "")

		// STORE in a: b (idling) gets FETCH FLAGS; a gets no unilateral
		// FETCH for its own change, silent or not.
		if err := a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		expectUpdate(t, chB, "fetch", 1, imap.FlagFlagged)
		if err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		expectUpdate(t, chB, "fetch", 2, imap.FlagDeleted)
		expectUpdate(t, chA, "exists", 2, "") // the delivery, with a's next command
		noUpdates(t, a, chA, "a after its own STORE")

		// EXPUNGE in a: a gets its EXPUNGE once (in the command), b too.
		seqs, err := a.Expunge().Collect()
		if err != nil || len(seqs) != 1 || seqs[0] != 2 {
			t.Fatalf("expunge: %v %v", seqs, err)
		}
		expectUpdate(t, chB, "expunge", 2, "")
		noUpdates(t, a, chA, "a after its own EXPUNGE")
		if a.Mailbox().NumMessages != 1 {
			t.Errorf("a sees %d messages", a.Mailbox().NumMessages)
		}

		// MOVE away in a: b sees the expunge.
		if _, err := a.Move(imap.SeqSetNum(1), "Archive").Wait(); err != nil {
			t.Fatal(err)
		}
		expectUpdate(t, chB, "expunge", 1, "")
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
		expectUpdate(t, chA, "expunge", 1, "") // the client reports MOVE's EXPUNGE as unilateral
		noUpdates(t, a, chA, "a after its own MOVE")
		noUpdates(t, b, chB, "b after IDLE")

		// c did not idle: it gets everything, in order, with its next
		// command (consecutive arrivals in one EXISTS).
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		// go-imap's client hands unilateral FETCH data to its handler in a
		// goroutine, so only the other updates are in wire order here.
		var got []string
		fetched := map[uint32]bool{}
		for len(got)+len(fetched) < 5 {
			u := waitFor(t, chC, "update for c")
			if u.kind == "fetch" {
				fetched[u.n] = true
				continue
			}
			got = append(got, u.kind+" "+itoa(int(u.n)))
		}
		want := "exists 2,expunge 2,expunge 1" // one EXISTS for the two arrivals
		if strings.Join(got, ",") != want || len(fetched) != 2 || !fetched[1] || !fetched[2] {
			t.Errorf("c got %v and FETCH for %v, want %s and FETCH for 1 and 2", got, fetched, want)
		}
		noUpdates(t, c, chC, "c")
		if c.Mailbox().NumMessages != 0 || b.Mailbox().NumMessages != 0 {
			t.Errorf("b sees %d, c sees %d messages", b.Mailbox().NumMessages, c.Mailbox().NumMessages)
		}
	})
}

// TestIdleAcrossFolders checks that an IDLE in one folder is not
// disturbed by changes in another, and that a session selecting a folder
// others already have open gets a consistent view.
func TestIdleAcrossFolders(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		addr := e.user(t, "alice")
		h, ch := recorder()
		a := e.login(t, addr, nil)
		b := e.login(t, addr, h)
		if _, err := a.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Select("Archive", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		idle, err := b.Idle()
		if err != nil {
			t.Fatal(err)
		}
		appendMsg(t, a, "INBOX", "Subject: x\r\n\r\nx\r\n", nil)
		appendMsg(t, a, "Archive", "Subject: y\r\n\r\ny\r\n", nil)
		expectUpdate(t, ch, "exists", 1, "")
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
		sel, err := b.Select("INBOX", nil).Wait()
		if err != nil || sel.NumMessages != 1 {
			t.Fatalf("select INBOX: %+v %v", sel, err)
		}
		noUpdates(t, b, ch, "b after reselect")
	})
}
