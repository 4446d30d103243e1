package imapd

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// clientView is one session's view of its selected folder: the messages
// the client has been told about (sequence number i+1 is uids[i]), its
// position in the shared view's change log, the keywords it was told with
// FLAGS, and its \Recent messages.
//
// Invariants: uids only changes by replaying the log in order, and every
// change of uids is sent to the client in the same step (EXISTS after
// appends, one EXPUNGE per removed message with the sequence number it had
// at that moment), so the client's sequence numbers and message count are
// always those of uids. A log entry is replayed once. Only the session's
// goroutine (or its IDLE goroutine, while the session waits for it) uses a
// clientView; the shared log is read under view.mu.
type clientView struct {
	v        *view
	uids     []uint32
	pos      uint64 // log entries replayed: v.version() when up to date
	keywords int    // len(v.keywords) when the client was last sent FLAGS
	recent   uidRanges
	claim    bool             // may claim \Recent for new messages (read-write, mailbox writable)
	modseq   int64            // the view's MODSEQ when the client selected the folder (HIGHESTMODSEQ)
	sent     map[uint32]int64 // CONDSTORE: the highest MODSEQ the client was shown, by UID (condstore.go)
	wake     chan struct{}    // a change was recorded (for IDLE)
}

// selectState is what SELECT reports, taken with the client's view.
type selectState struct {
	flags       []imap.Flag
	uidNext     uint32
	uidValidity uint32
	firstUnseen uint32 // sequence number, 0 if none
}

// openClient registers a session with the view and returns its view of
// the folder, taken at the same moment as the SELECT data: every change
// after it reaches the client through the log.
func (v *view) openClient() (*clientView, selectState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	cv := &clientView{v: v, uids: make([]uint32, len(v.msgs)), pos: v.version(), keywords: len(v.keywords), modseq: v.modseq,
		wake: make(chan struct{}, 1)}
	st := selectState{flags: v.flags(), uidNext: max(v.uidNext, v.lastUID()+1), uidValidity: v.uidValidity}
	for i, m := range v.msgs {
		cv.uids[i] = m.uid
		if st.firstUnseen == 0 && !mailstore.HasFlag(m.flags, mailstore.FlagSeen) {
			st.firstUnseen = uint32(i + 1)
		}
	}
	v.clients[cv] = struct{}{}
	return cv, st
}

// closeClient unregisters a session.
func (v *view) closeClient(cv *clientView) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.clients, cv)
	v.trimLocked()
}

// seqOf returns the sequence number of uid in the client's view, 0 if the
// client does not know it.
func (cv *clientView) seqOf(uid uint32) uint32 {
	i := sort.Search(len(cv.uids), func(i int) bool { return cv.uids[i] >= uid })
	if i < len(cv.uids) && cv.uids[i] == uid {
		return uint32(i + 1)
	}
	return 0
}

// lastUID is the highest UID the client knows, 0 if none.
func (cv *clientView) lastUID() uint32 {
	if len(cv.uids) == 0 {
		return 0
	}
	return cv.uids[len(cv.uids)-1]
}

// updateKind tells what an update writes.
type updateKind uint8

const (
	updExists  updateKind = iota + 1 // * n EXISTS
	updExpunge                       // * n EXPUNGE
	updFetch                         // * n FETCH (UID uid FLAGS (flags))
	updFlags                         // * FLAGS (mailboxFlags) and PERMANENTFLAGS
	updRecent                        // * n RECENT
	updTouch                         // nothing: this session changed uid's flags (SEARCH updates)
)

// update is one untagged response a session owes its client.
type update struct {
	kind         updateKind
	n            uint32
	uid          uint32 // updFetch, updExpunge
	modseq       int64  // updFetch
	flags        []string
	mailboxFlags []imap.Flag
}

// replay moves the client's view forward through the log and returns the
// updates that tell the client, in order. With allowExpunge false (during
// FETCH, STORE and SEARCH) it stops before the first expunge, which waits
// for a later command. newUIDs are the messages the client learned of
// (candidates for \Recent).
func (cv *clientView) replay(allowExpunge bool) (out []update, newUIDs []uint32) {
	v := cv.v
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.keywords) > cv.keywords {
		// Before any FETCH that could carry a new keyword.
		out = append(out, update{kind: updFlags, mailboxFlags: v.flags()})
		cv.keywords = len(v.keywords)
	}
	for ; cv.pos < v.version(); cv.pos++ {
		c := v.log[cv.pos-v.logStart]
		switch c.kind {
		case changeExpunged:
			if !allowExpunge {
				v.trimLocked()
				return out, newUIDs
			}
			out = cv.expunge(out, c.uids)
		case changeAppended:
			n := len(cv.uids)
			for _, uid := range c.uids {
				if uid > cv.lastUID() {
					cv.uids = append(cv.uids, uid)
					newUIDs = append(newUIDs, uid)
				}
			}
			if len(cv.uids) > n {
				if k := len(out); k > 0 && out[k-1].kind == updExists {
					out[k-1].n = uint32(len(cv.uids)) // one EXISTS for consecutive appends
				} else {
					out = append(out, update{kind: updExists, n: uint32(len(cv.uids))})
				}
			}
		case changeFlags:
			if c.source == cv {
				out = append(out, update{kind: updTouch, uid: c.uids[0]})
				continue
			}
			if seq := cv.seqOf(c.uids[0]); seq != 0 {
				out = append(out, update{kind: updFetch, n: seq, uid: c.uids[0], modseq: c.modseq, flags: c.flags})
			}
		}
	}
	v.trimLocked()
	return out, newUIDs
}

