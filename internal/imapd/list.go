package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// specialUseAttr maps the store's special uses to LIST attributes (RFC
// 6154). The Inbox has none: it is named INBOX.
var specialUseAttr = map[string]imap.MailboxAttr{
	mailstore.UseSent:    imap.MailboxAttrSent,
	mailstore.UseDrafts:  imap.MailboxAttrDrafts,
	mailstore.UseTrash:   imap.MailboxAttrTrash,
	mailstore.UseJunk:    imap.MailboxAttrJunk,
	mailstore.UseArchive: imap.MailboxAttrArchive,
}

// visibleFolder is a folder as LIST shows it.
type visibleFolder struct {
	f    *mailstore.Folder
	name string
}

// visibleFolders returns the mail folders of the mailbox with their IMAP
// names, parents before children, and the set of names that have
// children.
func (s *session) visibleFolders(withCounts bool) ([]visibleFolder, map[string]bool, error) {
	fs, err := s.srv.store.ListFolders(s.ctx, s.mb.ID, withCounts)
	if err != nil {
		return nil, nil, err
	}
	inbox := ""
	for i := range fs {
		if fs[i].SpecialUse == mailstore.UseInbox {
			inbox = fs[i].Path
		}
	}
	var out []visibleFolder
	parents := map[string]bool{}
	for i := range fs {
		if fs[i].Class != mailstore.ClassNote {
			continue
		}
		name := imapName(&fs[i], inbox)
		out = append(out, visibleFolder{f: &fs[i], name: name})
		if j := strings.LastIndexByte(name, delim); j > 0 {
			parents[name[:j]] = true
		}
	}
	return out, parents, nil
}

// List implements imapserver.Session: LIST (with the LIST-EXTENDED select
// and return options, LIST-STATUS and SPECIAL-USE) and LSUB.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	folders, parents, err := s.visibleFolders(options.ReturnStatus != nil)
	if err != nil {
		return s.imapError(err)
	}
	// Subscribed descendants, for RECURSIVEMATCH (CHILDINFO).
	subChild := map[string]bool{}
	for _, vf := range folders {
		if vf.f.Subscribed {
			for n := vf.name; ; {
				j := strings.LastIndexByte(n, delim)
				if j <= 0 {
					break
				}
				n = n[:j]
				subChild[n] = true
			}
		}
	}
	for _, vf := range folders {
		if !matchAny(vf.name, ref, patterns) {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: vf.name}
		if options.SelectSubscribed && !vf.f.Subscribed {
			if !options.SelectRecursiveMatch || !subChild[vf.name] {
				continue
			}
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		use, isSpecial := specialUseAttr[vf.f.SpecialUse]
		if options.SelectSpecialUse && !isSpecial {
			continue
		}
		if parents[vf.name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if vf.f.Subscribed && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		if isSpecial {
			data.Attrs = append(data.Attrs, use)
		}
		if options.ReturnStatus != nil {
			if data.Status, err = s.statusData(vf.f, vf.name, vf.f.Counts, options.ReturnStatus); err != nil {
				return s.imapError(err)
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// matchAny reports whether name matches one of the patterns under ref.
// INBOX matches case-insensitively.
func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		r, p := ref, p
		if r != "" {
			r = inboxUpper(r)
		} else {
			p = inboxUpper(p)
		}
		if imapserver.MatchList(name, delim, r, p) {
			return true
		}
	}
	return false
}

// inboxUpper spells a leading INBOX level in upper case.
func inboxUpper(s string) string {
	if len(s) >= 5 && strings.EqualFold(s[:5], "INBOX") && (len(s) == 5 || s[5] == delim) {
		return "INBOX" + s[5:]
	}
	return s
}

// Subscribe implements imapserver.Session.
func (s *session) Subscribe(name string) error { return s.setSubscribed(name, true) }

// Unsubscribe implements imapserver.Session.
func (s *session) Unsubscribe(name string) error { return s.setSubscribed(name, false) }

func (s *session) setSubscribed(name string, on bool) error {
	f, err := s.folderByName(name)
	if err != nil {
		return s.imapError(err)
	}
	return s.imapError(s.srv.store.SetSubscribed(s.ctx, s.mb.ID, f.ID, on))
}
