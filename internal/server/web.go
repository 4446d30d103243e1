package server

import "github.com/tenantferry/tenantferry/internal/web"

// setupWeb registers the web admin: the single-page UI under /ui/ and the
// admin-consent page /{tenant}/adminconsent (both clients of the admin API).
func (s *Server) setupWeb() { web.New(s.Log).Routes(s.mux) }
