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

// errMountRoot refuses SELECT, STATUS, APPEND and the like on a root that
// holds another mailbox's folders (ArchiveRoot, SharedRoot and the roots
// below it), which holds folders, not messages.
var errMountRoot = errs.Sentinel(errs.Invalid, "FolderRootNotSelectable")

// mount is another store mailbox whose folders a session shows below a
// root: the user's archive, or a mailbox the user holds FullAccess on.
type mount struct {
	root   string             // IMAP name of its root folder (no delimiter at the end)
	mb     *mailstore.Mailbox // the mailbox, as last read
	shared *directory.Recipient
}

// place is a folder name resolved to the store mailbox that holds it and
// the folder's path in that mailbox; m is the mount, nil for the user's
// own mailbox.
type place struct {
	mb   *mailstore.Mailbox
	path string
	m    *mount
}

// openArchive opens the recipient's archive mailbox, creating it with the
// default folders on first use; nil when the recipient has none.
func (s *session) openArchive(r *directory.Recipient) (*mailstore.Mailbox, error) {
	if r.ArchiveGuid == "" {
		return nil, nil
	}
	return s.srv.store.EnsureMailbox(s.ctx, r.TenantID, r.ArchiveGuid, mailstore.KindArchive)
}

// roots returns the \Noselect roots the session shows: ArchiveRoot when
// the user has an archive, SharedRoot and one root per shared mailbox.
func (s *session) roots() []string {
	var out []string
	for i, m := range s.mounts {
		if m.shared != nil && (i == 0 || s.mounts[i-1].shared == nil) {
			out = append(out, SharedRoot)
		}
		out = append(out, m.root)
	}
	return out
}

// locate resolves an IMAP folder name: names below a mount's root are
// folders of that mailbox, every other name a folder of the user's own
// mailbox. A root itself is errMountRoot.
func (s *session) locate(name string) (place, error) {
	name = strings.TrimSuffix(name, mailstore.Delimiter)
	for _, r := range s.roots() {
		if strings.EqualFold(name, r) {
			return place{}, errMountRoot.Newf("%q holds folders, not messages", r).WithObject(name).
				WithHint("select a folder below it, such as %q", r+"/Inbox")
		}
	}
	for i := range s.mounts {
		m := &s.mounts[i]
		if len(name) > len(m.root) && strings.EqualFold(name[:len(m.root)], m.root) && name[len(m.root)] == delim {
			return place{mb: m.mb, path: name[len(m.root)+1:], m: m}, nil
		}
	}
	return place{mb: s.mb, path: name}, nil
}

// setMailbox records a fresh copy of one of the session's mailboxes (its
// own or a mount's), as SELECT reads it.
func (s *session) setMailbox(mb *mailstore.Mailbox) {
	for i := range s.mounts {
		if s.mounts[i].mb.ID == mb.ID {
			s.mounts[i].mb = mb
			return
		}
	}
	s.mb = mb
}

// mountFolders returns the mounts' mail folders as LIST shows them: under
// their roots, without special-use attributes (a client must not take the
// archive's or a shared mailbox's Sent Items for the place to save its own
// sent mail).
func (s *session) mountFolders(withCounts bool) ([]visibleFolder, error) {
	var out []visibleFolder
	for _, m := range s.mounts {
		fs, err := s.srv.store.ListFolders(s.ctx, m.mb.ID, withCounts)
		if err != nil {
			return nil, err
		}
		for i := range fs {
			if fs[i].Class != mailstore.ClassNote {
				continue
			}
			f := fs[i]
			f.SpecialUse = ""
			out = append(out, visibleFolder{f: &f, name: m.root + string(delim) + f.Path, mb: m.mb})
		}
	}
	return out, nil
}

// rootData is the LIST entry of a mount root.
func rootData(name string) *imap.ListData {
	return &imap.ListData{Delim: delim, Mailbox: name, Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren}}
}
