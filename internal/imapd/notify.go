package imapd

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf16"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// NOTIFY (RFC 5465), answered below go-imap (extcmd.go):
//
//	NOTIFY SET [STATUS] (filter (events)) ...
//	NOTIFY NONE
//
// Filters: SELECTED and SELECTED-DELAYED (the selected folder's updates,
// which every session gets anyway), INBOXES, PERSONAL, SUBSCRIBED,
// SUBTREE names and MAILBOXES names. They are resolved when NOTIFY SET
// runs, against the folders the session can see (its own mailbox and its
// mounts, as LIST shows them); a name that names no visible folder
// watches nothing, so another user's or tenant's folder can never be
// watched. Events: MessageNew (STATUS MESSAGES UIDNEXT UIDVALIDITY),
// MessageExpunge (STATUS MESSAGES), FlagChange (STATUS UIDVALIDITY
// HIGHESTMODSEQ) for the watched folders other than the selected one;
// MailboxName and SubscriptionChange (LIST responses for folders of the
// session's own mailbox that appear, disappear or change subscription).
// With STATUS, the watched folders' STATUS is sent at once.
//
// The session's notifier follows the change events of the watched
// mailboxes (mailstore's Hub, which also carries other nodes' changes) on
// its own goroutine. A notification is written at once when no command
// is running (filterConn.writeIfWaiting: go-imap is blocked reading the
// next command and writes nothing until it has one); otherwise it waits
// for the next point where the session may write updates (Poll before a
// command's completion, IDLE).

// notifyCaps is the NOTIFY capability.
const notifyCaps = " NOTIFY"

// notifyEvents are the events a NOTIFY group asks for.
type notifyEvents struct {
	messageNew, messageExpunge, flagChange, mailboxName, subscriptionChange bool
}

// or merges events.
func (e *notifyEvents) or(o notifyEvents) {
	e.messageNew = e.messageNew || o.messageNew
	e.messageExpunge = e.messageExpunge || o.messageExpunge
	e.flagChange = e.flagChange || o.flagChange
	e.mailboxName = e.mailboxName || o.mailboxName
	e.subscriptionChange = e.subscriptionChange || o.subscriptionChange
}

// notifyEventNames are the events NOTIFY knows (RFC 5465 section 5).
var notifyEventNames = "MessageNew MessageExpunge FlagChange AnnotationChange MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange"

// notifyWatch is one watched folder.
type notifyWatch struct {
	mbID, folderID int64
	name           string // IMAP name
	ev             notifyEvents
}

// notifier delivers one session's notifications. Only its own fields are
// used off the session's goroutine.
type notifier struct {
	store    *mailstore.Store
	fc       *filterConn
	ctx      context.Context
	cancel   context.CancelFunc
	watches  map[[2]int64]*notifyWatch // by mailbox and folder ID; fixed once started
	ownMB    int64
	inbox    string // store path of the own \Inbox
	listEv   notifyEvents
	selected atomic.Int64 // the session's selected folder ID, 0 for none

	mu      sync.Mutex
	names   map[string]bool // own mailbox's folder names (MailboxName)
	subs    map[string]bool // subscribed names (SubscriptionChange)
	pending []notifyLine
	wake    chan struct{}
	stopped bool // NOTIFY NONE or a new SET: deliver nothing more
}

// notifyLine is a notification waiting to be written.
type notifyLine struct {
	folderID int64 // 0: not about a folder's messages
	line     string
}

