package server

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/replication"
)

// setupMigration wires the replication API (source side) and the migration
// engine (target side).
func (s *Server) setupMigration(context.Context) error {
	s.Replication = &replication.SourceAPI{
		Auth:  &replication.Authorizer{Dir: s.Dir, Verifier: s.Verifier, PublicURL: s.PublicURL},
		Dir:   s.Dir,
		Store: s.Store,
		Log:   s.Log.With("component", "replication"),
	}
	s.Replication.Routes(s.mux)
	return nil
}
