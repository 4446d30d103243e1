package api

import (
	"net/http"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// dkimRoutes registers the DKIM key routes of an accepted domain.
func (s *Server) dkimRoutes(h func(string, handlerFunc)) {
	h("GET /api/v1/tenants/{t}/domains/{d}/dkim", s.listDkim)
	h("POST /api/v1/tenants/{t}/domains/{d}/dkim", s.addDkim)
	h("POST /api/v1/tenants/{t}/domains/{d}/dkim/rotate", s.rotateDkim)
}

// DkimKeyView is the JSON form of a DKIM key: its state and the DNS record
// to publish.
type DkimKeyView struct {
	Domain     string
	Selector   string
	Algorithm  string
	Status     string // Active, Retiring, Retired
	Created    time.Time
	RetiringAt *time.Time `json:",omitempty"` // when a rotation replaced it
	RetiredAt  *time.Time `json:",omitempty"` // end of the grace period: unpublish after
	// DnsRecordName, DnsRecordType and DnsRecordValue are the TXT record
	// to publish (while Active or Retiring); ZoneLine is the same in
	// zone-file syntax.
	DnsRecordName  string
	DnsRecordType  string
	DnsRecordValue string
	ZoneLine       string
}

func dkimViews(ks []*mailauth.Key) []DkimKeyView {
	now := time.Now()
	out := make([]DkimKeyView, 0, len(ks))
	for _, k := range ks {
		v := DkimKeyView{Domain: k.Domain, Selector: k.Selector, Algorithm: string(k.Algorithm), Status: k.State(now), Created: k.CreatedAt.UTC(),
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
	var req struct{ Algorithm string }
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
	var req struct{ Grace string }
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
