package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// SharedRoot is the shared namespace (RFC 2342) under which the mailboxes
// a user holds FullAccess on (Add-MailboxPermission, usually shared
// mailboxes) appear over IMAP, one root per mailbox named by its primary
// SMTP address: "Shared/sales@contoso.example/Inbox". Delegates log in as
// themselves; the list follows the permissions at login and at every LIST,
// and a removed permission takes the mailbox away at the next SELECT.
// While a user holds such a permission, own folders named "Shared" are
// hidden behind this root.
const SharedRoot = "Shared"

// loadMounts rebuilds the session's mounts: the archive (when the user has
// one) and every mailbox of the tenant the user holds FullAccess on, in
// address order. Mailboxes already open are kept as they are.
func (s *session) loadMounts() error {
	var out []mount
	old := make(map[string]*mailstore.Mailbox, len(s.mounts))
	for _, m := range s.mounts {
		old[m.mb.GUID] = m.mb
	}
	if s.rec.ArchiveGuid != "" {
		mb := old[s.rec.ArchiveGuid]
		if mb == nil {
			var err error
			if mb, err = s.openArchive(s.rec); err != nil {
				return err
			}
		}
		out = append(out, mount{root: ArchiveRoot, mb: mb})
	}
	perms, err := s.srv.dir.PermissionsOf(s.ctx, s.rec.TenantID, s.rec.ID, directory.FullAccess)
	if err != nil {
		return err
	}
	for _, p := range perms {
		if p.Mailbox.Type != directory.UserMailbox || p.Mailbox.ExchangeGuid == "" {
			continue // moved away: the rows stay, granting nothing
		}
		mb := old[p.Mailbox.ExchangeGuid]
		if mb == nil {
			if mb, err = s.srv.store.EnsureMailbox(s.ctx, p.Mailbox.TenantID, p.Mailbox.ExchangeGuid, mailstore.KindPrimary); err != nil {
				return err
			}
		}
		out = append(out, mount{root: SharedRoot + string(delim) + p.Mailbox.PrimarySmtpAddress, mb: mb, shared: p.Mailbox})
	}
	s.mounts = out
	return nil
}

// hasShared reports whether the session shows any shared mailbox.
func (s *session) hasShared() bool {
	for _, m := range s.mounts {
		if m.shared != nil {
			return true
		}
	}
	return false
}

// Namespace implements imapserver.SessionNamespace: the personal namespace
// (the user's folders and archive) and, when the user holds FullAccess on
// other mailboxes, the shared namespace SharedRoot.
func (s *session) Namespace() (*imap.NamespaceData, error) {
	ns := &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}
	if s.hasShared() {
		ns.Shared = []imap.NamespaceDescriptor{{Prefix: SharedRoot + string(delim), Delim: delim}}
	}
	return ns, nil
}

// hasPrefixFold reports whether name starts with prefix, ignoring case.
func hasPrefixFold(name, prefix string) bool {
	return len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}
