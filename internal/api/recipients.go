package api

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/httpx"
)

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// kindRoutes registers the CRUD routes of one recipient kind.
func (s *Server) kindRoutes(h func(string, handlerFunc), path string, types ...directory.RecipientType) {
	base := "/api/v1/tenants/{t}/" + path
	h("GET "+base, func(r *http.Request, p *admin.Principal) (any, error) {
		pg, err := pageOf(r)
		if err != nil {
			return nil, err
		}
		pg.Search = r.URL.Query().Get("search")
		rs, next, err := s.Core.ListRecipientsPage(r.Context(), p, r.PathValue("t"), pg, types...)
		if err != nil {
			return nil, err
		}
		return paged{listOf(rs, recipientView), next}, nil
	})
	h("GET "+base+"/{id}", func(r *http.Request, p *admin.Principal) (any, error) {
		if types[0].IsGroup() {
			g, err := s.Core.GetGroup(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
			if err != nil {
				return nil, err
			}
			return groupView(g), nil
		}
		rc, err := s.Core.GetRecipient(r.Context(), p, r.PathValue("t"), r.PathValue("id"), types...)
		if err != nil {
			return nil, err
		}
		return recipientView(rc), nil
	})
	h("DELETE "+base+"/{id}", func(r *http.Request, p *admin.Principal) (any, error) {
		return noContent, s.Core.DeleteRecipient(r.Context(), p, r.PathValue("t"), r.PathValue("id"), types...)
	})
	h("POST "+base, func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.Recipient
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		spec := directory.RecipientSpec{Type: types[0], Name: req.Name, Alias: req.Alias, DisplayName: deref(req.DisplayName),
			FirstName: deref(req.FirstName), LastName: deref(req.LastName), PrimarySmtp: req.PrimarySmtpAddress,
			Password: deref(req.Password), Archive: req.Archive, ExchangeGuid: deref(req.ExchangeGuid), ArchiveGuid: deref(req.ArchiveGuid),
			ExternalEmail: deref(req.ExternalEmailAddress), AddAddresses: req.AddAddresses}
		switch {
		case types[0].IsGroup():
			if req.Type == "" {
				return nil, errs.Invalidf("MissingField", "Type is required").WithHint("pass --type security or --type distribution")
			}
			t, err := directory.GroupTypeOf(req.Type)
			if err != nil {
				return nil, err
			}
			spec.Type = t
			if spec.Alias == "" {
				spec.Alias = aliasFromName(req.Name)
			}
		case types[0] == directory.MailUser:
			if req.ExternalEmailAddress == nil {
				return nil, errs.Invalidf("MissingField", "ExternalEmailAddress is required for a MailUser").WithHint("pass --external-email ADDR")
			}
			if req.PrimarySmtpAddress == "" {
				return nil, errs.Invalidf("MissingField", "PrimarySmtpAddress is required for a MailUser").WithHint("pass --primary-smtp ADDR")
			}
		}
		if types[0] == directory.UserMailbox && req.Type != "" {
			switch strings.ToLower(req.Type) {
			case "shared":
				spec.Shared = true
			case "user", "regular":
			default:
				return nil, errs.Invalidf("InvalidRecipientType", "mailbox type %q is not user or shared", req.Type).WithObject(req.Type).
					WithHint("pass --type user (the default) or --type shared")
			}
		} else if req.Type != "" && !types[0].IsGroup() {
			return nil, errs.Invalidf("UnknownField", "Type applies to groups and mailboxes only")
		}
		rc, err := s.Core.CreateRecipient(r.Context(), p, r.PathValue("t"), spec)
		if err != nil {
			return nil, err
		}
		return created{recipientView(rc)}, nil
	})
	h("PATCH "+base+"/{id}", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.Recipient
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		if req.Name != "" || req.Alias != "" || req.PrimarySmtpAddress != "" || req.Archive || req.Type != "" {
			return nil, errs.Invalidf("ReadOnlyField", "Name, Alias, PrimarySmtpAddress, Archive and Type cannot be changed with set").
				WithHint("to change the primary address, add it with the SMTP: prefix (--add-address SMTP:new@domain)")
		}
		u := directory.RecipientUpdate{DisplayName: req.DisplayName, FirstName: req.FirstName, LastName: req.LastName, Password: req.Password,
			ExchangeGuid: req.ExchangeGuid, ArchiveGuid: req.ArchiveGuid, ExternalEmail: req.ExternalEmailAddress,
			AddAddresses: req.AddAddresses, RemoveAddresses: req.RemoveAddresses, Quota: req.Quota}
		rc, err := s.Core.UpdateRecipient(r.Context(), p, r.PathValue("t"), r.PathValue("id"), u, types...)
		if err != nil {
			return nil, err
		}
		return recipientView(rc), nil
	})
}

