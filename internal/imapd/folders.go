package imapd

import (
	"errors"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Create implements imapserver.Session: CREATE makes a mail folder
// (missing parents too), unsubscribed like its parents: subscribing is
// the client's SUBSCRIBE. A trailing delimiter is ignored. The special use
// of CREATE-SPECIAL-USE (RFC 6154) is passed on; one the store does not
// support, or one another folder has, is NO [USEATTR].
func (s *session) Create(name string, options *imap.CreateOptions) error {
	name = strings.TrimSuffix(name, mailstore.Delimiter)
	opts := mailstore.FolderOptions{Class: mailstore.ClassNote, Unsubscribed: true}
	if options != nil {
		for _, a := range options.SpecialUse {
			known := false
			for use, attr := range specialUseAttr {
				if strings.EqualFold(string(a), string(attr)) {
					opts.SpecialUse, known = use, true
				}
			}
			if !known {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: codeUseAttr,
					Text: responseText("special use " + string(a) + " is not supported; use \\Sent, \\Drafts, \\Trash, \\Junk or \\Archive")}
			}
		}
	}
	p, err := s.locate(name)
	if errors.Is(err, errMountRoot) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists,
			Text: responseText(strings.TrimSuffix(name, "/") + " is the root of another mailbox's folders; create folders below it")}
	}
	if err != nil {
		return s.imapError(err)
	}
	if p.m != nil && opts.SpecialUse != "" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: codeUseAttr,
			Text: "special uses belong to the mailbox's own folders, not to the archive's or a shared mailbox's"}
	}
	_, err = s.srv.store.CreateFolder(s.ctx, p.mb.ID, p.path, opts)
	return s.imapError(err)
}

// Delete implements imapserver.Session. Its messages are expunged; a
// folder with subfolders and the Inbox cannot be deleted.
func (s *session) Delete(name string) error {
	f, mb, err := s.folderByName(name)
	if err != nil {
		return s.imapError(err)
	}
	return s.imapError(s.srv.store.DeleteFolder(s.ctx, mb.ID, f.ID))
}

// Rename implements imapserver.Session. Subfolders move along; renaming
// INBOX moves its messages to a new folder (RFC 9051 section 6.3.6).
func (s *session) Rename(name, newName string, _ *imap.RenameOptions) error {
	f, mb, err := s.folderByName(name)
	if err != nil {
		return s.imapError(err)
	}
	to, err := s.locate(newName)
	if err != nil {
		return s.imapError(err)
	}
	if to.mb.ID != mb.ID {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "a folder cannot be renamed between mailboxes (own, archive, shared); create the folder there and MOVE the messages"}
	}
	_, err = s.srv.store.RenameFolder(s.ctx, mb.ID, f.ID, to.path)
	return s.imapError(err)
}

// Status implements imapserver.Session. RECENT counts the messages no
// session has claimed as \Recent yet.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	f, mb, err := s.folderByName(name)
	if err != nil {
		return nil, s.imapError(err)
	}
	c, err := s.srv.store.FolderCounts(s.ctx, mb.ID, f.ID)
	if err != nil {
		return nil, s.imapError(err)
	}
	s.noteStatusModSeq(mb) // STATUS HIGHESTMODSEQ (condstore.go)
	data, err := s.statusData(mb, f, name, c, options)
	return data, s.imapError(err)
}

// statusData fills the requested STATUS items. Every item requested gets
// a value: imapserver dereferences them.
func (s *session) statusData(mb *mailstore.Mailbox, f *mailstore.Folder, name string, c mailstore.Counts, o *imap.StatusOptions) (*imap.StatusData, error) {
	d := &imap.StatusData{Mailbox: name, UIDNext: imap.UID(f.UIDNext), UIDValidity: f.UIDValidity}
	u32 := func(n int64) *uint32 { v := uint32(max(min(n, 1<<32-1), 0)); return &v }
	if o.NumMessages {
		d.NumMessages = u32(c.Messages)
	}
	if o.NumUnseen {
		d.NumUnseen = u32(c.Unseen)
	}
	if o.NumRecent {
		n, err := s.srv.store.RecentCount(s.ctx, mb.ID, f.ID)
		if err != nil {
			return nil, err
		}
		d.NumRecent = u32(n)
	}
	if o.Size {
		d.Size = &c.Bytes
	}
	if o.AppendLimit {
		d.AppendLimit = u32(int64(s.srv.appendLimit()))
	}
	if o.NumDeleted || o.DeletedStorage {
		items, err := s.srv.store.Fetch(s.ctx, mb.ID, f.ID, mailstore.AllUIDs)
		if err != nil {
			return nil, err
		}
		var n, size int64
		for _, it := range items {
			if mailstore.HasFlag(it.Flags, mailstore.FlagDeleted) {
				n++
				size += it.Size
			}
		}
		if o.NumDeleted {
			d.NumDeleted = u32(n)
		}
		if o.DeletedStorage {
			d.DeletedStorage = &size
		}
	}
	return d, nil
}
