package replication

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/failpoint"
	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Releaser releases mail held for a mailbox while it was locked (the
// delivery queue implements it).
type Releaser interface {
	Release(ctx context.Context, tenantID, guid string) error
}

// SourceAPI serves the replication API of the source side. Every handler
// runs the Authorizer's checks before it reads anything.
type SourceAPI struct {
	Auth     *Authorizer
	Dir      *directory.Directory
	Store    *mailstore.Store
	Releaser Releaser // optional
	Log      *slog.Logger
	// MaxPage bounds the page sizes callers may ask for.
	MaxPage int
}

// Routes registers the replication API on mux.
func (s *SourceAPI) Routes(mux *http.ServeMux) {
	p := strings.TrimSuffix(APIPrefix, "/")
	mux.HandleFunc("GET "+p+"/{tenant}/check", s.handle(s.check))
	mux.HandleFunc("GET "+p+"/{tenant}/scope", s.handle(s.scope))
	mux.HandleFunc("GET "+p+"/{tenant}/mailboxes/{id}", s.handle(s.mailbox))
	m := p + "/{tenant}/mailboxes/{id}/"
	mux.HandleFunc("GET "+m+"state", s.handleMailbox(false, s.state))
	mux.HandleFunc("GET "+m+"folders", s.handleMailbox(false, s.folders))
	mux.HandleFunc("GET "+m+"items", s.handleMailbox(false, s.items))
	mux.HandleFunc("GET "+m+"deletions", s.handleMailbox(false, s.deletions))
	mux.HandleFunc("GET "+m+"manifest", s.handleMailbox(true, s.manifest))
	mux.HandleFunc("POST "+m+"content", s.handleMailbox(false, s.content))
	mux.HandleFunc("POST "+m+"lock", s.handleMailbox(true, s.lock))
	mux.HandleFunc("POST "+m+"unlock", s.handleMailbox(true, s.unlock))
	mux.HandleFunc("POST "+m+"finalize", s.handleMailbox(true, s.finalize))
	mux.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, s.Log, r, errs.NotFoundf("NoSuchRoute", "no replication API route %s %s", r.Method, r.URL.Path).
			WithHint("see docs/replication-api.md"))
	})
}

type grantFunc func(w http.ResponseWriter, r *http.Request, g *Grant) (any, error)

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// handle authorizes checks 1–3 and encodes the handler's JSON result.
func (s *SourceAPI) handle(f grantFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g, err := s.Auth.Authorize(r.Context(), r.PathValue("tenant"), bearer(r))
		if err == nil {
			var v any
			if v, err = f(w, r, g); err == nil {
				if v != nil {
					writeJSON(w, v)
				}
				return
			}
		}
		httpx.WriteError(w, s.Log, r, err)
	}
}

// mailboxRef is an authorized source mailbox (primary or archive) and its
// content store.
type mailboxRef struct {
	rec  *directory.Recipient
	kind mailstore.MailboxKind
	mb   *mailstore.Mailbox
}

type mailboxFunc func(w http.ResponseWriter, r *http.Request, g *Grant, m *mailboxRef) (any, error)

