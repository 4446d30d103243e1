package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// storeOps maps STORE operations to the store's.
var storeOps = map[imap.StoreFlagsOp]mailstore.FlagOp{
	imap.StoreFlagsAdd: mailstore.FlagsAdd,
	imap.StoreFlagsDel: mailstore.FlagsRemove,
	imap.StoreFlagsSet: mailstore.FlagsReplace,
}

// Store implements imapserver.Session (STORE and UID STORE, with .SILENT).
// The new flags are reported in FETCH responses unless silent, after FLAGS
// when they carry a new keyword; the other sessions of the folder get them
// as updates.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	sel, err := s.selectedFolder()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return readOnlyError
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	in := make([]string, len(flags.Flags))
	for i, f := range flags.Flags {
		in[i] = string(f)
	}
	res, err := s.storeFlags(sel, refs, storeOps[flags.Op], in)
	if err != nil {
		return s.imapError(err)
	}
	if flags.Silent {
		return nil
	}
	lists := make([][]string, len(res))
	for i, r := range res {
		lists[i] = r.Flags
	}
	if err := s.announceKeywords(lists...); err != nil {
		return err
	}
	_, byUID := numSet.(imap.UIDSet)
	for _, r := range res {
		seq := sel.cv.seqOf(r.UID)
		if seq == 0 {
			continue
		}
		m := w.CreateMessage(seq)
		if byUID {
			m.WriteUID(imap.UID(r.UID))
		}
		m.WriteFlags(sel.cv.flagsFor(r.UID, r.Flags))
		if err := m.Close(); err != nil {
			return err
		}
	}
	return nil
}

// storeFlags changes flags in the store and applies the result to the
// shared view at once, so the other sessions are told and this one is not
// told again (the view's own lock keeps the watcher from applying the
// change's event first).
func (s *session) storeFlags(sel *selected, refs []msgRef, op mailstore.FlagOp, flags []string) ([]mailstore.FlagResult, error) {
	v := sel.v
	v.own.Lock()
	defer v.own.Unlock()
	res, err := s.srv.store.StoreFlags(s.ctx, sel.mb.ID, sel.folder.ID, uidSetOf(refs), op, flags)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range res {
		if r.Changed {
			v.setFlagsLocked(r.UID, r.Flags, r.ModSeq, sel.cv)
		}
	}
	return res, nil
}

// Expunge implements imapserver.Session (EXPUNGE, UID EXPUNGE, and the
// silent expunge of CLOSE, which a read-only or locked folder skips). The
// expunged messages leave the shared view at once; this session reports
// them in the command's update poll, the others as updates.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel, err := s.selectedFolder()
	if err != nil {
		return err
	}
	closing := *w == imapserver.ExpungeWriter{} // CLOSE passes a writer without connection
	if sel.readOnly {
		if closing {
			return nil
		}
		return readOnlyError
	}
	var set mailstore.UIDSet
	if uids != nil {
		set = uidSetOf(s.resolve(*uids))
		if len(set) == 0 {
			return nil
		}
	}
	gone, err := s.srv.store.Expunge(s.ctx, sel.mb.ID, sel.folder.ID, set)
	if err != nil {
		if closing {
			return nil // CLOSE always succeeds; the messages stay
		}
		return s.imapError(err)
	}
	sel.v.mu.Lock()
	sel.v.expungeLocked(gone)
	sel.v.mu.Unlock()
	return nil
}
