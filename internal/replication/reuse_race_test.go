package replication_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// racingSource is the real replication client with a hook that runs when
// the engine opens a content stream — after it planned which items to
// reuse and before it takes them — and a record of the ids fetched.
type racingSource struct {
	replication.Source
	before  func()
	fetched []int64
}

func (r *racingSource) OpenContent(ctx context.Context, guid string, ids []int64) (*replication.ContentStream, error) {
	if r.before != nil {
		r.before()
		r.before = nil
	}
	r.fetched = append(r.fetched, ids...)
	return r.Source.OpenContent(ctx, guid, ids)
}

// TestReuseRace: the engine planned to reuse content the target tenant
// held, and the tenant's last item with that content was deleted before
// the chunk took it. The pass fails with the retryable ContentReuseRaced
// (not a permanent refusal that would fail the move), writes nothing, and
// the next pass transfers the bytes.
func TestReuseRace(t *testing.T) {
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{SMTP: "off"})
	s.Tenant("contoso")
	fab := s.Tenant("fabrikam")
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	shared := scenario.Message("a@example.net", "b@example.net", "shared", "the same bytes in both tenants")
	now := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	src := s.Mailbox("contoso", "user01", "pw", false)
	scenario.Fill(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID, []scenario.Item{
		{Folder: "Inbox", Data: shared, Date: now},
		{Folder: "Inbox", Data: scenario.Message("a@example.net", "b@example.net", "own", "only the source has this"), Date: now},
	})
	tr.AddToScope(t, s, "user01")
	keeper := s.Mailbox("fabrikam", "keeper", "pw", false)
	keeperMB := s.Content("fabrikam", keeper.ExchangeGuid)
	scenario.Fill(t, s.Store, keeperMB.ID, []scenario.Item{{Folder: "Inbox", Data: shared, Date: now}})
	kept, _, err := s.Store.ItemChanges(ctx, keeperMB.ID, mailstore.Cursor{}, 0, 10)
	if err != nil || len(kept) != 1 {
		t.Fatalf("keeper items: %v %v", kept, err)
	}

	tokens := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(s.PublicURL, tr.TargetTenant.ID), tr.AppID, tr.Secret, s.PublicURL)
	rs := &racingSource{Source: replication.NewClient(http.DefaultClient, s.PublicURL, tr.SourceTenant.InitialDomain, tokens)}
	rs.before = func() {
		if _, err := s.Store.UpdateItems(ctx, keeperMB.ID, []mailstore.ItemUpdate{{ItemID: kept[0].ItemID, Delete: true}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	target, err := s.Store.CreateMailbox(ctx, mailstore.NewMailbox{TenantID: fab.ID, GUID: src.ExchangeGuid, State: mailstore.StateStaging})
	if err != nil {
		t.Fatal(err)
	}
	job := &replication.Job{Source: rs, SourceGUID: src.ExchangeGuid, MailboxID: target.ID,
		Sink: func(*db.Tx, replication.Watermark, replication.Delta, []replication.Skipped) error { return nil }}
	eng := &replication.Engine{Store: s.Store}

	_, _, err = eng.Pass(ctx, job, replication.Watermark{})
	if !errors.Is(err, replication.ErrReuseRaced) || errs.As(err).Kind != errs.Unavailable {
		t.Fatalf("pass after the race: %v, want the retryable ContentReuseRaced", err)
	}
	if len(rs.fetched) != 1 {
		t.Fatalf("the first pass fetched %v, want only the item the tenant did not hold", rs.fetched)
	}
	if n := scenario.Take(t, s.Store, target.ID).Count(); n != 0 {
		t.Fatalf("the failed pass wrote %d items", n)
	}
	rs.fetched = nil
	if _, _, err := eng.Pass(ctx, job, replication.Watermark{}); err != nil {
		t.Fatalf("retried pass: %v", err)
	}
	slices.Sort(rs.fetched)
	want := scenario.Take(t, s.Store, s.Content("contoso", src.ExchangeGuid).ID)
	got := scenario.Take(t, s.Store, target.ID)
	if d := scenario.Diff(want, got); d != "" || len(rs.fetched) != 2 {
		t.Fatalf("after the retry (fetched %v): %s", rs.fetched, d)
	}
}
