package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// ArchiveRoot is the top-level folder under which a user's archive mailbox
// (the Exchange "online archive", a second store mailbox keyed by the
// ArchiveGuid) appears over IMAP: its folders are "Online Archive/Inbox",
// "Online Archive/Sent Items", ... in the personal namespace, the way
// Outlook shows an online archive as a second folder tree and Thunderbird
// shows any top-level folder. The root itself is \Noselect; a user without
// an archive has no such root, and may name a folder so.
const ArchiveRoot = "Online Archive"

// errArchiveRoot refuses SELECT, STATUS, APPEND and the like on the
// archive root, which holds folders, not messages.
var errArchiveRoot = errs.Sentinel(errs.Invalid, "ArchiveRootNotSelectable")

// place is a folder name resolved to the store mailbox that holds it and
// the folder's path in that mailbox.
type place struct {
	mb      *mailstore.Mailbox
	path    string
	archive bool
}

// openArchive opens the recipient's archive mailbox, creating it with the
// default folders on first use; nil when the recipient has none.
func (s *session) openArchive(r *directory.Recipient) (*mailstore.Mailbox, error) {
	if r.ArchiveGuid == "" {
		return nil, nil
	}
	return s.srv.store.EnsureMailbox(s.ctx, r.TenantID, r.ArchiveGuid, mailstore.KindArchive)
}

// locate resolves an IMAP folder name: names below ArchiveRoot are folders
// of the archive mailbox (when the user has one), every other name a
// folder of the primary mailbox. The root itself is errArchiveRoot.
func (s *session) locate(name string) (place, error) {
	name = strings.TrimSuffix(name, mailstore.Delimiter)
	if s.archive == nil {
		return place{mb: s.mb, path: name}, nil
	}
	if strings.EqualFold(name, ArchiveRoot) {
		return place{}, errArchiveRoot.Newf("%q holds the archive's folders, not messages", ArchiveRoot).WithObject(name).
			WithHint("select a folder below it, such as %q", ArchiveRoot+"/Inbox")
	}
	if len(name) > len(ArchiveRoot) && strings.EqualFold(name[:len(ArchiveRoot)], ArchiveRoot) && name[len(ArchiveRoot)] == delim {
		return place{mb: s.archive, path: name[len(ArchiveRoot)+1:], archive: true}, nil
	}
	return place{mb: s.mb, path: name}, nil
}

// archiveName is the IMAP name of an archive folder's path.
func archiveName(path string) string { return ArchiveRoot + string(delim) + path }

// setMailbox records a fresh copy of one of the session's mailboxes (the
// primary or the archive), as SELECT reads it.
func (s *session) setMailbox(mb *mailstore.Mailbox) {
	if s.archive != nil && mb.ID == s.archive.ID {
		s.archive = mb
		return
	}
	s.mb = mb
}

// archiveFolders returns the archive's mail folders as LIST shows them:
// under ArchiveRoot, without special-use attributes (a client must not take
// the archive's Sent Items for the place to save sent mail).
func (s *session) archiveFolders(withCounts bool) ([]visibleFolder, error) {
	if s.archive == nil {
		return nil, nil
	}
	fs, err := s.srv.store.ListFolders(s.ctx, s.archive.ID, withCounts)
	if err != nil {
		return nil, err
	}
	var out []visibleFolder
	for i := range fs {
		if fs[i].Class != mailstore.ClassNote {
			continue
		}
		f := fs[i]
		f.SpecialUse = ""
		out = append(out, visibleFolder{f: &f, name: archiveName(f.Path), mb: s.archive})
	}
	return out, nil
}

// archiveRootData is the LIST entry of the archive root.
func archiveRootData() *imap.ListData {
	return &imap.ListData{Delim: delim, Mailbox: ArchiveRoot, Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren}}
}
