package migration_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// report returns the report of one batch user.
func (r *rig) report(batch, addr string) *migration.ReportView {
	r.t.Helper()
	rs, err := r.tgt.Admin.BatchReport(r.ctx, r.tgt.Op, tgtName, batch, addr)
	if err != nil {
		r.t.Fatal(err)
	}
	if len(rs) != 1 {
		r.t.Fatalf("%d reports for %s", len(rs), addr)
	}
	return rs[0]
}

// TestEndpointUnreachable moves between two servers while the source
// server is down (its port closed): `endpoint test` fails the credentials
// check with EndpointUnreachable, and a batch user stays in validation —
// the failure is transient, retried with backoff and logged in the report —
// without writing anything. When the source server is back on the same
// address, the retry syncs the user with no intervention.
func TestEndpointUnreachable(t *testing.T) {
	ctx := context.Background()
	srcDir, srcHTTP := t.TempDir(), scenario.FreeAddr(t)
	a := scenario.Start(t, scenario.Options{DataDir: srcDir, HTTP: srcHTTP, SMTP: "off"})
	b := scenario.Start(t, scenario.Options{SMTP: "off"})
	a.Tenant(srcName)
	b.Tenant(tgtName)
	r := &rig{t: t, ctx: ctx, s: a, tgt: b, tr: scenario.SetupTrust(t, a, srcName, b, tgtName)}
	src := r.source("far", 6, true, true)
	r.stamp(src, nil)
	addr := r.addr("far")
	wantSuccess(t, r.endpointTest(r.tr.Endpoint, addr))
	f := r.freeze(src, addr)

	a.Stop()
	res := r.endpointTest(r.tr.Endpoint, addr)
	wantCheck(t, res, "EndpointUnreachable")
	if res.Checks[0].Name != "EndpointCredentials" || !strings.Contains(res.Checks[0].Message, srcHTTP) {
		t.Fatalf("the unreachable check does not name the server %s: %+v", srcHTTP, res.Checks[0])
	}

	r.batch("far", r.tr.Endpoint, addr)
	scenario.Eventually(t, 30*time.Second, "a logged transient failure", func() error {
		for _, l := range r.report("far", addr).Report {
			if l.Level == "warning" && strings.Contains(l.Message, "EndpointUnreachable") {
				return nil
			}
		}
		return fmt.Errorf("no warning yet")
	})
	u := r.user("far", addr)
	if u.Status != migration.StateValidating || u.ItemsSynced != 0 || u.StatusDetail != "TransientFailure" ||
		u.Error == nil || u.Error.Code != "EndpointUnreachable" {
		t.Fatalf("while the source was down (Error shows the retried failure): %+v %+v", u, u.Error)
	}
	// The source comes back on its address (same data): the queue's retry
	// picks the user up.
	r.s = scenario.Start(t, scenario.Options{DataDir: srcDir, HTTP: srcHTTP, SMTP: "off"})
	f.check(t) // nothing was written, the source is intact and unlocked

	u = r.waitUser("far", addr, migration.StateSynced)
	if u.ItemsSynced != u.ItemsTotal || u.ItemsTotal != 8 || u.Error != nil {
		t.Fatalf("after the source came back: %+v", u)
	}
	r.sameContent(src)
}