// handleMailbox adds check 4 for the mailbox named by {id} (an ExchangeGuid
// or ArchiveGuid).
func (s *SourceAPI) handleMailbox(allowConverted bool, f mailboxFunc) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request, g *Grant) (any, error) {
		guid := strings.ToLower(r.PathValue("id"))
		rec, err := s.Auth.AuthorizeMailbox(r.Context(), g, guid, allowConverted)
		if err != nil {
			return nil, err
		}
		kind := mailstore.KindPrimary
		switch guid {
		case rec.ExchangeGuid:
		case rec.ArchiveGuid:
			kind = mailstore.KindArchive
		default:
			return nil, errs.Invalidf("GuidRequired", "mailbox content is addressed by ExchangeGuid or ArchiveGuid, not %q", r.PathValue("id"))
		}
		mb, err := s.Store.Mailbox(r.Context(), g.Tenant.ID, guid)
		if errs.Is(err, "MailboxNotFound") && rec.Type == directory.UserMailbox {
			mb, err = s.Store.CreateMailbox(r.Context(), mailstore.NewMailbox{TenantID: g.Tenant.ID, GUID: guid, Kind: kind, DefaultFolders: true})
			if errs.Is(err, "MailboxExists") {
				mb, err = s.Store.Mailbox(r.Context(), g.Tenant.ID, guid)
			}
		}
		if err != nil {
			return nil, err
		}
		return f(w, r, g, &mailboxRef{rec: rec, kind: kind, mb: mb})
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func (s *SourceAPI) check(_ http.ResponseWriter, r *http.Request, g *Grant) (any, error) {
	return &CheckReply{TenantId: g.Tenant.ID, TenantName: g.Tenant.Name, InitialDomain: g.Tenant.InitialDomain,
		Domains: g.Tenant.Domains, AppId: g.Claims.AppID, OrgRel: g.OrgRel.Name}, nil
}

func (s *SourceAPI) info(ctx context.Context, rec *directory.Recipient) *MailboxInfo {
	mi := &MailboxInfo{Id: rec.ID, RecipientType: string(rec.Type), PrimarySmtpAddress: rec.PrimarySmtpAddress, Alias: rec.Alias, Name: rec.Name,
		DisplayName: rec.DisplayName, FirstName: rec.FirstName, LastName: rec.LastName, ExchangeGuid: rec.ExchangeGuid, ArchiveGuid: rec.ArchiveGuid,
		LegacyExchangeDN: rec.LegacyExchangeDN, EmailAddresses: rec.EmailAddresses(), ExternalEmailAddress: rec.ExternalEmailAddress}
	if mb, err := s.Store.Mailbox(ctx, rec.TenantID, rec.ExchangeGuid); err == nil {
		if st, err := s.Store.Stats(ctx, mb.ID); err == nil {
			mi.Items, mi.Bytes = st.Total.Messages, st.Total.Bytes
		}
	}
	if rec.ArchiveGuid != "" {
		if mb, err := s.Store.Mailbox(ctx, rec.TenantID, rec.ArchiveGuid); err == nil {
			if st, err := s.Store.Stats(ctx, mb.ID); err == nil {
				mi.ArchiveItems, mi.ArchiveBytes = st.Total.Messages, st.Total.Bytes
			}
		}
	}
	return mi
}

func (s *SourceAPI) mailbox(_ http.ResponseWriter, r *http.Request, g *Grant) (any, error) {
	rec, err := s.Auth.AuthorizeMailbox(r.Context(), g, r.PathValue("id"), r.URL.Query().Get("converted") == "1")
	if err != nil {
		return nil, err
	}
	return s.info(r.Context(), rec), nil
}

func (s *SourceAPI) scope(_ http.ResponseWriter, r *http.Request, g *Grant) (any, error) {
	seen := map[string]bool{}
	out := []*MailboxInfo{}
	for _, gid := range g.OrgRel.MailboxMovePublishedScopes {
		ms, err := s.Dir.ExpandGroup(r.Context(), g.Tenant.ID, gid)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Type == directory.UserMailbox && !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, s.info(r.Context(), m))
			}
		}
	}
	return out, nil
}

func (s *SourceAPI) state(_ http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	st, err := s.Store.Stats(r.Context(), m.mb.ID)
	if err != nil {
		return nil, err
	}
	mb, err := s.Store.MailboxByID(r.Context(), m.mb.ID)
	if err != nil {
		return nil, err
	}
	return &StateReply{Guid: m.mb.GUID, Kind: string(m.kind), HighestModSeq: st.ModSeq, Locked: mb.State != mailstore.StateActive,
		Items: st.Total.Messages, Bytes: st.Total.Bytes}, nil
}

func int64Param(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errs.Invalidf("InvalidParameter", "%s=%q is not a non-negative number", name, v)
	}
	return n, nil
}

