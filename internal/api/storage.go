package api

import (
	"net/http"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// storageRoutes registers the operator's storage routes.
func (s *Server) storageRoutes(h func(string, handlerFunc)) {
	h("GET /api/v1/storage/stats", s.storageStats)
	h("POST /api/v1/storage/gc", s.storageGC)
}

func (s *Server) storageStats(r *http.Request, p *admin.Principal) (any, error) {
	return s.Core.StorageStats(r.Context(), p)
}

func (s *Server) storageGC(r *http.Request, p *admin.Principal) (any, error) {
	var req apitypes.StorageGC
	if r.ContentLength != 0 {
		if err := s.decode(r, &req); err != nil {
			return nil, err
		}
	}
	return s.Core.StorageGC(r.Context(), p, admin.StorageGCRequest{NoCompact: req.NoCompact, Grace: req.Grace, ReaderGrace: req.ReaderGrace})
}