// notifyCommand answers NOTIFY.
func (s *session) notifyCommand(tag, _, args string) []string {
	r := newArgReader(args)
	r.sp()
	if r.word("NONE") && r.eof() {
		s.stopNotify()
		return []string{tag + " OK NOTIFY completed"}
	}
	if !r.word("SET") {
		return []string{tag + " BAD [CLIENTBUG] NOTIFY takes SET or NONE"}
	}
	r.sp()
	status := r.word("STATUS")
	if status {
		r.sp()
	}
	n := &notifier{store: s.srv.store, fc: s.fc, watches: map[[2]int64]*notifyWatch{}, ownMB: s.mb.ID,
		wake: make(chan struct{}, 1)}
	vis, _, inbox, err := s.visibleFolders(false)
	if err != nil {
		return []string{s.statusLine(tag, err)}
	}
	n.inbox = inbox
	var bad string
	for r.err == "" {
		r.expect('(')
		folders, selected := s.notifyFilter(r, vis, inbox)
		r.sp()
		ev, unknown := r.notifyEvents()
		r.expect(')')
		if unknown != "" && bad == "" {
			bad = unknown
		}
		if !selected {
			for _, vf := range folders {
				key := [2]int64{vf.mb.ID, vf.f.ID}
				if n.watches[key] == nil {
					n.watches[key] = &notifyWatch{mbID: vf.mb.ID, folderID: vf.f.ID, name: vf.name}
				}
				n.watches[key].ev.or(ev)
			}
		}
		n.listEv.or(notifyEvents{mailboxName: ev.mailboxName, subscriptionChange: ev.subscriptionChange})
		if r.eof() {
			break
		}
		r.sp()
	}
	if r.err != "" {
		return []string{tag + " BAD [CLIENTBUG] NOTIFY: " + responseText(r.err)}
	}
	if bad != "" {
		return []string{tag + " NO [BADEVENT (" + notifyEventNames + ")] NOTIFY: unknown event " + responseText(strconv.Quote(bad))}
	}
	s.stopNotify()
	n.ctx, n.cancel = context.WithCancel(s.ctx)
	var out []string
	if status {
		for _, w := range n.sortedWatches() {
			if s.sel != nil && s.sel.folder.ID == w.folderID {
				continue
			}
			if l := n.statusLine(w, w.ev); l != "" {
				out = append(out, l)
			}
		}
	}
	n.names, n.subs = n.folderNames()
	s.notify = n
	s.notifySelected()
	n.start()
	return append(out, tag+" OK NOTIFY completed")
}

// notifyFilter reads a filter-mailboxes and returns the visible folders
// it names; selected is set for SELECTED and SELECTED-DELAYED.
func (s *session) notifyFilter(r *argReader, vis []visibleFolder, inbox string) (out []visibleFolder, selected bool) {
	kind := strings.ToUpper(r.atom())
	switch kind {
	case "SELECTED", "SELECTED-DELAYED":
		return nil, true
	case "INBOXES":
		for _, vf := range vis {
			if vf.name == "INBOX" {
				out = append(out, vf)
			}
		}
	case "PERSONAL":
		for _, vf := range vis {
			if vf.mb.ID == s.mb.ID {
				out = append(out, vf)
			}
		}
	case "SUBSCRIBED":
		subs, _, err := s.subscribedNames(inbox)
		if err != nil {
			r.fail("cannot read the subscriptions")
		}
		for _, vf := range vis {
			if subs[vf.name] {
				out = append(out, vf)
			}
		}
	case "SUBTREE", "MAILBOXES":
		r.sp()
		var names []string
		if r.peek() == '(' {
			r.list(func() { names = append(names, decodeMUTF7(r.astring())) })
		} else {
			names = append(names, decodeMUTF7(r.astring()))
		}
		for _, vf := range vis {
			for _, nm := range names {
				if sameName(vf.name, nm) || kind == "SUBTREE" && len(vf.name) > len(nm) && sameName(vf.name[:len(nm)], nm) && vf.name[len(nm)] == delim {
					out = append(out, vf)
					break
				}
			}
		}
	default:
		r.fail("unknown NOTIFY filter " + strconv.Quote(kind))
	}
	return out, false
}

// sameName compares IMAP names; INBOX is case-insensitive.
func sameName(a, b string) bool {
	return a == b || strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX")
}

// notifyEvents reads "NONE" or a parenthesized event list; unknown is the
// first event NOTIFY does not know.
func (r *argReader) notifyEvents() (ev notifyEvents, unknown string) {
	if r.word("NONE") {
		return ev, ""
	}
	r.list(func() {
		name := r.atom()
		switch strings.ToLower(name) {
		case "messagenew":
			ev.messageNew = true
			if r.peek() == ' ' && r.pos+1 < len(r.s) && r.s[r.pos+1] == '(' {
				r.sp()
				r.skipList() // fetch attributes: notifications carry STATUS only
			}
		case "messageexpunge":
			ev.messageExpunge = true
		case "flagchange":
			ev.flagChange = true
		case "mailboxname":
			ev.mailboxName = true
		case "subscriptionchange":
			ev.subscriptionChange = true
		case "annotationchange", "mailboxmetadatachange", "servermetadatachange":
			// nothing here changes them
		default:
			if unknown == "" {
				unknown = name
			}
		}
	})
	return ev, unknown
}