func (s *SourceAPI) limit(r *http.Request) (int, error) {
	n, err := int64Param(r, "limit")
	if err != nil {
		return 0, err
	}
	max := s.MaxPage
	if max == 0 {
		max = 5000
	}
	if n <= 0 || n > int64(max) {
		n = int64(max)
	}
	return int(n), nil
}

// page reads the paging parameters of the change feeds: after (a cursor),
// upto (a MODSEQ) and limit.
func (s *SourceAPI) page(r *http.Request) (after Cursor, upto int64, limit int, err error) {
	if after, err = ParseCursor(r.URL.Query().Get("after")); err != nil {
		return
	}
	if upto, err = int64Param(r, "upto"); err != nil {
		return
	}
	limit, err = s.limit(r)
	return
}

func (s *SourceAPI) folders(_ http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	since, err := int64Param(r, "since")
	if err != nil {
		return nil, err
	}
	state, err := s.Store.HighestModSeq(r.Context(), m.mb.ID)
	if err != nil {
		return nil, err
	}
	fs, err := s.Store.FolderChanges(r.Context(), m.mb.ID, since)
	if err != nil {
		return nil, err
	}
	out := &FoldersReply{State: state, Folders: make([]FolderInfo, 0, len(fs))}
	for _, f := range fs {
		out.Folders = append(out.Folders, FolderInfo{Id: f.StableID, ParentId: f.ParentID, Name: f.Name, Class: f.Class,
			SpecialUse: f.SpecialUse, Deleted: f.Deleted, ModSeq: f.ModSeq, Props: f.Props})
	}
	return out, nil
}

