package server

import (
	"bytes"
	"context"

	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// setupMigration wires the replication API (source side) and the migration
// service (target side) with its job workers.
func (s *Server) setupMigration(context.Context) error {
	s.Replication = &replication.SourceAPI{
		Auth:  &replication.Authorizer{Dir: s.Dir, Verifier: s.Verifier, PublicURL: s.PublicURL},
		Dir:   s.Dir,
		Store: s.Store,
		Log:   s.Log.With("component", "replication"),
	}
	s.Replication.Routes(s.mux)
	s.Migration = migration.New(s.DB, s.Dir, s.Store, s.PublicURL, s.Log.With("component", "migration"))
	s.Migration.UseGuard(s.Guard)
	s.periodic = append(s.periodic, s.Migration.Register(s.workers)...)
	s.Admin.Migration = s.Migration
	s.Metrics.Registry.MustRegister(s.Migration.Collectors()...)
	if s.Delivery != nil {
		s.Migration.Notify = func(ctx context.Context, from string, to []string, msg []byte) error {
			_, err := s.Delivery.Enqueue(ctx, delivery.Envelope{From: from, To: to, Source: "migration", Relay: true}, bytes.NewReader(msg))
			return err
		}
	}
	return nil
}
