package imapd

import (
	"slices"
	"strconv"

	"github.com/emersion/go-imap/v2"
)

// The selected folder's pending changes are written below go-imap, by the
// commands served here (FETCH) and by Poll and Idle for go-imap's
// commands, so that every untagged update has one writer.

// pendingUpdates replays the selected folder's changes into the client's
// view and returns the updates that tell the client; new messages get
// their \Recent state (and a RECENT response after the EXISTS). With
// allowExpunge false (during FETCH, STORE and SEARCH) the replay stops
// before the first expunge.
func (s *session) pendingUpdates(allowExpunge bool) ([]update, []uint32) {
	cv := s.sel.cv
	ups, newUIDs := cv.replay(allowExpunge)
	if len(newUIDs) > 0 {
		s.noteRecent(newUIDs[len(newUIDs)-1] + 1)
		last := 0
		for i, u := range ups {
			if u.kind == updExists {
				last = i
			}
		}
		ups = slices.Insert(ups, last+1, update{kind: updRecent, n: cv.numRecent()})
	}
	return ups, newUIDs
}

// writePendingUpdates writes the selected folder's pending updates, if a
// folder is selected. FLAGS is followed by PERMANENTFLAGS. The search
// contexts (CONTEXT=SEARCH, searchupdate.go) get a REMOVEFROM before the
// EXPUNGE (or VANISHED) of a result member and their ADDTO/REMOVEFROM for
// the touched messages after the updates; those are written straight to
// the connection, so w is flushed first.
func (s *session) writePendingUpdates(w *respWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	cv := s.sel.cv
	var vanished []uint32
	flushVanished := func() {
		if len(vanished) > 0 {
			slices.Sort(vanished)
			w.WriteString("* VANISHED " + orderedSet(vanished) + "\r\n")
			vanished = vanished[:0]
		}
	}
	ups, newUIDs := s.pendingUpdates(allowExpunge)
	for _, u := range ups {
		n := strconv.FormatUint(uint64(u.n), 10)
		if u.kind != updExpunge {
			flushVanished()
		}
		switch u.kind {
		case updExists:
			w.WriteString("* " + n + " EXISTS\r\n")
		case updExpunge:
			if len(s.sel.searches) > 0 {
				if err := w.Flush(); err != nil {
					return err
				}
				if err := s.searchExpunged(u.uid, u.n); err != nil {
					return err
				}
			}
			if s.mods.qresync { // RFC 7162 section 3.2.10
				vanished = append(vanished, u.uid)
				continue
			}
			w.WriteString("* " + n + " EXPUNGE\r\n")
		case updRecent:
			if s.conn == nil || !s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) { // IMAP4rev2 has no RECENT
				w.WriteString("* " + n + " RECENT\r\n")
			}
		case updFetch:
			if s.staleUpdate(u.uid, u.modseq) {
				continue
			}
			s.shownModSeq(u.uid, u.modseq)
			line := "* " + n + " FETCH (UID " + strconv.FormatUint(uint64(u.uid), 10) + " FLAGS " + flagList(cv.flagsFor(u.uid, u.flags))
			if s.mods.condstore && u.modseq > 0 {
				line += " MODSEQ (" + strconv.FormatInt(u.modseq, 10) + ")"
			}
			w.WriteString(line + ")\r\n")
		case updFlags:
			w.WriteString("* FLAGS " + flagList(u.mailboxFlags) + "\r\n")
			w.WriteString("* OK [PERMANENTFLAGS " + flagList(s.sel.permanentFlags(u.mailboxFlags)) + "] Flags permitted.\r\n")
		}
	}
	flushVanished()
	if len(s.sel.searches) == 0 {
		return nil
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return s.updateSearches(ups, newUIDs)
}