func (s *SourceAPI) items(_ http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	after, upto, limit, err := s.page(r)
	if err != nil {
		return nil, err
	}
	// Items larger than detail_over carry their subject, so a target that
	// skips them can report what it skipped.
	detailOver, err := int64Param(r, "detail_over")
	if err != nil {
		return nil, err
	}
	cs, next, err := s.Store.ItemChanges(r.Context(), m.mb.ID, mailstore.Cursor{ModSeq: after.ModSeq, ID: after.Id}, upto, limit)
	if err != nil {
		return nil, err
	}
	out := &ItemsReply{Items: make([]ItemInfo, 0, len(cs)), Next: Cursor{next.ModSeq, next.ID}, More: len(cs) == limit}
	for _, c := range cs {
		it := ItemInfo{Id: c.ItemID, Folder: c.FolderStableID, Flags: c.Flags, InternalDate: db.Millis(c.InternalDate),
			Size: c.Size, Sha256: c.SHA256, ModSeq: c.ModSeq, Name: c.Name, ObjectUid: c.ObjectUID}
		if detailOver > 0 && c.Size > detailOver {
			if full, err := s.Store.Item(r.Context(), m.mb.ID, c.ItemID); err == nil {
				it.Subject = full.Subject
			}
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

func (s *SourceAPI) deletions(_ http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	after, upto, limit, err := s.page(r)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.Store.Tombstones(r.Context(), m.mb.ID, mailstore.Cursor{ModSeq: after.ModSeq, ID: after.Id}, upto, limit)
	if err != nil {
		return nil, err
	}
	out := &DeletionsReply{Ids: []int64{}, Next: Cursor{next.ModSeq, next.ID}, More: len(ts) == limit}
	for _, t := range ts {
		if !t.Moved {
			out.Ids = append(out.Ids, t.ItemID)
		}
	}
	return out, nil
}

// maxContentIDs bounds one content request.
const maxContentIDs = 10000

func (s *SourceAPI) content(w http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	var req ContentRequest
	if err := httpx.DecodeJSON(r, 1<<20, &req); err != nil {
		return nil, err
	}
	if len(req.Ids) == 0 || len(req.Ids) > maxContentIDs {
		return nil, errs.Invalidf("InvalidParameter", "a content request names 1 to %d items, not %d", maxContentIDs, len(req.Ids))
	}
	w.Header().Set("Content-Type", ContentType)
	bw := bufio.NewWriterSize(w, 256<<10)
	ctx := r.Context()
	for _, id := range req.Ids {
		b, err := s.Store.OpenItem(ctx, m.mb.ID, id)
		if err != nil {
			size := int64(SizeGone)
			if !errs.Is(err, "ItemNotFound") {
				s.Log.Warn("replication: source item unreadable", "item", id, "err", err)
				size = SizeUnreadable
			}
			if err := writeFrameHeader(bw, id, size, make([]byte, 32)); err != nil {
				return nil, nil
			}
			continue
		}
		sha, _ := hex.DecodeString(b.SHA256)
		err = writeFrameHeader(bw, id, b.Size(), sha)
		if err == nil {
			_, err = io.Copy(bw, io.NewSectionReader(b, 0, b.Size()))
		}
		b.Close()
		if err != nil {
			// The client went away or the blob could not be read: the
			// stream is broken off and the client retries the chunk.
			s.Log.Warn("replication content stream aborted", "item", id, "err", err)
			return nil, nil
		}
	}
	bw.Flush()
	return nil, nil
}

func (s *SourceAPI) manifest(_ http.ResponseWriter, r *http.Request, _ *Grant, m *mailboxRef) (any, error) {
	return BuildManifest(r.Context(), s.Store, m.mb.ID, r.URL.Query().Get("detail"), false)
}

// BuildManifest summarises a mailbox per folder. With byOrigin, folders are
// named by their origin (the target side of a move) and only folders with
// an origin are listed. detail names a folder whose item hashes are listed.
func BuildManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, detail string, byOrigin bool) (*ManifestReply, error) {
	return buildManifest(ctx, st, mailboxID, detail, byOrigin, "")
}

// BuildOriginManifest summarises, per folder named by its origin, only the
// items of a mailbox whose origin starts with prefix: the target side of a
// move into a live mailbox (IMAP), where local mail sits next to the
// copied items and is no part of the comparison.
func BuildOriginManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, prefix string) (*ManifestReply, error) {
	return buildManifest(ctx, st, mailboxID, "", true, prefix)
}

func buildManifest(ctx context.Context, st *mailstore.Store, mailboxID int64, detail string, byOrigin bool, prefix string) (*ManifestReply, error) {
	high, err := st.HighestModSeq(ctx, mailboxID)
	if err != nil {
		return nil, err
	}
	fs, err := st.ListFolders(ctx, mailboxID, false)
	if err != nil {
		return nil, err
	}
	byFolder := map[int64][]string{}
	sizes := map[int64]int64{}
	after := mailstore.Cursor{}
	for {
		cs, next, err := st.ItemChanges(ctx, mailboxID, after, high, 5000)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			if prefix != "" && !strings.HasPrefix(c.Origin, prefix) {
				continue
			}
			byFolder[c.FolderID] = append(byFolder[c.FolderID], c.SHA256)
			sizes[c.FolderID] += c.Size
		}
		if len(cs) < 5000 {
			break
		}
		after = next
	}
	out := &ManifestReply{HighestModSeq: high, Folders: []FolderManifest{}}
	for _, f := range fs {
		name := f.StableID
		if byOrigin {
			if f.Origin == "" {
				if len(byFolder[f.ID]) == 0 {
					continue
				}
				name = "local:" + f.StableID
			} else {
				name = f.Origin
			}
		}
		hs := byFolder[f.ID]
		sort.Strings(hs)
		h := sha256.New()
		for _, x := range hs {
			io.WriteString(h, x+"\n")
		}
		fm := FolderManifest{Folder: name, Path: f.Path, Count: int64(len(hs)), Bytes: sizes[f.ID], Digest: hex.EncodeToString(h.Sum(nil))}
		if detail != "" && detail == name {
			fm.Hashes = hs
		}
		out.Folders = append(out.Folders, fm)
	}
	return out, nil
}

