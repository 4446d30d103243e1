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
	dst, err := s.destFolder(dest)
	if err != nil {
		return nil, s.imapError(err)
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil, nil
	}
	res, err := s.srv.store.Copy(s.ctx, s.mb.ID, sel.folder.ID, uidSetOf(refs), dst.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.awaitChange()
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
	dst, err := s.destFolder(dest)
	if err != nil {
		return s.imapError(err)
	}
	refs := s.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	res, err := s.srv.store.Move(s.ctx, s.mb.ID, sel.folder.ID, uidSetOf(refs), dst.ID)
	if err != nil {
		return s.imapError(err)
	}
	sel.v.mu.Lock()
	sel.v.expungeLocked(res.SourceUIDs)
	sel.v.mu.Unlock()
	s.awaitChange()
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
// one, for its own folder) can see this session's latest change of the
// mailbox (watchers.await).
func (s *session) awaitChange() {
	s.srv.watchers.await(s.mb.ID, func() (int64, error) { return s.srv.store.HighestModSeq(s.ctx, s.mb.ID) })
}
