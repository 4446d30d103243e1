package imapd

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// updateWriter is where a session's pending updates are written: go-imap's
// UpdateWriter, or rawUpdates for commands answered below go-imap.
type updateWriter interface {
	WriteNumMessages(n uint32) error
	WriteExpunge(seqNum uint32) error
	WriteNumRecent(n uint32) error
	WriteMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag) error
	WriteMailboxFlags(flags []imap.Flag) error
}

// rawUpdates writes updates as response lines below go-imap, as go-imap's
// UpdateWriter would.
type rawUpdates struct{ s *session }

// WriteNumMessages implements updateWriter.
func (w rawUpdates) WriteNumMessages(n uint32) error {
	return w.s.writeRawLine(fmt.Sprintf("* %d EXISTS", n))
}

// WriteExpunge implements updateWriter.
func (w rawUpdates) WriteExpunge(seqNum uint32) error {
	return w.s.writeRawLine(fmt.Sprintf("* %d EXPUNGE", seqNum))
}

// WriteNumRecent implements updateWriter; IMAP4rev2 has no RECENT.
func (w rawUpdates) WriteNumRecent(n uint32) error {
	if w.s.conn != nil && w.s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		return nil
	}
	return w.s.writeRawLine(fmt.Sprintf("* %d RECENT", n))
}

// WriteMessageFlags implements updateWriter.
func (w rawUpdates) WriteMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag) error {
	if uid == 0 {
		return w.s.writeRawLine(fmt.Sprintf("* %d FETCH (FLAGS %s)", seqNum, flagList(flags)))
	}
	return w.s.writeRawLine(fmt.Sprintf("* %d FETCH (UID %d FLAGS %s)", seqNum, uid, flagList(flags)))
}

// WriteMailboxFlags implements updateWriter.
func (w rawUpdates) WriteMailboxFlags(flags []imap.Flag) error {
	return w.s.writeRawLine("* FLAGS " + flagList(flags))
}
