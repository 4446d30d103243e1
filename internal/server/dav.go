package server

import (
	"net/http"

	"github.com/tenantferry/tenantferry/internal/dav"
	"github.com/tenantferry/tenantferry/internal/groupware"
)

// setupDAV serves CalDAV and CardDAV on the HTTP listener: /dav/ and the
// /.well-known/caldav and /.well-known/carddav redirects. Basic
// credentials over plain HTTP are accepted on loopback or with
// --allow-plaintext, as for IMAP.
func (s *Server) setupDAV() {
	s.Groupware = &groupware.Service{Dir: s.Dir, Store: s.Store}
	s.dav = &dav.Handler{GW: s.Groupware, Log: s.Log, AllowPlain: dav.LoopbackOr(s.Cfg.AllowPlain), Limits: s.Limits}
}

// front routes the DAV tree to the DAV handler and everything else to the
// mux.
func (s *Server) front() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.dav != nil && dav.Owns(r.URL.Path) {
			s.dav.ServeHTTP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}
