package api

import (
	"net/http"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

func (s *Server) createTenant(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.TenantCreate
	if err := s.decode(r, &req); err != nil {
		return nil, err
	}
	t, err := s.Core.CreateTenant(r.Context(), p, req.Name)
	if err != nil {
		return nil, err
	}
	return created{tenantView(t.Tenant, t.AdminToken)}, nil
}

func (s *Server) listTenants(r *http.Request, p *admin.Principal) (any, error) {
	pg, err := pageOf(r)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.Core.ListTenantsPage(r.Context(), p, pg)
	if err != nil {
		return nil, err
	}
	return paged{listOf(ts, func(t *directory.Tenant) *apitypes.TenantView { return tenantView(t, "") }), next}, nil
}

func (s *Server) showTenant(r *http.Request, p *admin.Principal) (any, error) {
	t, err := s.Core.Tenant(r.Context(), p, r.PathValue("t"))
	if err != nil {
		return nil, err
	}
	return tenantView(t, ""), nil
}

func (s *Server) setTenant(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.TenantSet
	if err := s.decode(r, &req); err != nil {
		return nil, err
	}
	if req.Quota == nil {
		return nil, errs.Invalidf("MissingField", "nothing to change").WithHint("pass --quota SIZE")
	}
	t, err := s.Core.SetTenantQuota(r.Context(), p, r.PathValue("t"), *req.Quota)
	if err != nil {
		return nil, err
	}
	return tenantView(t, ""), nil
}

func (s *Server) deleteTenant(r *http.Request, p *admin.Principal) (any, error) {
	return noContent, s.Core.DeleteTenant(r.Context(), p, r.PathValue("t"))
}

func (s *Server) adminToken(r *http.Request, p *admin.Principal) (any, error) {
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
	tok, at, t, err := s.Core.IssueAdminToken(r.Context(), p, r.PathValue("t"), req.Name, exp)
	if err != nil {
		return nil, err
	}
	v := tenantView(t, tok)
	v.AdminTokenId = at.ID
	if !at.ExpiresAt.IsZero() {
		v.AdminTokenExpiresAt = &at.ExpiresAt
	}
	return created{v}, nil
}

// tokenExpiry parses AdminTokenCreate.Expires: a duration from now or an
// RFC 3339 time ("": never).
func tokenExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, directory.ErrInvalidExpiry.Newf("the token's expiry %q is not in the future", s).WithHint("pass --expires 720h or a later RFC 3339 time")
		}
		return time.Now().Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, directory.ErrInvalidExpiry.Newf("the token's expiry %q is neither a duration nor an RFC 3339 time", s).
			WithHint("pass --expires 720h or e.g. 2027-01-01T00:00:00Z")
	}
	return t, nil
}

func (s *Server) listAdminTokens(r *http.Request, p *admin.Principal) (any, error) {
	ts, err := s.Core.AdminTokens(r.Context(), p, r.PathValue("t"))
	if err != nil {
		return nil, err
	}
	return adminTokenViews(ts, p), nil
}

func (s *Server) revokeAdminToken(r *http.Request, p *admin.Principal) (any, error) {
	return noContent, s.Core.RevokeAdminToken(r.Context(), p, r.PathValue("t"), r.PathValue("id"))
}

func (s *Server) listDomains(r *http.Request, p *admin.Principal) (any, error) {
	ds, err := s.Core.ListDomains(r.Context(), p, r.PathValue("t"))
	if err != nil {
		return nil, err
	}
	return domainViews(ds), nil
}

func domainView(d *directory.Domain) apitypes.DomainView {
	v := apitypes.DomainView{DomainName: d.Name, Default: d.Initial, Status: d.Status, VerifiedBy: d.VerifiedBy,
		VerificationRecord: apitypes.VerificationRecord{Name: d.Record.Name, Type: d.Record.Type, Value: d.Record.Value}}
	if !d.VerifiedAt.IsZero() {
		v.VerifiedAt = &d.VerifiedAt
	}
	return v
}

func domainViews(ds []*directory.Domain) []apitypes.DomainView {
	out := make([]apitypes.DomainView, len(ds))
	for i, d := range ds {
		out[i] = domainView(d)
	}
	return out
}

func (s *Server) addDomain(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.DomainAdd
	if err := s.decode(r, &req); err != nil {
		return nil, err
	}
	if req.DomainName == "" {
		return nil, errs.Invalidf("MissingField", "DomainName is required")
	}
	d, err := s.Core.AddDomain(r.Context(), p, r.PathValue("t"), req.DomainName, req.Verified)
	if err != nil {
		return nil, err
	}
	return created{domainView(d)}, nil
}

func (s *Server) showDomain(r *http.Request, p *admin.Principal) (any, error) {
	d, err := s.Core.GetDomain(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	return domainView(d), nil
}

func dnsRecordView(rec admin.DNSRecord) apitypes.DNSRecordView {
	return apitypes.DNSRecordView{Purpose: rec.Purpose, Name: rec.Name, Type: rec.Type, Value: rec.Value, Required: rec.Required, Zone: rec.Zone()}
}

func (s *Server) domainDNS(r *http.Request, p *admin.Principal) (any, error) {
	recs, err := s.Core.DomainDNS(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.DNSRecordView, len(recs))
	for i, rec := range recs {
		out[i] = dnsRecordView(rec)
	}
	return out, nil
}

func (s *Server) checkDomainDNS(r *http.Request, p *admin.Principal) (any, error) {
	cks, err := s.Core.CheckDomainDNS(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.DNSCheckView, len(cks))
	for i, ck := range cks {
		out[i] = apitypes.DNSCheckView{DNSRecordView: dnsRecordView(ck.DNSRecord), Status: ck.Status, Found: ck.Found, Hint: ck.Hint}
	}
	return out, nil
}

func (s *Server) verifyDomain(r *http.Request, p *admin.Principal) (any, error) {
	d, err := s.Core.VerifyDomain(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	return domainView(d), nil
}

func (s *Server) approveDomain(r *http.Request, p *admin.Principal) (any, error) {
	d, err := s.Core.ApproveDomain(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	return domainView(d), nil
}

func (s *Server) removeDomain(r *http.Request, p *admin.Principal) (any, error) {
	return noContent, s.Core.RemoveDomain(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
}
