package migration_test

import (
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// batchNames lists the tenant's batches (removed ones included).
func (r *rig) batchNames() []string {
	r.t.Helper()
	bs, err := r.tgt.Admin.ListBatches(r.ctx, r.tgt.Op, tgtName)
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

// refused asserts a batch create is refused with code (naming want in the
// message) and creates nothing.
func (r *rig) refused(sp migration.BatchSpec, code, want string) {
	r.t.Helper()
	before := strings.Join(r.batchNames(), ",")
	if sp.TargetDeliveryDomain == "" {
		sp.TargetDeliveryDomain = r.tr.TargetDelivery
	}
	_, err := r.tgt.Admin.CreateBatch(r.ctx, r.tgt.Op, tgtName, sp)
	e := wantCode(r.t, err, code)
	if !strings.Contains(e.Message, want) {
		r.t.Fatalf("%s: message %q does not name %q", code, e.Message, want)
	}
	if after := strings.Join(r.batchNames(), ","); after != before {
		r.t.Fatalf("a refused batch create changed the batches: %s → %s", before, after)
	}
	if _, err := r.tgt.Admin.GetBatch(r.ctx, r.tgt.Op, tgtName, sp.Name); !isCode(err, "BatchNotFound") {
		r.t.Fatalf("refused batch %s: %v", sp.Name, err)
	}
}

// TestBatchCreateRules covers the rules checked when a batch is created:
// InvalidCsv (missing EmailAddress column, a bad row with its line number,
// an unknown column, duplicate rows), EndpointNotFound, NotAcceptedDomain
// for the target delivery domain and UserInAnotherBatch. A refused create
// writes nothing: no batch, no move request (the users can still join
// another batch).
func TestBatchCreateRules(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx
	src := r.source("solo", 3, false, true)
	r.stamp(src, nil)
	other := r.source("other", 3, false, true)
	r.stamp(other, nil)
	solo, oth := r.addr("solo"), r.addr("other")

	t.Run("InvalidCsv", func(t *testing.T) {
		r := r.with(t)
		for _, c := range []struct{ name, csv, want string }{
			{"missing-EmailAddress-column", "SourceEmailAddress\nsolo@contoso.tenantferry.test\n", "EmailAddress column is missing"},
			{"bad-row-line-number", "EmailAddress\n" + oth + "\nnot-an-address\n", "line 3: EmailAddress \"not-an-address\""},
			{"empty-address-line-number", "EmailAddress,MailboxType\n" + oth + ",PrimaryOnly\n,PrimaryOnly\n", "line 3: EmailAddress is empty"},
			{"bad-MailboxType", "EmailAddress,MailboxType\n" + oth + ",Everything\n", "line 2: MailboxType \"Everything\""},
			{"unknown-column", "EmailAddress,Department\n" + oth + ",Sales\n", "unknown column \"Department\""},
			{"too-many-fields", "EmailAddress\n" + oth + ",extra\n", "line 2: 2 fields"},
			{"duplicate-rows", "EmailAddress\n" + oth + "\n" + strings.ToUpper(oth) + "\n", "line 3: OTHER@" + r.tr.TargetDelivery + " is listed twice (also on line 2)"},
			{"no-users", "EmailAddress\n", "lists no users"},
			{"empty-file", "", "empty"},
		} {
			r.refused(migration.BatchSpec{Name: "csv-" + c.name, Endpoint: r.tr.Endpoint, CSV: []byte(c.csv), AutoStart: true}, "InvalidCsv", c.want)
			// The same CSV is refused by mailuser prepare, before any change.
			if c.csv != "" {
				_, err := r.tgt.Admin.PrepareMailUsers(ctx, r.tgt.Op, tgtName, r.tr.Endpoint, []byte(c.csv), "", false)
				wantCode(t, err, "InvalidCsv")
			}
		}
	})

	t.Run("EndpointNotFound", func(t *testing.T) {
		r := r.with(t)
		r.refused(migration.BatchSpec{Name: "noep", Endpoint: "no-such-ep", CSV: csvOf(oth), AutoStart: true}, "EndpointNotFound", "no-such-ep")
		_, err := r.tgt.Admin.TestEndpoint(ctx, r.tgt.Op, tgtName, "no-such-ep", oth, "")
		wantCode(t, err, "EndpointNotFound")
		_, err = r.tgt.Admin.PrepareMailUsers(ctx, r.tgt.Op, tgtName, "no-such-ep", csvOf(oth), "", true)
		wantCode(t, err, "EndpointNotFound")
	})

	t.Run("NotAcceptedDomain/target-delivery-domain", func(t *testing.T) {
		r := r.with(t)
		// The source tenant's domain and a domain nobody accepted.
		r.refused(migration.BatchSpec{Name: "tdd1", Endpoint: r.tr.Endpoint, CSV: csvOf(oth), TargetDeliveryDomain: r.tr.SourceTenant.InitialDomain},
			"NotAcceptedDomain", r.tr.SourceTenant.InitialDomain)
		r.refused(migration.BatchSpec{Name: "tdd2", Endpoint: r.tr.Endpoint, CSV: csvOf(oth), TargetDeliveryDomain: "nowhere.example"},
			"NotAcceptedDomain", "nowhere.example")
		// A domain the target tenant claimed but has not verified.
		if _, err := r.tgt.Admin.AddDomain(r.ctx, r.tgt.Op, tgtName, "pending.example", false); err != nil {
			t.Fatal(err)
		}
		r.refused(migration.BatchSpec{Name: "tdd3", Endpoint: r.tr.Endpoint, CSV: csvOf(oth), TargetDeliveryDomain: "pending.example"},
			"DomainNotVerified", "pending.example")
	})

	t.Run("UserInAnotherBatch", func(t *testing.T) {
		r := r.with(t)
		r.batchSpec(migration.BatchSpec{Name: "first", Endpoint: r.tr.Endpoint, CSV: csvOf(solo)})
		// A second batch with the same user (and another one) is refused
		// as a whole, naming the user and the batch it is in.
		r.refused(migration.BatchSpec{Name: "second", Endpoint: r.tr.Endpoint, CSV: csvOf(oth, strings.ToUpper(solo)), AutoStart: true},
			"UserInAnotherBatch", "first")
		// Nothing of it was recorded: the other user is free.
		r.batchSpec(migration.BatchSpec{Name: "third", Endpoint: r.tr.Endpoint, CSV: csvOf(oth)})
		// The endpoint test reports the user's batch too.
		wantCheck(t, r.endpointTest(r.tr.Endpoint, solo), "UserInAnotherBatch")
		// The first batch is untouched by the refusal.
		if u := r.user("first", solo); u.Status != migration.StateQueued {
			t.Fatalf("first batch user: %+v", u)
		}
		// Once the first batch is removed the user joins a new one and syncs.
		r.cmd("first", admin.BatchRemove, false)
		wantSuccess(t, r.endpointTest(r.tr.Endpoint, solo))
		r.batch("second", r.tr.Endpoint, solo)
		r.waitUser("second", solo, migration.StateSynced)
		r.sameContent(src)
	})

	t.Run("EndpointInUse", func(t *testing.T) {
		r := r.with(t)
		// An endpoint a batch uses cannot be deleted: the batch holds it
		// by id, so even an endpoint created again under the same name
		// would leave the batch's users failing EndpointNotFound.
		err := r.tgt.Admin.DeleteEndpoint(ctx, r.tgt.Op, tgtName, r.tr.Endpoint)
		if e := wantCode(t, err, "EndpointInUse"); !strings.Contains(e.Message, "second") || !strings.Contains(e.Message, "third") {
			t.Fatalf("EndpointInUse does not name the batches: %s", e.Message)
		}
		wantSuccess(t, r.endpointTest(r.tr.Endpoint, ""))
	})
}
