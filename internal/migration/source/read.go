package source

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// MaxContentIDs bounds one content request.
const MaxContentIDs = 10000

// defaultMaxPage is the page size limit when Core.MaxPage is 0.
const defaultMaxPage = 5000

// Check returns the source tenant of an authorized caller (checks 1–3
// passed).
func (c *Core) Check(g *Grant) *replication.CheckReply {
	return &replication.CheckReply{TenantId: g.Tenant.ID, TenantName: g.Tenant.Name, InitialDomain: g.Tenant.InitialDomain,
		Domains: g.Tenant.Domains, AppId: g.Claims.AppID, OrgRel: g.OrgRel.Name}
}

// Scope lists the UserMailboxes of the grant's published scope groups,
// each once.
func (c *Core) Scope(ctx context.Context, g *Grant) ([]*replication.MailboxInfo, error) {
	seen := map[string]bool{}
	out := []*replication.MailboxInfo{}
	for _, gid := range g.OrgRel.MailboxMovePublishedScopes {
		ms, err := c.Dir.ExpandGroup(ctx, g.Tenant.ID, gid)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Type == directory.UserMailbox && !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, c.info(ctx, m))
			}
		}
	}
	return out, nil
}

// MailboxInfo runs check 4 for a mailbox by address, alias or GUID and
// returns its identity and size. With converted, a source already
// converted to a MailUser is returned too.
func (c *Core) MailboxInfo(ctx context.Context, g *Grant, ref string, converted bool) (*replication.MailboxInfo, error) {
	rec, err := c.recipient(ctx, g, ref, converted)
	if err != nil {
		return nil, err
	}
	mi := c.info(ctx, rec)
	if err := c.permissions(ctx, g, rec, mi); err != nil {
		return nil, err
	}
	return mi, nil
}

// permissions fills mi's mailbox permissions: those on rec or held by it
// whose other principal is a mailbox (or moved-away mailbox) in the
// grant's scope; the others are only counted, never named.
func (c *Core) permissions(ctx context.Context, g *Grant, rec *directory.Recipient, mi *replication.MailboxInfo) error {
	ps, err := c.Dir.PermissionsInvolving(ctx, rec.TenantID, rec.ID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		other := p.User
		if other.ID == rec.ID {
			other = p.Mailbox
		}
		in, err := c.Dir.IsMemberOfAny(ctx, nil, g.OrgRel.MailboxMovePublishedScopes, other.ID)
		if err != nil {
			return err
		}
		if !in || other.ExchangeGuid == "" {
			mi.PermissionsOutOfScope++
			continue
		}
		mi.Permissions = append(mi.Permissions, replication.PermissionInfo{MailboxGuid: p.Mailbox.ExchangeGuid, MailboxAddress: p.Mailbox.PrimarySmtpAddress,
			UserGuid: p.User.ExchangeGuid, UserAddress: p.User.PrimarySmtpAddress, Right: p.Right})
	}
	return nil
}

func (c *Core) info(ctx context.Context, rec *directory.Recipient) *replication.MailboxInfo {
	mi := &replication.MailboxInfo{Id: rec.ID, RecipientType: string(rec.Type), PrimarySmtpAddress: rec.PrimarySmtpAddress, Alias: rec.Alias, Name: rec.Name,
		DisplayName: rec.DisplayName, FirstName: rec.FirstName, LastName: rec.LastName, ExchangeGuid: rec.ExchangeGuid, ArchiveGuid: rec.ArchiveGuid,
		LegacyExchangeDN: rec.LegacyExchangeDN, EmailAddresses: rec.EmailAddresses(), ExternalEmailAddress: rec.ExternalEmailAddress}
	if rec.Shared {
		mi.RecipientTypeDetails = "SharedMailbox"
	}
	mi.Items, mi.Bytes = c.size(ctx, rec.TenantID, rec.ExchangeGuid)
	if rec.ArchiveGuid != "" {
		mi.ArchiveItems, mi.ArchiveBytes = c.size(ctx, rec.TenantID, rec.ArchiveGuid)
	}
	return mi
}

// size returns the item count and bytes of a mailbox (0 when it has no
// content yet).
func (c *Core) size(ctx context.Context, tenantID, guid string) (int64, int64) {
	mb, err := c.Store.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return 0, 0
	}
	st, err := c.Store.Stats(ctx, mb.ID)
	if err != nil {
		return 0, 0
	}
	return st.Total.Messages, st.Total.Bytes
}

// Mailbox is an authorized source mailbox (primary or archive) and its
// content. Only OpenMailbox makes one.
type Mailbox struct {
	c     *Core
	grant *Grant
	rec   *directory.Recipient
	kind  mailstore.MailboxKind
	mb    *mailstore.Mailbox
}