// skipList reads a parenthesized list, nested lists and strings included.
func (r *argReader) skipList() {
	r.list(func() {
		switch r.peek() {
		case '(':
			r.skipList()
		case '"', '{':
			r.astring()
		default:
			start := r.pos
			for !r.eof() && r.s[r.pos] != ' ' && r.s[r.pos] != ')' && r.s[r.pos] != '(' {
				r.pos++
			}
			if r.pos == start {
				r.fail("bad list item")
			}
			if r.peek() == '(' {
				r.skipList() // BODY[HEADER.FIELDS (...)]-like items
				for !r.eof() && r.s[r.pos] != ' ' && r.s[r.pos] != ')' {
					r.pos++
				}
			}
		}
	})
}

// sortedWatches returns the watches by name.
func (n *notifier) sortedWatches() []*notifyWatch {
	out := make([]*notifyWatch, 0, len(n.watches))
	for _, w := range n.watches {
		out = append(out, w)
	}
	slices.SortFunc(out, func(a, b *notifyWatch) int { return strings.Compare(a.name, b.name) })
	return out
}

// statusLine is the STATUS response for a watched folder with the items
// of ev; "" when the folder cannot be read (it was deleted).
func (n *notifier) statusLine(w *notifyWatch, ev notifyEvents) string {
	ctx := n.ctx
	var items []string
	if ev.messageNew || ev.messageExpunge {
		c, err := n.store.FolderCounts(ctx, w.mbID, w.folderID)
		if err != nil {
			return ""
		}
		items = append(items, "MESSAGES "+strconv.FormatInt(c.Messages, 10))
	}
	if ev.messageNew || ev.flagChange {
		f, err := n.store.Folder(ctx, w.mbID, w.folderID)
		if err != nil {
			return ""
		}
		if ev.messageNew {
			items = append(items, "UIDNEXT "+strconv.FormatUint(uint64(f.UIDNext), 10))
		}
		items = append(items, "UIDVALIDITY "+strconv.FormatUint(uint64(f.UIDValidity), 10))
	}
	if ev.flagChange {
		h, err := n.store.HighestModSeq(ctx, w.mbID)
		if err != nil {
			return ""
		}
		items = append(items, "HIGHESTMODSEQ "+strconv.FormatInt(h, 10))
	}
	if len(items) == 0 {
		return ""
	}
	return "* STATUS " + mailboxName(w.name) + " (" + strings.Join(items, " ") + ")"
}

// start follows the change events of the watched mailboxes until the
// session ends or NOTIFY changes.
func (n *notifier) start() {
	mbs := map[int64]bool{}
	for k := range n.watches {
		mbs[k[0]] = true
	}
	if n.listEv.mailboxName || n.listEv.subscriptionChange {
		mbs[n.ownMB] = true
	}
	for id := range mbs {
		events, cancel := n.store.Subscribe(id)
		go func() {
			defer cancel()
			for {
				select {
				case <-n.ctx.Done():
					return
				case ev, ok := <-events:
					if !ok {
						return
					}
					n.handle(ev)
				}
			}
		}()
	}
}

// handle turns one change event into notifications.
func (n *notifier) handle(ev mailstore.Event) {
	if ev.Kind == mailstore.EventFolders {
		if ev.MailboxID == n.ownMB && (n.listEv.mailboxName || n.listEv.subscriptionChange) {
			n.deliver(0, n.listChanges())
		}
		return
	}
	w := n.watches[[2]int64{ev.MailboxID, ev.FolderID}]
	if w == nil || ev.FolderID == n.selected.Load() {
		return
	}
	var want notifyEvents
	switch ev.Kind {
	case mailstore.EventAppended:
		want.messageNew = w.ev.messageNew
	case mailstore.EventExpunged:
		want.messageExpunge = w.ev.messageExpunge
	case mailstore.EventFlags:
		want.flagChange = w.ev.flagChange
	}
	if l := n.statusLine(w, want); l != "" {
		n.deliver(w.folderID, []string{l})
	}
}