// expunge removes the messages of uids the client knows, highest first
// (so each EXPUNGE's sequence number is valid when it is read), and adds
// the EXPUNGE updates.
func (cv *clientView) expunge(out []update, uids []uint32) []update {
	var idx []int
	for _, uid := range uids {
		if seq := cv.seqOf(uid); seq != 0 {
			idx = append(idx, int(seq-1))
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(idx)))
	for _, i := range idx {
		out = append(out, update{kind: updExpunge, n: uint32(i + 1), uid: cv.uids[i]})
		cv.uids = append(cv.uids[:i], cv.uids[i+1:]...)
	}
	return out
}

// flagRecent is IMAP4rev1's \Recent (go-imap v2 has no constant for it).
const flagRecent = imap.Flag(`\Recent`)

// flagsFor returns a message's flags as this session shows them: the
// stored flags plus \Recent when the message is recent here.
func (cv *clientView) flagsFor(uid uint32, flags []string) []imap.Flag {
	out := imapFlags(flags)
	if cv != nil && cv.recent.has(uid) {
		out = append(out, flagRecent)
	}
	return out
}

// numRecent counts the client's messages that are \Recent here.
func (cv *clientView) numRecent() uint32 {
	n := uint32(0)
	for _, uid := range cv.uids {
		if cv.recent.has(uid) {
			n++
		}
	}
	return n
}

// uidRanges is a set of UIDs kept as ascending, disjoint ranges.
type uidRanges []imap.UIDRange

// add adds the UIDs [from, to).
func (r *uidRanges) add(from, to uint32) {
	if from >= to {
		return
	}
	*r = append(*r, imap.UIDRange{Start: imap.UID(from), Stop: imap.UID(to - 1)})
	sort.Slice(*r, func(i, j int) bool { return (*r)[i].Start < (*r)[j].Start })
	out := (*r)[:1]
	for _, x := range (*r)[1:] {
		if last := &out[len(out)-1]; x.Start <= last.Stop+1 {
			last.Stop = max(last.Stop, x.Stop)
			continue
		}
		out = append(out, x)
	}
	*r = out
}

// has reports whether uid is in the set.
func (r uidRanges) has(uid uint32) bool {
	i := sort.Search(len(r), func(i int) bool { return uint32(r[i].Stop) >= uid })
	return i < len(r) && uint32(r[i].Start) <= uid
}

// announceKeywords tells the client, with FLAGS and PERMANENTFLAGS, of
// every keyword among flagLists it was not told of yet. FETCH and STORE
// call it before writing FETCH responses, so that a keyword is always in
// FLAGS before a message carrying it is shown (the store may be ahead of
// the view: a keyword set elsewhere whose event is not applied yet).
// go-imap cannot write FLAGS in the middle of a command: the lines are
// written below it (filterConn.writeRaw).
func (s *session) announceKeywords(flagLists ...[]string) error {
	cv := s.sel.cv
	v := cv.v
	var flags []imap.Flag
	v.mu.Lock()
	for _, f := range flagLists {
		v.noteKeywords(f)
	}
	if len(v.keywords) > cv.keywords {
		flags, cv.keywords = v.flags(), len(v.keywords)
	}
	v.mu.Unlock()
	if flags == nil {
		return nil
	}
	if err := s.writeRawLine("* FLAGS " + flagList(flags)); err != nil {
		return err
	}
	return s.writePermanentFlags(flags)
}

// writePermanentFlags writes the PERMANENTFLAGS that go with a FLAGS
// update (go-imap writes PERMANENTFLAGS only in SELECT).
func (s *session) writePermanentFlags(flags []imap.Flag) error {
	return s.writeRawLine("* OK [PERMANENTFLAGS " + flagList(s.sel.permanentFlags(flags)) + "] Flags permitted.")
}

// writeRawLine writes one response line below go-imap.
func (s *session) writeRawLine(line string) error {
	if s.fc == nil {
		return nil
	}
	return s.fc.writeRaw([]byte(line + "\r\n"))
}

// flagList formats flags as a parenthesized list. Flags are atoms: the
// store accepts no other keyword.
func flagList(flags []imap.Flag) string {
	parts := make([]string, len(flags))
	for i, f := range flags {
		parts[i] = string(f)
	}
	return "(" + strings.Join(parts, " ") + ")"
}