// Recipient returns the source recipient the mailbox belongs to.
func (m *Mailbox) Recipient() *directory.Recipient { return m.rec }

// OpenMailbox runs check 4 for the mailbox named by guid (an ExchangeGuid
// or ArchiveGuid) and opens its content. A UserMailbox without content yet
// gets its default folders. With allowConverted, a source already
// converted to a MailUser is opened too (to repeat completion steps).
func (c *Core) OpenMailbox(ctx context.Context, g *Grant, guid string, allowConverted bool) (*Mailbox, error) {
	guid = strings.ToLower(guid)
	rec, err := c.recipientByGuid(ctx, g, guid, allowConverted)
	if err != nil {
		return nil, err
	}
	kind := mailstore.KindPrimary
	switch guid {
	case rec.ExchangeGuid:
	case rec.ArchiveGuid:
		kind = mailstore.KindArchive
	default:
		return nil, ErrGuidRequired.Newf("mailbox content is addressed by ExchangeGuid or ArchiveGuid, not %q", guid)
	}
	var mb *mailstore.Mailbox
	if rec.Type == directory.UserMailbox {
		mb, err = c.Store.EnsureMailbox(ctx, g.Tenant.ID, guid, kind)
	} else {
		mb, err = c.Store.Mailbox(ctx, g.Tenant.ID, guid)
	}
	if err != nil {
		return nil, err
	}
	return &Mailbox{c: c, grant: g, rec: rec, kind: kind, mb: mb}, nil
}