func (s *SourceAPI) setState(ctx context.Context, m *mailboxRef, state mailstore.MailboxState) (*LockReply, error) {
	mb, err := s.Store.MailboxByID(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	if mb.State != state && mb.State != mailstore.StateRetired {
		if err := s.Store.SetMailboxState(ctx, m.mb.ID, state); err != nil {
			return nil, err
		}
		mb.State = state
	}
	high, err := s.Store.HighestModSeq(ctx, m.mb.ID)
	if err != nil {
		return nil, err
	}
	return &LockReply{State: string(mb.State), HighestModSeq: high, At: time.Now().UTC()}, nil
}

func (s *SourceAPI) lock(_ http.ResponseWriter, r *http.Request, g *Grant, m *mailboxRef) (any, error) {
	if m.rec.Type != directory.UserMailbox {
		return s.setState(r.Context(), m, mailstore.StateRetired)
	}
	failpoint.Hit("source.lock")
	s.Log.Info("replication: source mailbox locked for completion", "tenant", g.Tenant.Name, "mailbox", m.rec.PrimarySmtpAddress, "kind", m.kind, "app", g.Claims.AppID)
	return s.setState(r.Context(), m, mailstore.StateLocked)
}

func (s *SourceAPI) unlock(_ http.ResponseWriter, r *http.Request, g *Grant, m *mailboxRef) (any, error) {
	if m.rec.Type != directory.UserMailbox {
		return nil, errs.Conflictf("AlreadyFinalized", "source %s was already converted to a MailUser and cannot be unlocked", m.rec.PrimarySmtpAddress)
	}
	rep, err := s.setState(r.Context(), m, mailstore.StateActive)
	if err == nil && s.Releaser != nil {
		err = s.Releaser.Release(r.Context(), g.Tenant.ID, m.mb.GUID)
	}
	return rep, err
}

// finalize converts the source UserMailbox into a MailUser forwarding to the
// target, retires its content (primary and archive) and releases held mail,
// which now routes to the target. Repeating it is harmless.
func (s *SourceAPI) finalize(_ http.ResponseWriter, r *http.Request, g *Grant, m *mailboxRef) (any, error) {
	var req FinalizeRequest
	if err := httpx.DecodeJSON(r, 64<<10, &req); err != nil {
		return nil, err
	}
	if m.kind != mailstore.KindPrimary {
		return nil, errs.Invalidf("GuidRequired", "finalize addresses the primary mailbox (ExchangeGuid)")
	}
	ctx := r.Context()
	err := s.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		_, err := s.Dir.ConvertToMailUser(ctx, tx, g.Tenant.ID, m.rec.ID, req.ExternalEmailAddress, req.TargetLegacyExchangeDN)
		return err
	})
	if err != nil {
		return nil, err
	}
	failpoint.Hit("source.finalize.converted")
	for _, guid := range []string{m.rec.ExchangeGuid, m.rec.ArchiveGuid} {
		if guid == "" {
			continue
		}
		if mb, err := s.Store.Mailbox(ctx, g.Tenant.ID, guid); err == nil && mb.State != mailstore.StateRetired {
			if err := s.Store.SetMailboxState(ctx, mb.ID, mailstore.StateRetired); err != nil {
				return nil, err
			}
		}
	}
	if s.Releaser != nil {
		if err := s.Releaser.Release(ctx, g.Tenant.ID, m.rec.ExchangeGuid); err != nil {
			s.Log.Warn("releasing held mail failed; the queue retries it", "mailbox", m.rec.PrimarySmtpAddress, "err", err)
		}
	}
	s.Log.Info("replication: source mailbox converted to MailUser", "tenant", g.Tenant.Name, "mailbox", m.rec.PrimarySmtpAddress,
		"forwards_to", req.ExternalEmailAddress)
	return &LockReply{State: string(mailstore.StateRetired), At: time.Now().UTC()}, nil
}