// folderNames reads the own mailbox's folder names and subscriptions.
func (n *notifier) folderNames() (names, subs map[string]bool) {
	names, subs = map[string]bool{}, map[string]bool{}
	ctx := n.ctx
	fs, err := n.store.ListFolders(ctx, n.ownMB, false)
	if err == nil {
		for i := range fs {
			if fs[i].Class == mailstore.ClassNote {
				names[imapName(&fs[i], n.inbox)] = true
			}
		}
	}
	ss, err := n.store.Subscriptions(ctx, n.ownMB)
	if err == nil {
		for i := range ss {
			if ss[i].Class == mailstore.ClassNote {
				subs[imapName(&ss[i], n.inbox)] = true
			}
		}
	}
	return names, subs
}

// listChanges compares the own mailbox's folders and subscriptions with
// the last ones seen and returns LIST responses for the differences.
func (n *notifier) listChanges() []string {
	names, subs := n.folderNames()
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	all := map[string]bool{}
	for k := range names {
		all[k] = true
	}
	for k := range n.names {
		all[k] = true
	}
	for k := range subs {
		all[k] = true
	}
	for k := range n.subs {
		all[k] = true
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		renamed := names[k] != n.names[k]
		resub := subs[k] != n.subs[k]
		if !(renamed && n.listEv.mailboxName || resub && n.listEv.subscriptionChange) {
			continue
		}
		var attrs []string
		if !names[k] {
			attrs = append(attrs, `\NonExistent`)
		}
		if subs[k] {
			attrs = append(attrs, `\Subscribed`)
		}
		out = append(out, "* LIST ("+strings.Join(attrs, " ")+") \"/\" "+mailboxName(k))
	}
	n.names, n.subs = names, subs
	return out
}

// deliver writes notifications now if no command is running, else keeps
// them for the session's next update point.
func (n *notifier) deliver(folderID int64, lines []string) {
	if len(lines) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	if len(n.pending) == 0 && n.fc != nil && n.fc.writeIfWaiting([]byte(strings.Join(lines, "\r\n")+"\r\n")) {
		return
	}
	for _, l := range lines {
		n.pending = append(n.pending, notifyLine{folderID: folderID, line: l})
	}
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// stopNotify ends the session's NOTIFY (NOTIFY NONE or a new SET).
func (s *session) stopNotify() {
	if n := s.notify; n != nil {
		n.cancel()
		n.mu.Lock()
		n.stopped, n.pending = true, nil
		n.mu.Unlock()
		s.notify = nil
	}
}

// notifyWake is signalled when notifications wait (nil without NOTIFY:
// a nil channel never fires).
func (s *session) notifyWake() <-chan struct{} {
	if s.notify == nil {
		return nil
	}
	return s.notify.wake
}

// notifySelected tells the notifier which folder is selected now (its
// changes reach the client as the folder's own updates, not as STATUS).
func (s *session) notifySelected() {
	if s.notify == nil {
		return
	}
	var id int64
	if s.sel != nil {
		id = s.sel.folder.ID
	}
	s.notify.selected.Store(id)
}

// flushNotify writes the waiting notifications, on the session's
// goroutine at an update point; those about the folder now selected are
// dropped (its own updates tell the client).
func (s *session) flushNotify() error {
	n := s.notify
	if n == nil {
		return nil
	}
	var sel int64
	if s.sel != nil {
		sel = s.sel.folder.ID
	}
	n.mu.Lock()
	pending := n.pending
	n.pending = nil
	n.mu.Unlock()
	for _, p := range pending {
		if p.folderID != 0 && p.folderID == sel {
			continue
		}
		if err := s.writeRawLine(p.line); err != nil {
			return err
		}
	}
	return nil
}

// mailboxName renders an IMAP name for a response: modified UTF-7, quoted.
func mailboxName(name string) string { return quoteString(encodeMUTF7(name)) }

// encodeMUTF7 encodes a mailbox name in modified UTF-7 (RFC 3501 section
// 5.1.3).
func encodeMUTF7(name string) string {
	var b strings.Builder
	enc := mutf7Base64.WithPadding(base64.NoPadding)
	rs := []rune(name)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == '&':
			b.WriteString("&-")
			i++
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
			i++
		default:
			j := i
			for j < len(rs) && (rs[j] < 0x20 || rs[j] >= 0x7f) {
				j++
			}
			u := utf16.Encode(rs[i:j])
			raw := make([]byte, 2*len(u))
			for k, c := range u {
				raw[2*k], raw[2*k+1] = byte(c>>8), byte(c)
			}
			b.WriteString("&" + enc.EncodeToString(raw) + "-")
			i = j
		}
	}
	return b.String()
}
