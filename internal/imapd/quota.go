package imapd

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// QUOTA (RFC 9208) with the STORAGE resource, answered below go-imap
// (intercept.go) since imapserver does not know the commands:
//
//   - GETQUOTAROOT name: the quota roots of the folder's mailbox. The
//     user's own mailbox has the root "User quota" when the mailbox has a
//     quota; a mounted mailbox (archive, shared) has its mount name as
//     root when it has one; "Tenant quota" is every mailbox's root when
//     the tenant has a quota. Each root's QUOTA response follows.
//   - GETQUOTA root: that root's usage and limit.
//   - SETQUOTA: refused; quotas are the administrator's (`mailbox set
//     --quota`, `tenant set --quota`), not the user's.
//
// STORAGE counts units of 1024 octets (usage rounded up). APPEND, COPY and
// MOVE into a mailbox without room fail with NO [OVERQUOTA].

// Quota root names.
const (
	userQuotaRoot   = "User quota"
	tenantQuotaRoot = "Tenant quota"
)

// quotaCaps are the capabilities added after login when quotas apply.
const quotaCaps = " QUOTA QUOTA=RES-STORAGE"

// quotaRoot is one quota root of a mailbox: its name, usage and limit.
type quotaRoot struct {
	name        string
	used, limit int64
}

// quotaRoots returns the roots that apply to the store mailbox mb (the
// user's own when m is nil, else a mount's).
func (s *session) quotaRoots(mb *mailstore.Mailbox, m *mount) ([]quotaRoot, error) {
	st, err := s.srv.quota.Status(s.ctx, mb.TenantID, mb.GUID)
	if err != nil {
		return nil, err
	}
	var out []quotaRoot
	if st.MailboxLimit > 0 {
		name := userQuotaRoot
		if m != nil {
			name = m.root
		}
		out = append(out, quotaRoot{name, st.MailboxUsed, st.MailboxLimit})
	}
	if st.TenantLimit > 0 {
		out = append(out, quotaRoot{tenantQuotaRoot, st.TenantUsed, st.TenantLimit})
	}
	return out, nil
}

// quotaCommand answers GETQUOTAROOT, GETQUOTA and SETQUOTA (args is the
// rest of the command after its name, literals included) with the
// response lines, the tagged completion last.
func (s *session) quotaCommand(tag, name, args string) []string {
	no := func(code imap.ResponseCode, text string) []string {
		return []string{fmt.Sprintf("%s NO [%s] %s", tag, code, responseText(text))}
	}
	if name == "SETQUOTA" {
		return no(imap.ResponseCodeNoPerm, "quotas are set by the administrator (tenantferry mailbox set --quota)")
	}
	arg, ok := parseAstring(args)
	if !ok {
		return []string{tag + " BAD [CLIENTBUG] " + name + " takes one argument"}
	}
	var out []string
	var roots []quotaRoot
	var err error
	if name == "GETQUOTAROOT" {
		folder := decodeMUTF7(arg)
		var p place
		if p, err = s.locate(folder); err == nil {
			_, _, err = s.folderByName(folder)
		}
		if err == nil {
			roots, err = s.quotaRoots(p.mb, p.m)
		}
		if err != nil {
			return []string{tag + " " + statusLine(s.imapError(err))}
		}
		line := "* QUOTAROOT " + quoteString(arg)
		for _, r := range roots {
			line += " " + quoteString(r.name)
		}
		out = append(out, line)
	} else {
		roots, err = s.quotaRootNamed(arg)
		if err != nil {
			return []string{tag + " " + statusLine(s.imapError(err))}
		}
		if len(roots) == 0 {
			return no(imap.ResponseCodeNonExistent, "no quota root "+strconv.Quote(arg))
		}
	}
	for _, r := range roots {
		out = append(out, fmt.Sprintf("* QUOTA %s (STORAGE %d %d)", quoteString(r.name), (r.used+1023)/1024, r.limit/1024))
	}
	return append(out, tag+" OK "+name+" completed")
}

