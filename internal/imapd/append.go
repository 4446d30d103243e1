package imapd

import (
	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Append implements imapserver.Session (APPEND with flags, internal date
// and APPENDUID). The literal streams into the store as it arrives, byte
// for byte; imapserver refuses a literal over APPENDLIMIT before it is
// sent, and the store refuses content over its maximum item size; a
// mailbox without room for the literal refuses it with NO [OVERQUOTA].
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	f, mb, err := s.destFolder(name)
	if err != nil {
		return nil, s.imapError(err)
	}
	if err := s.checkQuota(mb, r.Size()); err != nil {
		return nil, err
	}
	it := mailstore.AppendItem{FolderID: f.ID, Content: r}
	if options != nil {
		it.InternalDate = options.Time
		for _, fl := range options.Flags {
			it.Flags = append(it.Flags, string(fl))
		}
	}
	a, err := s.srv.store.Append(s.ctx, mb.ID, it)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.srv.watchers.await(mb.ID, func() (int64, error) { return a.ModSeq, nil })
	return &imap.AppendData{UID: imap.UID(a.UID), UIDValidity: a.UIDValidity}, nil
}
