package imapd

import (
	"sort"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Select implements imapserver.Session (SELECT and EXAMINE). The folder's
// shared view is opened (loaded from a store snapshot on first use). A
// mailbox that is locked for a move, or retired, is selected read-only:
// the completion says [READ-ONLY] and changes fail in the store.
func (s *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	f, err := s.folderByName(name)
	if err != nil {
		return nil, s.imapError(err)
	}
	mb, err := s.srv.store.MailboxByID(s.ctx, s.mb.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.mb = mb
	locked := mb.State == mailstore.StateLocked || mb.State == mailstore.StateRetired
	w, err := s.srv.watchers.acquire(s.ctx, mb.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	v, st, err := w.openView(s.ctx, f.ID)
	if err != nil {
		s.srv.watchers.release(w)
		return nil, s.imapError(err)
	}
	readOnly := options != nil && options.ReadOnly
	s.sel = &selected{folder: *f, name: name, w: w, v: v, st: st, readOnly: readOnly}

	v.mu.Lock()
	data := &imap.SelectData{
		Flags:       v.flags(),
		NumMessages: uint32(len(v.msgs)),
		UIDNext:     imap.UID(max(v.uidNext, v.lastUID()+1)),
		UIDValidity: v.uidValidity,
	}
	for i, m := range v.msgs {
		if !mailstore.HasFlag(m.flags, mailstore.FlagSeen) {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	v.mu.Unlock()
	if !readOnly && !locked {
		data.PermanentFlags = append(append([]imap.Flag{}, data.Flags...), imap.FlagWildcard)
	} else {
		data.PermanentFlags = []imap.Flag{}
	}
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
	sel.w.closeView(sel.v, sel.st)
	s.srv.watchers.release(sel.w)
}

// msgRef is a message of the selected folder as the client sees it.
type msgRef struct {
	seq uint32
	uid uint32
}

// resolve returns the messages a sequence or UID set names, in the
// client's view (messages the client has not been told about yet are
// left out), ascending. "$" is the saved search result; "*" the last
// message.
func (s *session) resolve(numSet imap.NumSet) []msgRef {
	sel := s.sel
	if imap.IsSearchRes(numSet) {
		numSet = s.searchRes
	}
	v := sel.v
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []msgRef
	switch ns := numSet.(type) {
	case imap.SeqSet:
		set := make(imap.SeqSet, len(ns))
		n := uint32(len(v.msgs))
		for i, r := range ns {
			set[i] = imap.SeqRange{Start: r.Start, Stop: r.Stop}
			staticRange(&set[i].Start, &set[i].Stop, n)
		}
		for i, m := range v.msgs {
			if seq := sel.st.EncodeSeqNum(uint32(i + 1)); seq != 0 && set.Contains(seq) {
				out = append(out, msgRef{seq: seq, uid: m.uid})
			}
		}
	case imap.UIDSet:
		last := v.lastUID()
		seen := map[uint32]bool{}
		for _, r := range ns {
			a, b := uint32(r.Start), uint32(r.Stop)
			staticRange(&a, &b, last)
			for i := sort.Search(len(v.msgs), func(i int) bool { return v.msgs[i].uid >= a }); i < len(v.msgs) && v.msgs[i].uid <= b; i++ {
				uid := v.msgs[i].uid
				if seen[uid] {
					continue
				}
				seen[uid] = true
				if seq := sel.st.EncodeSeqNum(uint32(i + 1)); seq != 0 {
					out = append(out, msgRef{seq: seq, uid: uid})
				}
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].uid < out[j].uid })
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
