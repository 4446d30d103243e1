package migration

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/replication/imapsrc"
)

// DryRunMailbox is one source mailbox (primary or archive) of a user in
// a batch's dry run: per selected folder, what a move copies under the
// batch's filter, and the totals.
type DryRunMailbox struct {
	EmailAddress string
	Mailbox      string // primary | archive
	Items, Bytes int64
	Folders      []replication.FolderPreview
	// Error says why the user's source could not be listed (the checks a
	// pass runs); the other users are listed anyway.
	Error *ErrorView `json:",omitempty"`
}

// DryRun lists, for every user of a batch (or only user), what its move
// copies from the source under the batch's filter and folder mappings:
// counts and bytes per folder, without writing anything (no staging
// mailbox, no mirror, no registration at the source). A user whose
// source cannot be listed gets its error instead.
func (s *Service) DryRun(ctx context.Context, tenantID, name, user string) ([]*DryRunMailbox, error) {
	b, err := s.getBatch(ctx, s.D.Read(), tenantID, name)
	if err != nil {
		return nil, err
	}
	ms, err := s.activeMoves(ctx, s.D.Read(), b.ID)
	if err != nil {
		return nil, err
	}
	if user != "" {
		var one []*Move
		for _, m := range ms {
			if strings.EqualFold(m.Email, user) {
				one = append(one, m)
			}
		}
		if len(one) == 0 {
			return nil, ErrMigrationUserNotFound.Newf("%s is not a user of batch %s", user, b.Name).WithObject(user).
				WithHint("list the batch's users with 'tenantferry batch users %s'", b.Name)
		}
		ms = one
	}
	ep, err := s.Dir.GetEndpoint(ctx, tenantID, b.EndpointName)
	if err != nil {
		return nil, err
	}
	var native *plan
	out := []*DryRunMailbox{}
	for _, m := range ms {
		var rows []*DryRunMailbox
		var err error
		if ep.Type == directory.EndpointIMAP {
			rows, err = s.dryRunIMAP(ctx, b, ep, m)
		} else {
			if native == nil {
				v := &validation{}
				if native = s.validateEndpoint(ctx, v, tenantID, ep); v.failed != nil {
					return nil, v.failed // no user can be listed
				}
			}
			rows, err = s.dryRunNative(ctx, b, native, m)
		}
		if err != nil {
			e := errs.As(err)
			if e == nil || e.Kind == errs.Internal {
				return nil, err
			}
			rows = []*DryRunMailbox{{EmailAddress: m.Email, Mailbox: string(mailstore.KindPrimary), Folders: []replication.FolderPreview{},
				Error: &ErrorView{Code: e.Code, Message: e.Message}}}
		}
		out = append(out, rows...)
	}
	return out, nil
}

// dryRunNative lists a user's source mailboxes through the endpoint after
// the user checks a pass runs (read-only ones).
func (s *Service) dryRunNative(ctx context.Context, b *Batch, p *plan, m *Move) ([]*DryRunMailbox, error) {
	v := &validation{}
	up := *p
	s.validateUser(ctx, v, &up, m.TenantID, m.Email, m.SourceAddress, b.TargetDeliveryDomain, b.ID)
	if v.failed != nil {
		return nil, v.failed
	}
	var out []*DryRunMailbox
	for _, k := range s.mailboxKinds(m, &up) {
		fs, err := replication.PreviewSource(ctx, up.client, k.guid, b.Filter, s.Engine.ListPageSize())
		if err != nil {
			return nil, err
		}
		out = append(out, dryRunRow(m.Email, string(k.kind), fs))
	}
	return out, nil
}

// dryRunIMAP lists a user's IMAP source with its batch credentials.
func (s *Service) dryRunIMAP(ctx context.Context, b *Batch, ep *directory.Endpoint, m *Move) ([]*DryRunMailbox, error) {
	user, password, err := s.credentials(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	live, items, err := imapsrc.Survey(ctx, s.imapServer(ep, m.ID), user, password)
	if err != nil {
		return nil, err
	}
	fs, err := b.Filter.Preview(live, items)
	if err != nil {
		return nil, err
	}
	return []*DryRunMailbox{dryRunRow(m.Email, string(mailstore.KindPrimary), fs)}, nil
}

func dryRunRow(addr, kind string, fs []replication.FolderPreview) *DryRunMailbox {
	r := &DryRunMailbox{EmailAddress: addr, Mailbox: kind, Folders: fs}
	for _, f := range fs {
		r.Items += f.Items
		r.Bytes += f.Bytes
	}
	return r
}
