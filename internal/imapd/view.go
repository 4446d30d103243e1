package imapd

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// view is the server-side message list of a selected folder, shared by
// every session that has it selected. Its go-imap MailboxTracker fans the
// changes out to the sessions' SessionTrackers, which translate sequence
// numbers between this list and each client's view and queue the EXISTS,
// EXPUNGE, FETCH FLAGS and FLAGS updates until the session may send them.
//
// The list starts as a store snapshot taken at MODSEQ base and changes by
// events after base (and by a session's own expunges and flag changes,
// applied at once). Applying an event twice changes nothing: appended UIDs
// already present, expunged UIDs absent and flags with an older MODSEQ are
// ignored.
type view struct {
	folderID int64
	refs     int // guarded by watcher.mu

	// own is held by a session while it changes flags in the store and
	// records the result here; flag events wait for it, so they find the
	// change recorded and are not sent back to that session.
	own sync.Mutex

	mu          sync.Mutex
	base        int64
	msgs        []viewMsg // ascending UIDs: msgs[i] is sequence number i+1
	uidNext     uint32
	uidValidity uint32
	keywords    map[string]string // lower-cased → spelling, of the flags in use
	tracker     *imapserver.MailboxTracker
}

// viewMsg is one message of a view.
type viewMsg struct {
	uid    uint32
	modseq int64
	flags  []string // normalized, shared: never modified in place
}

func newView(folderID int64, snap *mailstore.Snapshot) *view {
	v := &view{folderID: folderID, base: snap.HighestModSeq, uidNext: snap.Folder.UIDNext,
		uidValidity: snap.Folder.UIDValidity, keywords: map[string]string{}}
	v.msgs = make([]viewMsg, len(snap.Messages))
	for i, m := range snap.Messages {
		v.msgs[i] = viewMsg{uid: m.UID, modseq: m.ModSeq, flags: m.Flags}
		v.noteKeywords(m.Flags)
	}
	v.tracker = imapserver.NewMailboxTracker(uint32(len(v.msgs)))
	return v
}

// find returns the index of uid, or -1.
func (v *view) find(uid uint32) int {
	i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= uid })
	if i < len(v.msgs) && v.msgs[i].uid == uid {
		return i
	}
	return -1
}

func (v *view) lastUID() uint32 {
	if len(v.msgs) == 0 {
		return 0
	}
	return v.msgs[len(v.msgs)-1].uid
}

