package source_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestLocalEnforcesTheSameChecks: the in-process connector of same-server
// moves presents the app's token to the same core as the HTTP adapter, so
// every refusal the replication API gives, it gives too — checks 1–4 and
// the registered-move rules — and nothing on the source changes.
func TestLocalEnforcesTheSameChecks(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		s := scenario.Start(t, scenario.Options{SMTP: "off", DB: dsn})
		s.Tenant("contoso")
		s.Tenant("fabrikam")
		in := s.Mailbox("contoso", "inscope", "pw", false)
		out := s.Mailbox("contoso", "outside", "pw", false)
		tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
		tr.AddToScope(t, s, "inscope")
		ts := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(s.PublicURL, tr.TargetTenant.ID), tr.AppID, tr.Secret, s.PublicURL)
		var l replication.NativeSource = s.Source.Local("contoso.tenantferry.test", ts)

		if c, err := l.Check(ctx); err != nil || c.TenantId != tr.SourceTenant.ID {
			t.Fatalf("check: %+v %v", c, err)
		}
		if _, err := l.State(ctx, in.ExchangeGuid); err != nil {
			t.Fatalf("state of an in-scope mailbox: %v", err)
		}
		for _, c := range []struct {
			what string
			err  error
			want error
		}{
			{"mailbox outside the scope", second(l.Mailbox(ctx, out.PrimarySmtpAddress)), source.ErrMailboxNotInScope},
			{"content outside the scope", second(l.Folders(ctx, out.ExchangeGuid, 0)), source.ErrMailboxNotInScope},
			{"lock without a registered move", second(l.Lock(ctx, in.ExchangeGuid, "m1")), source.ErrMoveNotRegistered},
			{"finalize without a registered move", second(l.Finalize(ctx, in.ExchangeGuid,
				replication.FinalizeRequest{MoveId: "m1", ExternalEmailAddress: "inscope@fabrikam.tenantferry.test"})), source.ErrMoveNotRegistered},
			{"register into the source's own domain", second(l.Register(ctx, "m1",
				replication.RegisterRequest{Mailbox: in.ExchangeGuid, TargetDeliveryDomain: "contoso.tenantferry.test"})), source.ErrDeliveryDomainNotProven},
		} {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: %v, want %v", c.what, c.err, c.want)
			}
		}
		// Check 2: once the consent is revoked, nothing passes.
		if err := s.Admin.RevokeConsent(ctx, s.Op, "contoso", tr.AppID); err != nil {
			t.Fatal(err)
		}
		if _, err := l.State(ctx, in.ExchangeGuid); !errors.Is(err, source.ErrAppNotConsented) {
			t.Fatalf("after the consent was revoked: %v", err)
		}
		if st := s.Content("contoso", in.ExchangeGuid).State; st != "active" {
			t.Fatalf("source mailbox %s", st)
		}
	})
}

func second[T any](_ T, err error) error { return err }
