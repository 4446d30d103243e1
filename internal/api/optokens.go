package api

import (
	"net/http"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// Operator tokens: /api/v1/admin-tokens, operator only (a tenant admin
// gets 403 OperatorRequired); a list never shows a token.

func (s *Server) issueOperatorToken(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.AdminTokenCreate
	if r.ContentLength != 0 {
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
	}
	exp, err := tokenExpiry(req.Expires)
	if err != nil {
		return nil, err
	}
	tok, at, err := s.Core.IssueOperatorToken(r.Context(), p, req.Name, exp)
	if err != nil {
		return nil, err
	}
	v := apitypes.OperatorTokenIssued{Name: at.Name, AdminToken: tok, AdminTokenId: at.ID}
	if !at.ExpiresAt.IsZero() {
		v.AdminTokenExpiresAt = &at.ExpiresAt
	}
	return created{v}, nil
}

func (s *Server) listOperatorTokens(r *http.Request, p *admin.Principal) (any, error) {
	ts, err := s.Core.OperatorTokens(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return adminTokenViews(ts, p), nil
}

func (s *Server) revokeOperatorToken(r *http.Request, p *admin.Principal) (any, error) {
	return noContent, s.Core.RevokeOperatorToken(r.Context(), p, r.PathValue("id"))
}

// adminTokenViews is the JSON form of a token list; Current marks the
// request's own token.
func adminTokenViews(ts []directory.AdminToken, p *admin.Principal) []apitypes.AdminTokenView {
	out := make([]apitypes.AdminTokenView, 0, len(ts))
	for _, t := range ts {
		v := apitypes.AdminTokenView{Id: t.ID, Name: t.Name, WhenCreated: t.CreatedAt, Current: t.ID == p.TokenID}
		if !t.ExpiresAt.IsZero() {
			e := t.ExpiresAt
			v.ExpiresAt = &e
		}
		out = append(out, v)
	}
	return out
}
