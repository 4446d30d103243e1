package imapd

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// view is the server-side message list of a selected folder, shared by
// every session of this process that has it selected. Every change to the
// list is also recorded in a change log (appended UIDs, expunged UIDs, new
// flags of a UID); each session's clientView replays the log from its own
// position when it may send updates, and so derives EXISTS, EXPUNGE, FETCH
// FLAGS and FLAGS from UIDs, never from sequence numbers computed for
// another moment. The log keeps the changes not yet replayed by every
// session.
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
	modseq      int64     // the highest MODSEQ whose changes of the folder are all in msgs (CONDSTORE)
	msgs        []viewMsg // ascending UIDs
	uidNext     uint32
	uidValidity uint32
	keywords    map[string]string // lower-cased → spelling, of the flags in use; only grows
	log         []change          // changes some session has not replayed yet
	logStart    uint64            // number of changes recorded before log[0]
	clients     map[*clientView]struct{}
}

// viewMsg is one message of a view.
type viewMsg struct {
	uid    uint32
	modseq int64
	flags  []string // normalized, shared: never modified in place
}

// changeKind tells what a change did.
type changeKind uint8

const (
	changeAppended changeKind = iota + 1 // new messages (uids ascending, above every earlier one)
	changeExpunged                       // messages removed
	changeFlags                          // new flags of one message
)

// change is one entry of a view's change log.
type change struct {
	kind   changeKind
	uids   []uint32
	flags  []string    // changeFlags: the message's flags now
	modseq int64       // changeFlags: the MODSEQ of the change
	source *clientView // changeFlags: the session that made the change and reports it itself
}

func newView(folderID int64, snap *mailstore.Snapshot) *view {
	v := &view{folderID: folderID, base: snap.HighestModSeq, modseq: snap.HighestModSeq, uidNext: snap.Folder.UIDNext,
		uidValidity: snap.Folder.UIDValidity, keywords: map[string]string{}, clients: map[*clientView]struct{}{}}
	v.msgs = make([]viewMsg, len(snap.Messages))
	for i, m := range snap.Messages {
		v.msgs[i] = viewMsg{uid: m.UID, modseq: m.ModSeq, flags: m.Flags}
		v.noteKeywords(m.Flags)
	}
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

// record appends a change to the log (when some session will replay it)
// and wakes the sessions waiting in IDLE.
func (v *view) record(c change) {
	if len(v.clients) == 0 {
		return
	}
	v.log = append(v.log, c)
	for cv := range v.clients {
		select {
		case cv.wake <- struct{}{}:
		default:
		}
	}
}

// version is the number of changes recorded so far.
func (v *view) version() uint64 { return v.logStart + uint64(len(v.log)) }

// trimLocked drops the changes every session has replayed.
func (v *view) trimLocked() {
	low := v.version()
	for cv := range v.clients {
		low = min(low, cv.pos)
	}
	if n := int(low - v.logStart); n > 0 {
		clear(v.log[:n])
		v.log = v.log[n:]
		v.logStart = low
		if len(v.log) == 0 {
			v.log = nil
		}
	}
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
	// The watcher applies a mailbox's events in MODSEQ order: every
	// change up to this one is in the list now.
	v.modseq = max(v.modseq, ev.ModSeq)
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
	var added []uint32
	for i, uid := range uids {
		f := flagsAt(flags, i)
		switch {
		case uid > v.lastUID():
			v.msgs = append(v.msgs, viewMsg{uid: uid, modseq: modseq, flags: f})
			v.noteKeywords(f)
			added = append(added, uid)
		case v.find(uid) >= 0:
			v.setFlagsLocked(uid, f, modseq, nil)
		}
		if uid >= v.uidNext {
			v.uidNext = uid + 1
		}
	}
	if len(added) > 0 {
		v.record(change{kind: changeAppended, uids: added})
	}
}

// expungeLocked removes messages (the session that expunged them reports
// them from the log like every other session).
func (v *view) expungeLocked(uids []uint32) {
	gone := make(map[uint32]bool, len(uids))
	for _, uid := range uids {
		if v.find(uid) >= 0 {
			gone[uid] = true
		}
	}
	if len(gone) == 0 {
		return
	}
	removed := make([]uint32, 0, len(gone))
	out := v.msgs[:0]
	for _, m := range v.msgs {
		if gone[m.uid] {
			removed = append(removed, m.uid)
			continue
		}
		out = append(out, m)
	}
	clear(v.msgs[len(out):])
	v.msgs = out
	v.record(change{kind: changeExpunged, uids: removed})
}

// setFlagsLocked records new flags of a message changed at modseq, for
// every session but source.
func (v *view) setFlagsLocked(uid uint32, flags []string, modseq int64, source *clientView) {
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
	v.noteKeywords(flags)
	v.record(change{kind: changeFlags, uids: []uint32{uid}, flags: flags, modseq: modseq, source: source})
}

// reset replaces the list with a fresh snapshot (nil: the folder is gone)
// and records the differences: expunges, flag changes, new messages.
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
	v.modseq = max(v.modseq, snap.HighestModSeq)
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
