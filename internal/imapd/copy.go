package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Copy implements imapserver.Session (COPY and UID COPY) with COPYUID.
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	sel, err := s.selectedFolder()
	if err != nil {
		return nil, err
	}
	dst, dstMB, err := s.destFolder(dest)
	if err != nil {
		return nil, s.imapError(err)
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil, nil
	}
	if err := s.checkCopyQuota(sel, refs, dstMB); err != nil {
		return nil, err
	}
	res, err := s.srv.store.CopyAcross(s.ctx, sel.mb.ID, sel.folder.ID, uidSetOf(refs), dstMB.ID, dst.ID, false)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.awaitChange(dstMB.ID)
	return copyData(res), nil
}

// Move implements imapserver.SessionMove (MOVE and UID MOVE, RFC 6851):
// the items keep their identity in the store; COPYUID comes first, then
// the EXPUNGEs in the command's update poll.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	sel, err := s.selectedFolder()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return readOnlyError
	}
	dst, dstMB, err := s.destFolder(dest)
	if err != nil {
		return s.imapError(err)
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	if dstMB.ID != sel.mb.ID { // a move inside a mailbox adds nothing
		if err := s.checkCopyQuota(sel, refs, dstMB); err != nil {
			return err
		}
	}
	res, err := s.srv.store.CopyAcross(s.ctx, sel.mb.ID, sel.folder.ID, uidSetOf(refs), dstMB.ID, dst.ID, true)
	if err != nil {
		return s.imapError(err)
	}
	sel.v.mu.Lock()
	sel.v.expungeLocked(res.SourceUIDs)
	sel.v.mu.Unlock()
	s.awaitChange(sel.mb.ID)
	if dstMB.ID != sel.mb.ID {
		s.awaitChange(dstMB.ID)
	}
	if cd := copyData(res); cd != nil {
		return w.WriteCopyData(cd)
	}
	return nil
}

// copyData converts a store copy result; nil when nothing was copied (an
// empty COPYUID cannot be written).
func copyData(res *mailstore.CopyResult) *imap.CopyData {
	if res == nil || len(res.SourceUIDs) == 0 {
		return nil
	}
	d := &imap.CopyData{UIDValidity: res.UIDValidity}
	for i := range res.SourceUIDs {
		d.SourceUIDs.AddNum(imap.UID(res.SourceUIDs[i]))
		d.DestUIDs.AddNum(imap.UID(res.DestUIDs[i]))
	}
	return d
}

// awaitChange waits until the other sessions of this process (and this
// one, for its own folder) can see this session's latest change of a
// mailbox (watchers.await).
func (s *session) awaitChange(mailboxID int64) {
	s.srv.watchers.await(mailboxID, func() (int64, error) { return s.srv.store.HighestModSeq(s.ctx, mailboxID) })
}
