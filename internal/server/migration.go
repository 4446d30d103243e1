package server

import "context"

// setupMigration wires the replication API and the migration engine.
func (s *Server) setupMigration(context.Context) error { return nil }
