package imapd

import (
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Select implements imapserver.Session (SELECT and EXAMINE). The folder's
// shared view is opened (loaded from a store snapshot on first use). A
// mailbox that is locked for a move, or retired, is selected read-only:
// the completion says [READ-ONLY] and changes fail in the store. SELECT
// claims the folder's unclaimed messages as \Recent for this session;
// EXAMINE shows them as \Recent without claiming.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	if s.hasShared() || hasPrefixFold(name, SharedRoot+string(delim)) {
		if err := s.loadMounts(); err != nil { // a removed permission ends access here
			return nil, s.imapError(err)
		}
	}
	f, fmb, err := s.folderByName(name)
	if err != nil {
		return nil, s.imapError(err)
	}
	mb, err := s.srv.store.MailboxByID(s.ctx, fmb.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.setMailbox(mb)
	locked := mb.State == mailstore.StateLocked || mb.State == mailstore.StateRetired
	w, err := s.srv.watchers.acquire(s.ctx, mb.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	v, cv, st, err := w.openView(s.ctx, f.ID)
	if err != nil {
		s.srv.watchers.release(w)
		return nil, s.imapError(err)
	}
	readOnly := options != nil && options.ReadOnly
	cv.claim = !readOnly && !locked
	s.sel = &selected{mb: mb, folder: *f, name: name, w: w, v: v, cv: cv, readOnly: readOnly, writable: !readOnly && !locked}
	s.notifySelected()
	runTestHook(hookSelectOpened, s.user)
	s.noteRecent(st.uidNext)

	data := &imap.SelectData{
		Flags:             st.flags,
		NumMessages:       uint32(len(cv.uids)),
		NumRecent:         cv.numRecent(),
		UIDNext:           imap.UID(st.uidNext),
		UIDValidity:       st.uidValidity,
		FirstUnseenSeqNum: st.firstUnseen,
	}
	data.PermanentFlags = s.sel.permanentFlags(data.Flags)
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		data.List = &imap.ListData{Delim: delim, Mailbox: name}
		if a, ok := specialUseAttr[f.SpecialUse]; ok {
			data.List.Attrs = []imap.MailboxAttr{a}
		}
	}
	if s.fc != nil {
		s.fc.selectReadOnly(locked && !readOnly)
	}
	return data, nil
}

// permanentFlags is the PERMANENTFLAGS of the selected folder: every flag
// and any new keyword when it can be changed, none otherwise.
func (sel *selected) permanentFlags(flags []imap.Flag) []imap.Flag {
	if !sel.writable {
		return []imap.Flag{}
	}
	return append(append([]imap.Flag{}, flags...), imap.FlagWildcard)
}

// noteRecent makes the folder's unclaimed messages below upto \Recent in
// this session: claimed for it in the store when it may claim, otherwise
// (EXAMINE, a locked mailbox) only shown. A failure leaves them not recent
// here; they stay unclaimed.
func (s *session) noteRecent(upto uint32) {
	sel := s.sel
	var from uint32
	var err error
	if sel.cv.claim {
		from, err = s.srv.store.ClaimRecent(s.ctx, sel.mb.ID, sel.folder.ID, upto)
	} else {
		from, err = s.srv.store.RecentFrom(s.ctx, sel.mb.ID, sel.folder.ID)
	}
	if err != nil {
		s.log.Warn("imap: \\Recent", "folder", sel.name, "err", err)
		return
	}
	sel.cv.recent.add(from, upto)
}

// Unselect implements imapserver.Session (CLOSE, UNSELECT, and SELECT of
// another folder).
func (s *session) Unselect() error {
	s.unselect()
	return nil
}

// unselect releases the selected folder, if any.
func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	sel := s.sel
	s.sel = nil
	s.notifySelected()
	sel.w.closeView(sel.v, sel.cv)
	s.srv.watchers.release(sel.w)
}

// msgRef is a message of the selected folder as the client sees it.
type msgRef struct {
	seq uint32
	uid uint32
}

// resolve returns the messages a sequence or UID set names in the
// client's view (messages the client has not been told about yet are
// left out), ascending. "*" is the client's last message; "$" the saved
// search result.
func (s *session) resolve(numSet imap.NumSet) []msgRef {
	cv := s.sel.cv
	if imap.IsSearchRes(numSet) {
		numSet = s.searchRes
	}
	var idx []int // indexes into cv.uids
	switch ns := numSet.(type) {
	case imap.SeqSet:
		n := uint32(len(cv.uids))
		for _, r := range ns {
			a, b := r.Start, r.Stop
			staticRange(&a, &b, n)
			for seq := max(a, 1); seq <= min(b, n); seq++ {
				idx = append(idx, int(seq-1))
			}
		}
	case imap.UIDSet:
		last := cv.lastUID()
		for _, r := range ns {
			a, b := uint32(r.Start), uint32(r.Stop)
			staticRange(&a, &b, last)
			for i := sort.Search(len(cv.uids), func(i int) bool { return cv.uids[i] >= a }); i < len(cv.uids) && cv.uids[i] <= b; i++ {
				idx = append(idx, i)
			}
		}
	}
	slices.Sort(idx) // ranges may overlap or come in any order
	idx = slices.Compact(idx)
	out := make([]msgRef, len(idx))
	for k, i := range idx {
		out[k] = msgRef{seq: uint32(i + 1), uid: cv.uids[i]}
	}
	return out
}

// staticRange resolves "*" (0) to max and orders the range.
func staticRange(start, stop *uint32, max uint32) {
	if *start == 0 {
		*start = max
	}
	if *stop == 0 {
		*stop = max
	}
	if *start > *stop {
		*start, *stop = *stop, *start
	}
}

// uidSetOf converts message references to a store UID set.
func uidSetOf(refs []msgRef) mailstore.UIDSet {
	var out mailstore.UIDSet
	for _, r := range refs {
		if n := len(out); n > 0 && out[n-1].Stop+1 == r.uid {
			out[n-1].Stop = r.uid
			continue
		}
		out = append(out, mailstore.UIDRange{Start: r.uid, Stop: r.uid})
	}
	return out
}
