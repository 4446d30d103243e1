package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Store implements imapserver.Session. STORE and UID STORE never reach
// go-imap: filterConn answers them (storecmd.go).
func (s *session) Store(*imapserver.FetchWriter, imap.NumSet, *imap.StoreFlags, *imap.StoreOptions) error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "STORE is served below go-imap"}
}

// storeFlags changes flags in the store and applies the result to the
// shared view at once, so the other sessions are told and this one is not
// told again (the view's own lock keeps the watcher from applying the
// change's event first).
func (s *session) storeFlags(sel *selected, refs []msgRef, op mailstore.FlagOp, flags []string) ([]mailstore.FlagResult, error) {
	res, _, err := s.storeFlagsIf(sel, refs, op, flags, -1)
	return res, err
}

// storeFlagsIf is storeFlags that leaves the messages changed after
// MODSEQ unchangedSince (negative: no condition) alone and returns their
// UIDs (RFC 7162's UNCHANGEDSINCE).
func (s *session) storeFlagsIf(sel *selected, refs []msgRef, op mailstore.FlagOp, flags []string, unchangedSince int64) ([]mailstore.FlagResult, []uint32, error) {
	v := sel.v
	v.own.Lock()
	defer v.own.Unlock()
	res, modified, err := s.srv.store.StoreFlagsUnchangedSince(s.ctx, sel.mb.ID, sel.folder.ID, uidSetOf(refs), op, flags, unchangedSince)
	if err != nil {
		return nil, nil, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range res {
		if r.Changed {
			v.setFlagsLocked(r.UID, r.Flags, r.ModSeq, sel.cv)
		}
	}
	return res, modified, nil
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
