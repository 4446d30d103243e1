package migration_test

import (
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// TestRotateEndpointSecret: a batch whose endpoint holds a wrong secret
// fails with TokenRejected; `endpoint set --secret` fixes the endpoint in
// place and a restart of the batch syncs the user.
func TestRotateEndpointSecret(t *testing.T) {
	r := newRig(t)
	r.stamp(r.source("user01", 12, false, true), nil)
	setSecret := func(secret string) {
		if _, err := r.s.Admin.UpdateEndpoint(r.ctx, r.s.Op, tgtName, r.tr.Endpoint, directory.EndpointUpdate{Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	setSecret("wrong-secret")
	r.batch("wave1", r.tr.Endpoint, r.addr("user01"))
	u := r.waitUser("wave1", r.addr("user01"), migration.StateFailed)
	if u.Error == nil || u.Error.Code != "TokenRejected" {
		t.Fatalf("with a wrong secret: %+v", u.Error)
	}
	setSecret(r.tr.Secret)
	r.cmd("wave1", admin.BatchStart, false)
	u = r.waitUser("wave1", r.addr("user01"), migration.StateSynced)
	if u.ItemsSynced != 12 || u.Error != nil {
		t.Fatalf("after the rotation: %+v", u)
	}
}