// apply applies a store event of this folder.
func (v *view) apply(ev mailstore.Event) {
	if ev.Kind == mailstore.EventFlags {
		v.own.Lock()
		defer v.own.Unlock()
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.ModSeq <= v.base {
		return
	}
	switch ev.Kind {
	case mailstore.EventAppended:
		v.appendLocked(ev.UIDs, ev.Flags, ev.ModSeq)
	case mailstore.EventExpunged:
		v.expungeLocked(ev.UIDs)
	case mailstore.EventFlags:
		for i, uid := range ev.UIDs {
			v.setFlagsLocked(uid, flagsAt(ev.Flags, i), ev.ModSeq, nil)
		}
	}
}

func flagsAt(f [][]string, i int) []string {
	if i < len(f) {
		return f[i]
	}
	return nil
}

// appendLocked adds new messages at the end. A UID below the last one is
// not shown (IMAP sequence numbers follow UID order); it cannot occur when
// events are applied in MODSEQ order.
func (v *view) appendLocked(uids []uint32, flags [][]string, modseq int64) {
	n0 := len(v.msgs)
	kw := len(v.keywords)
	for i, uid := range uids {
		f := flagsAt(flags, i)
		switch {
		case uid > v.lastUID():
			v.msgs = append(v.msgs, viewMsg{uid: uid, modseq: modseq, flags: f})
			v.noteKeywords(f)
		case v.find(uid) >= 0:
			v.setFlagsLocked(uid, f, modseq, nil)
		}
		if uid >= v.uidNext {
			v.uidNext = uid + 1
		}
	}
	if len(v.msgs) > n0 {
		v.tracker.QueueNumMessages(uint32(len(v.msgs)))
	}
	if len(v.keywords) > kw {
		v.tracker.QueueMailboxFlags(v.flags())
	}
}

// expungeLocked removes messages, queueing EXPUNGE for every session (the
// one that expunged included: it reports them in its command's poll).
func (v *view) expungeLocked(uids []uint32) {
	var idx []int
	for _, uid := range uids {
		if i := v.find(uid); i >= 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	sort.Sort(sort.Reverse(sort.IntSlice(idx)))
	idx = slices.Compact(idx)
	for _, i := range idx { // highest first: each number stays valid
		v.tracker.QueueExpunge(uint32(i + 1))
	}
	gone := make(map[int]bool, len(idx))
	for _, i := range idx {
		gone[i] = true
	}
	out := v.msgs[:0]
	for i, m := range v.msgs {
		if !gone[i] {
			out = append(out, m)
		}
	}
	clear(v.msgs[len(out):])
	v.msgs = out
}

// setFlagsLocked records new flags of a message changed at modseq, and
// queues FETCH FLAGS for every session but source.
func (v *view) setFlagsLocked(uid uint32, flags []string, modseq int64, source *imapserver.SessionTracker) {
	i := v.find(uid)
	if i < 0 || modseq <= v.msgs[i].modseq {
		return
	}
	m := &v.msgs[i]
	m.modseq = modseq
	if slices.Equal(m.flags, flags) {
		return
	}
	m.flags = flags
	kw := len(v.keywords)
	v.noteKeywords(flags)
	v.tracker.QueueMessageFlags(uint32(i+1), imap.UID(uid), imapFlags(flags), source)
	if len(v.keywords) > kw {
		v.tracker.QueueMailboxFlags(v.flags())
	}
}

// reset replaces the list with a fresh snapshot (nil: the folder is gone)
// and queues the differences: expunges, flag changes, new messages.
func (v *view) reset(snap *mailstore.Snapshot) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if snap == nil {
		uids := make([]uint32, len(v.msgs))
		for i, m := range v.msgs {
			uids[i] = m.uid
		}
		v.expungeLocked(uids)
		return
	}
	in := make(map[uint32]int, len(snap.Messages))
	for i, m := range snap.Messages {
		in[m.UID] = i
	}
	var gone []uint32
	for _, m := range v.msgs {
		if _, ok := in[m.uid]; !ok {
			gone = append(gone, m.uid)
		}
	}
	v.expungeLocked(gone)
	for i := range v.msgs {
		s := snap.Messages[in[v.msgs[i].uid]]
		if s.ModSeq > v.msgs[i].modseq {
			v.setFlagsLocked(s.UID, s.Flags, s.ModSeq, nil)
		}
	}
	var uids []uint32
	var flags [][]string
	last := v.lastUID()
	for _, m := range snap.Messages {
		if m.UID > last {
			uids = append(uids, m.UID)
			flags = append(flags, m.Flags)
		}
	}
	v.appendLocked(uids, flags, snap.HighestModSeq)
	v.base = max(v.base, snap.HighestModSeq)
	v.uidNext = max(v.uidNext, snap.Folder.UIDNext)
}

// noteKeywords remembers the keywords among flags.
func (v *view) noteKeywords(flags []string) {
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			k := strings.ToLower(f)
			if _, ok := v.keywords[k]; !ok {
				v.keywords[k] = f
			}
		}
	}
}

// systemFlags are the flags every folder supports.
var systemFlags = []imap.Flag{imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagSeen, imap.FlagDraft}

// flags returns the FLAGS of the folder: the system flags, $Forwarded and
// the keywords in use.
func (v *view) flags() []imap.Flag {
	out := append([]imap.Flag{}, systemFlags...)
	seen := map[string]bool{strings.ToLower(string(imap.FlagForwarded)): true}
	out = append(out, imap.FlagForwarded)
	var kws []string
	for k, f := range v.keywords {
		if !seen[k] {
			kws = append(kws, f)
		}
	}
	sort.Strings(kws)
	for _, k := range kws {
		out = append(out, imap.Flag(k))
	}
	return out
}

// imapFlags converts stored flags to go-imap flags.
func imapFlags(flags []string) []imap.Flag {
	out := make([]imap.Flag, len(flags))
	for i, f := range flags {
		out[i] = imap.Flag(f)
	}
	return out
}
