package imapd

import (
	"reflect"
	"slices"
	"sort"
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
	mb   *mailstore.Mailbox // the mailbox that holds it (primary or archive)
}

// visibleFolders returns the mail folders of the mailbox and of its
// archive (under ArchiveRoot) with their IMAP names, parents before
// children, the set of names that have children, and the store path of
// the primary mailbox's \Inbox folder.
func (s *session) visibleFolders(withCounts bool) ([]visibleFolder, map[string]bool, string, error) {
	fs, err := s.srv.store.ListFolders(s.ctx, s.mb.ID, withCounts)
	if err != nil {
		return nil, nil, "", err
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
		out = append(out, visibleFolder{f: &fs[i], name: imapName(&fs[i], inbox), mb: s.mb})
	}
	arch, err := s.mountFolders(withCounts)
	if err != nil {
		return nil, nil, "", err
	}
	out = append(out, arch...)
	for _, vf := range out {
		if j := strings.LastIndexByte(vf.name, delim); j > 0 {
			parents[vf.name[:j]] = true
		}
	}
	return out, parents, inbox, nil
}

// subscribedNames returns the IMAP names on the subscription list: those
// of subscribed mail folders and of deleted ones that were subscribed
// (mailstore.Subscriptions), sorted.
func (s *session) subscribedNames(inbox string) (map[string]bool, []string, error) {
	set := map[string]bool{}
	var names []string
	type source struct {
		mb   *mailstore.Mailbox
		root string
	}
	srcs := []source{{mb: s.mb}}
	for _, m := range s.mounts {
		srcs = append(srcs, source{mb: m.mb, root: m.root})
	}
	for _, src := range srcs {
		subs, err := s.srv.store.Subscriptions(s.ctx, src.mb.ID)
		if err != nil {
			return nil, nil, err
		}
		for i := range subs {
			if subs[i].Class != mailstore.ClassNote {
				continue
			}
			n := imapName(&subs[i], inbox)
			if src.root != "" {
				n = src.root + string(delim) + subs[i].Path
			}
			if !set[n] {
				set[n] = true
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	return set, names, nil
}

// List implements imapserver.Session: LIST (with the LIST-EXTENDED select
// and return options, CHILDINFO, LIST-STATUS and SPECIAL-USE) and LSUB.
// Subscriptions are names (RFC 3501 section 6.3.9): a deleted folder stays
// on the list, shown by LIST (SUBSCRIBED) as \NonExistent and by LSUB.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		// LIST "" "": the hierarchy delimiter and root.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	if err := s.loadMounts(); err != nil { // permissions granted or removed since
		return s.imapError(err)
	}
	folders, parents, inbox, err := s.visibleFolders(options.ReturnStatus != nil)
	if err != nil {
		return s.imapError(err)
	}
	subs, subNames, err := s.subscribedNames(inbox)
	if err != nil {
		return s.imapError(err)
	}
	match := func(name string) bool { return matchAny(name, ref, patterns) }
	if isLSUB(w) {
		return lsub(w, subs, subNames, match, patterns)
	}
	live := make(map[string]*mailstore.Folder, len(folders))
	names := make([]string, 0, len(folders)+len(subNames))
	for _, vf := range folders {
		live[vf.name] = vf.f
		names = append(names, vf.name)
	}
	if options.SelectSubscribed {
		names = append(names, subscribedOnly(live, subNames, options.SelectRecursiveMatch)...)
	}
	modseqs := map[int64]int64{}
	mbOf := make(map[string]*mailstore.Mailbox, len(folders))
	for _, vf := range folders {
		mbOf[vf.name] = vf.mb
	}
	if !options.SelectSubscribed && !options.SelectSpecialUse {
		for _, r := range s.roots() {
			if !match(r) {
				continue
			}
			if err := w.WriteList(rootData(r)); err != nil {
				return err
			}
		}
	}
	for _, name := range names {
		if !match(name) {
			continue
		}
		data := &imap.ListData{Delim: delim, Mailbox: name}
		if options.SelectSubscribed && !subs[name] {
			if !options.SelectRecursiveMatch || !subscribedBelow(name, subNames, match) {
				continue
			}
			data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if subs[name] && (options.SelectSubscribed || options.ReturnSubscribed) {
			data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
		}
		f := live[name]
		if f == nil {
			if options.SelectSpecialUse {
				continue
			}
			data.Attrs = append(data.Attrs, imap.MailboxAttrNonExistent)
			if err := w.WriteList(data); err != nil {
				return err
			}
			continue
		}
		use, isSpecial := specialUseAttr[f.SpecialUse]
		if options.SelectSpecialUse && !isSpecial {
			continue
		}
		if parents[name] {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
		} else {
			data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if isSpecial {
			data.Attrs = append(data.Attrs, use)
		}
		if options.ReturnStatus != nil {
			if data.Status, err = s.statusData(mbOf[name], f, name, f.Counts, options.ReturnStatus); err != nil {
				return s.imapError(err)
			}
			s.queueListModSeq(mbOf[name], modseqs) // STATUS HIGHESTMODSEQ (condstore.go)
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// subscribedOnly returns the names LIST (SUBSCRIBED) may show besides the
// live folders: subscribed names without a folder and, for
// RECURSIVEMATCH, their ancestors without one (sorted, each once).
func subscribedOnly(live map[string]*mailstore.Folder, subNames []string, recursive bool) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if live[n] == nil && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range subNames {
		add(n)
		if recursive {
			for _, a := range ancestors(n) {
				add(a)
			}
		}
	}
	sort.Strings(out)
	return out
}

// subscribedBelow reports whether a subscribed name below name does not
// match the patterns itself: then name gets CHILDINFO ("SUBSCRIBED") under
// RECURSIVEMATCH (RFC 5258 section 3.5).
func subscribedBelow(name string, subNames []string, match func(string) bool) bool {
	prefix := name + string(delim)
	for _, n := range subNames {
		if strings.HasPrefix(n, prefix) && !match(n) {
			return true
		}
	}
	return false
}

// ancestors returns the names of the parents of name, outermost first.
func ancestors(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == byte(delim) && i > 0 {
			out = append(out, name[:i])
		}
	}
	return out
}

// lsub writes LSUB: the subscribed names that match, live or not, and
// under a "%" pattern the unsubscribed parents of subscribed names that do
// not match, as \Noselect (RFC 3501 section 6.3.9).
func lsub(w *imapserver.ListWriter, subs map[string]bool, subNames []string, match func(string) bool, patterns []string) error {
	listed := map[string]bool{}
	for _, n := range subNames {
		if match(n) {
			listed[n] = true
			if err := w.WriteList(&imap.ListData{Delim: delim, Mailbox: n}); err != nil {
				return err
			}
		}
	}
	if !slices.ContainsFunc(patterns, func(p string) bool { return strings.Contains(p, "%") }) {
		return nil
	}
	for _, n := range subNames {
		if listed[n] {
			continue
		}
		for _, a := range ancestors(n) {
			if subs[a] || listed[a] || !match(a) {
				continue
			}
			listed[a] = true
			if err := w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim, Mailbox: a}); err != nil {
				return err
			}
		}
	}
	return nil
}

// isLSUB reports whether w writes LSUB responses. imapserver calls List
// for LSUB with the SUBSCRIBED selection option, like LIST (SUBSCRIBED),
// and tells them apart only by the writer's unexported lsub field, which
// this reads (go-imap v2.0.0-beta.8; TestLsubUnsubscribedParent breaks if
// that changes).
func isLSUB(w *imapserver.ListWriter) bool {
	f := reflect.ValueOf(w).Elem().FieldByName("lsub")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
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

// setSubscribed adds an existing folder to the subscription list, or
// removes a name from it (which needs no folder: a deleted folder stays
// subscribed until then).
func (s *session) setSubscribed(name string, on bool) error {
	if !on {
		p, err := s.locate(name)
		if err != nil {
			return s.imapError(err)
		}
		return s.imapError(s.srv.store.Unsubscribe(s.ctx, p.mb.ID, p.path))
	}
	f, mb, err := s.folderByName(name)
	if err != nil {
		return s.imapError(err)
	}
	return s.imapError(s.srv.store.SetSubscribed(s.ctx, mb.ID, f.ID, on))
}
