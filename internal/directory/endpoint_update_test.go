package directory_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

func TestUpdateEndpoint(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		x := directory.New(d, "tenantferry.test", make([]byte, 32))
		ten, err := x.CreateTenant(ctx, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		e, err := x.CreateEndpoint(ctx, ten.ID, directory.EndpointSpec{Name: "ep", RemoteServer: "https://src.example", RemoteTenant: "contoso.tenantferry.test",
			ApplicationId: uuid.NewString(), Secret: "old-secret", MaxConcurrentMigrations: 10})
		if err != nil {
			t.Fatal(err)
		}
		// Rotate the secret and lower the limits; the rest stays.
		u, err := x.UpdateEndpoint(ctx, ten.ID, "EP", directory.EndpointUpdate{Secret: "new-secret", MaxConcurrentMigrations: 4})
		if err != nil {
			t.Fatal(err)
		}
		if sec, _ := x.EndpointSecret(u); sec != "new-secret" || u.RemoteServer != e.RemoteServer || u.ApplicationId != e.ApplicationId ||
			u.MaxConcurrentMigrations != 4 || u.MaxConcurrentIncrementalSyncs != 4 {
			t.Fatalf("after set: %+v", u)
		}
		got, _ := x.GetEndpoint(ctx, ten.ID, "ep")
		if sec, _ := x.EndpointSecret(got); sec != "new-secret" || got.MaxConcurrentMigrations != 4 {
			t.Fatalf("stored: %+v", got)
		}
		for name, up := range map[string]directory.EndpointUpdate{
			"InvalidRemoteServer": {RemoteServer: "not a url"},
			"InvalidConcurrency":  {MaxConcurrentIncrementalSyncs: 9},
			"InvalidGuid":         {ApplicationId: "nope"},
		} {
			if _, err := x.UpdateEndpoint(ctx, ten.ID, "ep", up); errs.CodeOf(err) != name {
				t.Errorf("%+v: got %v, want %s", up, err, name)
			}
		}
		if _, err := x.UpdateEndpoint(ctx, ten.ID, "nope", directory.EndpointUpdate{Secret: "x"}); errs.CodeOf(err) != "EndpointNotFound" {
			t.Errorf("unknown endpoint: %v", err)
		}
		got, _ = x.GetEndpoint(ctx, ten.ID, "ep")
		if sec, _ := x.EndpointSecret(got); sec != "new-secret" || got.MaxConcurrentMigrations != 4 {
			t.Fatalf("refused updates changed the endpoint: %+v", got)
		}
	})
}
