package api

import (
	"net/http"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// dkimRoutes registers the DKIM key routes of an accepted domain.
func (s *Server) dkimRoutes(h func(string, handlerFunc)) {
	h("GET /api/v1/tenants/{t}/domains/{d}/dkim", s.listDkim)
	h("POST /api/v1/tenants/{t}/domains/{d}/dkim", s.addDkim)
	h("POST /api/v1/tenants/{t}/domains/{d}/dkim/rotate", s.rotateDkim)
}

func dkimViews(ks []*mailauth.Key) []apitypes.DkimKeyView {
	now := time.Now()
	out := make([]apitypes.DkimKeyView, 0, len(ks))
	for _, k := range ks {
		v := apitypes.DkimKeyView{Domain: k.Domain, Selector: k.Selector, Algorithm: string(k.Algorithm), Status: k.State(now), Created: k.CreatedAt.UTC(),
			DnsRecordName: k.RecordName(), DnsRecordType: "TXT", DnsRecordValue: k.RecordValue(), ZoneLine: k.ZoneLine()}
		if !k.RetiringAt.IsZero() {
			a, b := k.RetiringAt.UTC(), k.RetiredAt.UTC()
			v.RetiringAt, v.RetiredAt = &a, &b
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listDkim(r *http.Request, p *admin.Principal) (any, error) {
	ks, err := s.Core.ListDkimKeys(r.Context(), p, r.PathValue("t"), r.PathValue("d"))
	if err != nil {
		return nil, err
	}
	return dkimViews(ks), nil
}

func (s *Server) addDkim(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.DkimAdd
	if r.ContentLength != 0 {
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
	}
	ks, err := s.Core.AddDkimKeys(r.Context(), p, r.PathValue("t"), r.PathValue("d"), req.Algorithm)
	if err != nil {
		return nil, err
	}
	return created{dkimViews(ks)}, nil
}

func (s *Server) rotateDkim(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.DkimRotate
	if r.ContentLength != 0 {
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
	}
	var grace time.Duration
	if req.Grace != "" {
		d, err := time.ParseDuration(req.Grace)
		if err != nil || d <= 0 {
			return nil, mailauth.ErrBadGrace.Newf("Grace %q is not a positive duration", req.Grace).WithHint("give e.g. 168h")
		}
		grace = d
	}
	ks, err := s.Core.RotateDkimKeys(r.Context(), p, r.PathValue("t"), r.PathValue("d"), grace)
	if err != nil {
		return nil, err
	}
	return created{dkimViews(ks)}, nil
}