// quotaRootNamed returns the root called name (none when no mailbox of the
// session has it).
func (s *session) quotaRootNamed(name string) ([]quotaRoot, error) {
	try := func(mb *mailstore.Mailbox, m *mount) ([]quotaRoot, error) {
		rs, err := s.quotaRoots(mb, m)
		for _, r := range rs {
			if r.name == name {
				return []quotaRoot{r}, err
			}
		}
		return nil, err
	}
	rs, err := try(s.mb, nil)
	for i := 0; len(rs) == 0 && err == nil && i < len(s.mounts); i++ {
		rs, err = try(s.mounts[i].mb, &s.mounts[i])
	}
	return rs, err
}

// checkQuota refuses size more bytes in mb when it or its tenant has no
// room: NO [OVERQUOTA].
func (s *session) checkQuota(mb *mailstore.Mailbox, size int64) error {
	if s.srv.quota == nil || size <= 0 {
		return nil
	}
	st, err := s.srv.quota.Status(s.ctx, mb.TenantID, mb.GUID)
	if err != nil {
		return s.imapError(err)
	}
	if err := st.Fits(s.mailboxName(mb), size); err != nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeOverQuota, Text: responseText(err.Error())}
	}
	return nil
}

// checkCopyQuota refuses a COPY or MOVE of refs (of the selected folder)
// into dst when dst has no room for them.
func (s *session) checkCopyQuota(sel *selected, refs []msgRef, dst *mailstore.Mailbox) error {
	if s.srv.quota == nil {
		return nil
	}
	size, err := s.srv.store.SizeOf(s.ctx, sel.folder.ID, uidSetOf(refs))
	if err != nil {
		return s.imapError(err)
	}
	return s.checkQuota(dst, size)
}

// mailboxName names a mailbox of the session in errors.
func (s *session) mailboxName(mb *mailstore.Mailbox) string {
	for _, m := range s.mounts {
		if m.mb.ID == mb.ID {
			return m.root
		}
	}
	return s.user
}

// statusLine renders an imap.Error as the text of a tagged status
// response ("NO [CODE] text").
func statusLine(err error) string {
	ie, ok := err.(*imap.Error)
	if !ok {
		return "NO " + responseText(err.Error())
	}
	s := string(ie.Type) + " "
	if ie.Code != "" {
		s += "[" + string(ie.Code) + "] "
	}
	return s + responseText(ie.Text)
}

// quoteString renders s as an IMAP quoted string.
func quoteString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// parseAstring parses the one astring argument of a command (an atom, a
// quoted string or a literal, as readCommand returns it) and reports
// whether that was all.
func parseAstring(args string) (string, bool) {
	args = strings.TrimRight(strings.TrimPrefix(args, " "), "\r\n")
	switch {
	case args == "":
		return "", false
	case args[0] == '"':
		var b strings.Builder
		for i := 1; i < len(args); i++ {
			switch c := args[i]; c {
			case '\\':
				if i++; i == len(args) {
					return "", false
				}
				b.WriteByte(args[i])
			case '"':
				return b.String(), i == len(args)-1
			default:
				b.WriteByte(c)
			}
		}
		return "", false
	case args[0] == '{':
		j := strings.Index(args, "}\r\n")
		if j < 0 {
			return "", false
		}
		n, err := strconv.Atoi(strings.TrimSuffix(args[1:j], "+"))
		lit := args[j+3:]
		return lit, err == nil && n == len(lit)
	}
	for i := 0; i < len(args); i++ {
		if !isAtomChar(args[i]) && args[i] != ']' {
			return "", false
		}
	}
	return args, true
}

// decodeMUTF7 decodes a modified UTF-7 mailbox name (RFC 3501 section
// 5.1.3); an invalid shift sequence is kept as written.
func decodeMUTF7(name string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(name, '&')
		if i < 0 {
			return b.String() + name
		}
		b.WriteString(name[:i])
		j := strings.IndexByte(name[i:], '-')
		if j < 0 {
			return b.String() + name[i:]
		}
		seg := name[i+1 : i+j]
		name = name[i+j+1:]
		if seg == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7Base64.WithPadding(base64.NoPadding).DecodeString(seg)
		if err != nil || len(raw)%2 != 0 {
			b.WriteString("&" + seg + "-")
			continue
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		b.WriteString(string(utf16.Decode(u)))
	}
}
