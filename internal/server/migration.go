package server

import (
	"bytes"
	"context"

	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/groupware"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replapi"
)

// setupMigration wires the source core with its replication API and the migration
// service (target side) with its job workers.
func (s *Server) setupMigration(context.Context) error {
	s.Source = source.New(s.Dir, s.Store, s.Verifier, s.PublicURL, s.Log.With("component", "replication"))
	replapi.New(s.Source, s.Source.Log).Routes(s.mux)
	s.Migration = migration.New(s.DB, s.Dir, s.Store, s.PublicURL, s.Log.With("component", "migration"))
	s.Migration.PassSlice = s.Cfg.PassSlice
	s.Migration.Source = s.Source // same-server moves run in-process, through the same checks
	s.Migration.UseGuard(s.Guard)
	s.Migration.GW = &groupware.Service{Dir: s.Dir, Store: s.Store}
	s.Migration.Quota = s.Quota
	if s.dav != nil {
		s.dav.RemoteFreeBusy = s.Migration.RemoteFreeBusy // free/busy coexistence during migrations
	}
	s.periodic = append(s.periodic, s.Migration.Register(s.workers)...)
	s.Admin.Migration = s.Migration
	s.Admin.Source = s.Source
	s.Metrics.Registry.MustRegister(s.Migration.Collectors()...)
	if s.Delivery != nil {
		s.Migration.Notify = func(ctx context.Context, from string, to []string, msg []byte) error {
			_, err := s.Delivery.Enqueue(ctx, delivery.Envelope{From: from, To: to, Source: "migration", Relay: true}, bytes.NewReader(msg))
			return err
		}
	}
	return nil
}
