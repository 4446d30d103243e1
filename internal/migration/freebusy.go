package migration

import (
	"context"
	"errors"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// ErrNoRemoteFreeBusy: the address is not a MailUser of the tenant whose
// free/busy times a trusted partner shares.
var ErrNoRemoteFreeBusy = errs.Sentinel(errs.NotFound, "NoRemoteFreeBusy")

// RemoteFreeBusy answers, during a migration, a free/busy query of a user
// of the tenant for an address that is a stamped MailUser of the tenant
// (a source mailbox not yet moved): through each native endpoint whose
// source tenant an enabled Inbound organization relationship with
// FreeBusyAccessEnabled names, it asks the source for the mailbox's
// free/busy times with the migration app's token (the source checks its
// own RemoteOutbound relationship, FreeBusyAccessEnabled and the scope).
// Anything else is ErrNoRemoteFreeBusy, as for an unknown address.
func (s *Service) RemoteFreeBusy(ctx context.Context, tenantID, address string, start, end time.Time) ([]byte, error) {
	none := ErrNoRemoteFreeBusy.Newf("no free/busy times for %s", address).WithObject(address)
	rec, err := s.Dir.ResolveAddress(ctx, address)
	if err != nil {
		return nil, err
	}
	if rec == nil || rec.TenantID != tenantID || rec.Type != directory.MailUser || rec.ExchangeGuid == "" {
		return nil, none
	}
	rels, err := s.Dir.ListOrgRels(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	var shared []*directory.OrgRel
	for _, o := range rels {
		if o.Enabled && o.FreeBusyAccessEnabled && o.HasCapability(directory.CapInbound) {
			shared = append(shared, o)
		}
	}
	if len(shared) == 0 {
		return nil, none
	}
	eps, err := s.Dir.ListEndpoints(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	last := error(none)
	for _, ep := range eps {
		if ep.Type != directory.EndpointExchangeRemoteMove {
			continue
		}
		data, err := s.freeBusyVia(ctx, ep, shared, rec.ExchangeGuid, start, end)
		if err == nil {
			return data, nil
		}
		if !errors.Is(err, ErrNoRemoteFreeBusy) {
			last = err
		}
	}
	return nil, last
}

// freeBusyVia asks one endpoint's source, if a shared relationship names it.
func (s *Service) freeBusyVia(ctx context.Context, ep *directory.Endpoint, shared []*directory.OrgRel, guid string, start, end time.Time) ([]byte, error) {
	c, err := s.client(ep)
	if err != nil {
		return nil, err
	}
	fb, ok := c.(replication.FreeBusySource)
	if !ok {
		return nil, ErrNoRemoteFreeBusy.Newf("endpoint %s cannot answer free/busy queries", ep.Name)
	}
	chk, err := c.Check(ctx)
	if err != nil {
		return nil, err
	}
	trusted := false
	for _, o := range shared {
		trusted = trusted || o.Matches(chk.TenantId, chk.Domains...)
	}
	if !trusted {
		return nil, ErrNoRemoteFreeBusy.Newf("endpoint %s's source tenant shares no free/busy times with this tenant", ep.Name)
	}
	r, err := fb.FreeBusy(ctx, guid, start, end)
	if err != nil {
		return nil, err
	}
	return []byte(r.Calendar), nil
}
