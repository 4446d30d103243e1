package imapd

import (
	"github.com/emersion/go-imap/v2"
)

// Append implements imapserver.Session (APPEND with flags, internal date
// and APPENDUID). go-imap calls it only for an APPEND before login, which
// it refuses: a logged-in session's APPEND is answered below go-imap
// (appendcmd.go), through the same appendTarget. The literal streams into
// the store as it arrives, byte for byte; imapserver refuses a literal over
// APPENDLIMIT before it is sent, and the store refuses content over its
// maximum item size; a mailbox without room for the literal refuses it
// with NO [OVERQUOTA].
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	t, err := s.openAppend(name)
	if err != nil {
		return nil, err
	}
	defer t.close()
	if err := t.admit(r.Size()); err != nil {
		return nil, err
	}
	var flags []string
	var opts imap.AppendOptions
	if options != nil {
		opts = *options
	}
	for _, fl := range opts.Flags {
		flags = append(flags, string(fl))
	}
	if err := t.add(r, flags, opts.Time); err != nil {
		return nil, err
	}
	out, err := t.commit()
	if err != nil {
		return nil, err
	}
	return &imap.AppendData{UID: imap.UID(out[0].UID), UIDValidity: out[0].UIDValidity}, nil
}