// State returns the mailbox's change state.
func (m *Mailbox) State(ctx context.Context) (*replication.StateReply, error) {
	st, err := m.c.Store.Stats(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	mb, err := m.c.Store.MailboxByID(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	return &replication.StateReply{Guid: m.mb.GUID, Kind: string(m.kind), HighestModSeq: st.ModSeq, Locked: mb.State != mailstore.StateActive,
		Items: st.Total.Messages, Bytes: st.Total.Bytes}, nil
}

// Folders returns the folders whose hierarchy changed after MODSEQ since.
func (m *Mailbox) Folders(ctx context.Context, since int64) (*replication.FoldersReply, error) {
	state, err := m.c.Store.HighestModSeq(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	fs, err := m.c.Store.FolderChanges(ctx, m.mb.ID, since)
	if err != nil {
		return nil, err
	}
	out := &replication.FoldersReply{State: state, Folders: make([]replication.FolderInfo, 0, len(fs))}
	for _, f := range fs {
		out.Folders = append(out.Folders, replication.FolderInfo{Id: f.StableID, ParentId: f.ParentID, Name: f.Name, Class: f.Class,
			SpecialUse: f.SpecialUse, Deleted: f.Deleted, ModSeq: f.ModSeq, Props: f.Props})
	}
	return out, nil
}

// limit clamps a requested page size to (0, MaxPage].
func (c *Core) limit(n int) int {
	max := c.MaxPage
	if max <= 0 {
		max = defaultMaxPage
	}
	if n <= 0 || n > max {
		return max
	}
	return n
}

// Items returns a page of item changes after a cursor, up to a MODSEQ.
// Items larger than detailOver (when > 0) carry their subject, so a target
// that skips them can report what it skipped.
func (m *Mailbox) Items(ctx context.Context, after replication.Cursor, upto int64, limit int, detailOver int64) (*replication.ItemsReply, error) {
	limit = m.c.limit(limit)
	cs, next, err := m.c.Store.ItemChanges(ctx, m.mb.ID, mailstore.Cursor{ModSeq: after.ModSeq, ID: after.Id}, upto, limit)
	if err != nil {
		return nil, err
	}
	out := &replication.ItemsReply{Items: make([]replication.ItemInfo, 0, len(cs)), Next: replication.Cursor{ModSeq: next.ModSeq, Id: next.ID}, More: len(cs) == limit}
	for _, c := range cs {
		it := replication.ItemInfo{Id: c.ItemID, Folder: c.FolderStableID, Flags: c.Flags, InternalDate: db.Millis(c.InternalDate),
			Size: c.Size, Sha256: c.SHA256, ModSeq: c.ModSeq, Name: c.Name, ObjectUid: c.ObjectUID}
		if detailOver > 0 && c.Size > detailOver {
			if full, err := m.c.Store.Item(ctx, m.mb.ID, c.ItemID); err == nil {
				it.Subject = full.Subject
			}
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

// Deletions returns a page of ids of items removed (not moved) after the
// tombstone cursor, up to a MODSEQ.
func (m *Mailbox) Deletions(ctx context.Context, after replication.Cursor, upto int64, limit int) (*replication.DeletionsReply, error) {
	limit = m.c.limit(limit)
	ts, next, err := m.c.Store.Tombstones(ctx, m.mb.ID, mailstore.Cursor{ModSeq: after.ModSeq, ID: after.Id}, upto, limit)
	if err != nil {
		return nil, err
	}
	out := &replication.DeletionsReply{Ids: []int64{}, Next: replication.Cursor{ModSeq: next.ModSeq, Id: next.ID}, More: len(ts) == limit}
	for _, t := range ts {
		if !t.Moved {
			out.Ids = append(out.Ids, t.ItemID)
		}
	}
	return out, nil
}

// Manifest summarises the mailbox per folder; detail names a folder whose
// item hashes are listed.
func (m *Mailbox) Manifest(ctx context.Context, detail string) (*replication.ManifestReply, error) {
	return replication.BuildManifest(ctx, m.c.Store, m.mb.ID, detail, false)
}

// OpenContent streams the raw bytes of 1 to MaxContentIDs items, one frame
// per id in order, and io.EOF after the last one. An item no longer there
// is a SizeGone frame, one whose bytes cannot be opened a SizeUnreadable
// frame. The caller closes the stream.
func (m *Mailbox) OpenContent(ctx context.Context, ids []int64) (*replication.ContentStream, error) {
	if len(ids) == 0 || len(ids) > MaxContentIDs {
		return nil, ErrInvalidParameter.Newf("a content request names 1 to %d items, not %d", MaxContentIDs, len(ids))
	}
	cs := &contentStream{m: m, ctx: ctx, ids: ids}
	return replication.NewContentStream(cs.next, cs.close), nil
}

// contentStream opens one item at a time; the previous item's blob is
// closed when the next frame is asked for.
type contentStream struct {
	m   *Mailbox
	ctx context.Context
	ids []int64
	cur *blobstore.Blob
}

func (s *contentStream) next() (replication.Frame, error) {
	s.close()
	if len(s.ids) == 0 {
		return replication.Frame{}, io.EOF
	}
	id := s.ids[0]
	s.ids = s.ids[1:]
	b, err := s.m.c.Store.OpenItem(s.ctx, s.m.mb.ID, id)
	if err != nil {
		size := int64(replication.SizeGone)
		if !errors.Is(err, mailstore.ErrItemNotFound) {
			s.m.c.Log.Warn("replication: source item unreadable", "item", id, "err", err)
			size = replication.SizeUnreadable
		}
		return replication.Frame{ID: id, Size: size, Body: strings.NewReader("")}, nil
	}
	if sha, err := hex.DecodeString(b.SHA256); err != nil || len(sha) != 32 {
		b.Close()
		s.m.c.Log.Warn("replication: source item has no valid hash", "item", id, "sha256", b.SHA256)
		return replication.Frame{ID: id, Size: replication.SizeUnreadable, Body: strings.NewReader("")}, nil
	}
	s.cur = b
	return replication.Frame{ID: id, Size: b.Size(), SHA256: b.SHA256, Body: io.NewSectionReader(b, 0, b.Size())}, nil
}

func (s *contentStream) close() error {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	return nil
}

// FreeBusy answers a free/busy request of an authorized caller for a
// mailbox in the published scope (check 4; a mailbox already moved away is
// not answered): the busy times of every calendar of the mailbox in the
// range. The caller's relationship must have FreeBusyAccessEnabled; the
// range is at most replication.MaxFreeBusyRange.
func (c *Core) FreeBusy(ctx context.Context, g *Grant, ref string, start, end time.Time) (*replication.FreeBusyReply, error) {
	if !g.OrgRel.FreeBusyAccessEnabled {
		return nil, ErrFreeBusyNotShared.Newf("organization relationship %s does not share free/busy times", g.OrgRel.Name).
			WithHint("the source admin runs 'tenantferry orgrel set --tenant %s %s --free-busy-access-enabled'", g.Tenant.Name, g.OrgRel.Name)
	}
	if start.IsZero() || !end.After(start) || end.Sub(start) > replication.MaxFreeBusyRange {
		return nil, ErrInvalidParameter.Newf("free/busy range %s to %s is empty or longer than a year", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	rec, err := c.recipient(ctx, g, ref, false)
	if err != nil {
		return nil, err
	}
	gw := &groupware.Service{Dir: c.Dir, Store: c.Store}
	acc, err := gw.OwnerAccount(ctx, rec)
	if err != nil {
		return nil, err
	}
	data, err := gw.AccountFreeBusy(ctx, acc, groupware.TimeRange{Start: start, End: end})
	if err != nil {
		return nil, err
	}
	return &replication.FreeBusyReply{Calendar: string(data)}, nil
}