// aliasFromName derives a group alias from its name.
func aliasFromName(name string) string {
	b := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			b = append(b, c)
		}
	}
	if len(b) > directory.MaxNameLen {
		b = b[:directory.MaxNameLen]
	}
	return string(b)
}

func (s *Server) recipientRoutes(h func(string, handlerFunc)) {
	s.kindRoutes(h, "mailboxes", directory.UserMailbox)
	s.kindRoutes(h, "mailusers", directory.MailUser)
	s.kindRoutes(h, "groups", directory.SecurityGroup, directory.DistributionGroup)
	h("GET /api/v1/tenants/{t}/mailboxes/{id}/stats", func(r *http.Request, p *admin.Principal) (any, error) {
		rc, st, err := s.Core.MailboxStats(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
		if err != nil {
			return nil, err
		}
		return &apitypes.MailboxStats{Identity: rc.Alias, PrimarySmtpAddress: rc.PrimarySmtpAddress, ExchangeGuid: rc.ExchangeGuid, Statistics: st}, nil
	})
	h("POST /api/v1/tenants/{t}/mailboxes/{id}/import", func(r *http.Request, p *admin.Principal) (any, error) {
		q := r.URL.Query()
		return s.Core.ImportMailbox(r.Context(), p, r.PathValue("t"), r.PathValue("id"), q.Get("format"), q.Get("folder"), q.Get("archive") == "1", r.ContentLength, r.Body)
	})
	h("POST /api/v1/tenants/{t}/mailboxes/bulk", s.createMailboxesCSV)
	h("POST /api/v1/tenants/{t}/groups/{id}/members", func(r *http.Request, p *admin.Principal) (any, error) {
		var req apitypes.GroupMemberAdd
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
		if req.Member == "" {
			return nil, errs.Invalidf("MissingField", "Member is required")
		}
		ch, err := s.Core.AddMember(r.Context(), p, r.PathValue("t"), r.PathValue("id"), req.Member)
		if err != nil {
			return nil, err
		}
		return memberChangeView(ch, "Added"), nil
	})
	h("DELETE /api/v1/tenants/{t}/groups/{id}/members/{m}", func(r *http.Request, p *admin.Principal) (any, error) {
		ch, err := s.Core.RemoveMember(r.Context(), p, r.PathValue("t"), r.PathValue("id"), r.PathValue("m"))
		if err != nil {
			return nil, err
		}
		return memberChangeView(ch, "Removed"), nil
	})
	h("GET /api/v1/tenants/{t}/groups/{id}/members", func(r *http.Request, p *admin.Principal) (any, error) {
		pg, err := pageOf(r)
		if err != nil {
			return nil, err
		}
		ms, next, err := s.Core.GroupMembers(r.Context(), p, r.PathValue("t"), r.PathValue("id"), pg)
		if err != nil {
			return nil, err
		}
		return paged{listOf(ms, recipientView), next}, nil
	})
}

func memberChangeView(ch *directory.MemberChange, change string) *apitypes.MemberChangeView {
	return &apitypes.MemberChangeView{Group: ch.Group.PrimarySmtpAddress, GroupId: ch.Group.ID, Change: change,
		Member: ch.Member.PrimarySmtpAddress, MemberId: ch.Member.ID, MemberType: ch.Member.TypeDetails()}
}

// MaxBulkBody bounds the CSV file of a bulk mailbox creation.
const MaxBulkBody = 64 << 20

// createMailboxesCSV is POST .../mailboxes/bulk: a text/csv body of
// mailboxes (docs/api.md), all created or, with a reply listing every bad
// row, none.
func (s *Server) createMailboxesCSV(r *http.Request, p *admin.Principal) (any, error) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "text/csv" {
		return nil, httpx.ErrUnsupportedMediaType.Newf("the mailbox file must be sent as text/csv, not %q", r.Header.Get("Content-Type")).
			WithHint("send the CSV file with Content-Type: text/csv (tenantferry mailbox create --csv FILE does)")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBulkBody+1))
	if err != nil {
		return nil, directory.ErrInvalidCSV.Newf("the mailbox file could not be read: %v", err).WithHint("send the whole file again")
	}
	if len(body) > MaxBulkBody {
		return nil, errs.New(errs.TooLarge, "RequestTooLarge", "the mailbox file exceeds %d bytes", MaxBulkBody).
			WithHint("split it into smaller files")
	}
	res, err := s.Core.CreateMailboxesCSV(r.Context(), p, r.PathValue("t"), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	return created{res}, nil
}
