package migration_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// rig is one real server with a source tenant (contoso) and a target
// tenant (fabrikam) trusted for moves (docs/architecture.md §1 steps 1–6), and helpers
// to create small mailboxes, stamp target MailUsers, run batches and check
// that nothing was written.
type rig struct {
	t   *testing.T
	ctx context.Context
	s   *scenario.Server // source and target server (same-server move)
	tgt *scenario.Server // target server (== s unless cross-server)
	tr  *scenario.Trust
}

const (
	srcName = "contoso"
	tgtName = "fabrikam"
)

// newRig starts one server with both tenants and the trust.
func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigOn(t, scenario.Options{})
}

// newRigOn is newRig with a server started with o (its database, IMAP
// listener, ...).
func newRigOn(t *testing.T, o scenario.Options) *rig {
	t.Helper()
	return newRigWith(t, o, nil)
}

// newRigWith is newRigOn with the server's configuration edited last.
func newRigWith(t *testing.T, o scenario.Options, edit func(*scenario.Config)) *rig {
	t.Helper()
	s := scenario.StartWith(t, o, edit)
	s.Tenant(srcName)
	s.Tenant(tgtName)
	return &rig{t: t, ctx: context.Background(), s: s, tgt: s, tr: scenario.SetupTrust(t, s, srcName, s, tgtName)}
}

// with returns the rig for a subtest.
func (r *rig) with(t *testing.T) *rig {
	c := *r
	c.t = t
	return &c
}

// srcID and tgtID are the tenant IDs.
func (r *rig) srcID() string { return r.tr.SourceTenant.ID }
func (r *rig) tgtID() string { return r.tr.TargetTenant.ID }

// addr is the target address of an alias.
func (r *rig) addr(alias string) string { return alias + "@" + r.tr.TargetTenant.InitialDomain }

// items returns n small distinct messages in Inbox and Projects/Alpha.
func items(alias string, n int) []scenario.Item {
	base := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	out := make([]scenario.Item, n)
	for i := range out {
		folder := "Inbox"
		if i%3 == 2 {
			folder = "Projects/Alpha"
		}
		var flags []string
		if i%2 == 0 {
			flags = []string{`\Seen`}
		}
		out[i] = scenario.Item{Folder: folder, Flags: flags, Date: base.Add(time.Duration(i) * time.Minute),
			Data: scenario.Message("partner@example.net", alias+"@contoso.tenantferry.test", fmt.Sprintf("%s item %d", alias, i), "hello "+alias)}
	}
	return out
}

// source creates a source mailbox with n items (and 2 archive items when
// archive), added to the published scope when inScope.
func (r *rig) source(alias string, n int, archive, inScope bool) *directory.Recipient {
	r.t.Helper()
	rec := r.s.Mailbox(srcName, alias, "pw-"+alias, archive)
	scenario.Fill(r.t, r.s.Store, r.s.Content(srcName, rec.ExchangeGuid).ID, items(alias, n))
	if archive {
		scenario.Fill(r.t, r.s.Store, r.s.Content(srcName, rec.ArchiveGuid).ID, items(alias+"-archive", 2))
	}
	if inScope {
		r.tr.AddToScope(r.t, r.s, alias)
	}
	return rec
}

// spec is the target MailUser `mailuser prepare` makes for a source
// mailbox: same GUIDs, X500 of the LegacyExchangeDN and of every source
// X500 proxy, ExternalEmailAddress = the source primary address.
func (r *rig) spec(src *directory.Recipient) directory.RecipientSpec {
	add := []string{"X500:" + src.LegacyExchangeDN}
	for _, x := range src.X500() {
		add = append(add, "X500:"+x)
	}
	return directory.RecipientSpec{Type: directory.MailUser, Alias: src.Alias, Name: src.Alias, PrimarySmtp: r.addr(src.Alias),
		ExchangeGuid: src.ExchangeGuid, ArchiveGuid: src.ArchiveGuid, ExternalEmail: src.PrimarySmtpAddress, AddAddresses: add}
}

// stamp creates the target MailUser from spec after edit changes it.
func (r *rig) stamp(src *directory.Recipient, edit func(*directory.RecipientSpec)) *directory.Recipient {
	r.t.Helper()
	sp := r.spec(src)
	if edit != nil {
		edit(&sp)
	}
	rec, err := r.tgt.Admin.CreateRecipient(r.ctx, r.tgt.Op, tgtName, sp)
	if err != nil {
		r.t.Fatalf("stamp %s: %v", src.Alias, err)
	}
	return rec
}

// setTarget updates the target recipient of alias.
func (r *rig) setTarget(alias string, u directory.RecipientUpdate) {
	r.t.Helper()
	if _, err := r.tgt.Admin.UpdateRecipient(r.ctx, r.tgt.Op, tgtName, alias, u); err != nil {
		r.t.Fatalf("set %s: %v", alias, err)
	}
}

// exec runs SQL on a server's database (for states the admin API cannot
// produce).
func execSQL(t *testing.T, s *scenario.Server, q string, args ...any) {
	t.Helper()
	if err := s.DB.Write(context.Background(), func(tx *db.Tx) error {
		_, err := tx.ExecContext(context.Background(), q, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// endpointTest runs `endpoint test --test-mailbox addr`.
func (r *rig) endpointTest(ep, addr string) *migration.TestResult {
	r.t.Helper()
	res, err := r.tgt.Admin.TestEndpoint(r.ctx, r.tgt.Op, tgtName, ep, addr, r.tr.TargetDelivery)
	if err != nil {
		r.t.Fatalf("endpoint test %s %s: %v", ep, addr, err)
	}
	return res
}

// wantCheck asserts that an endpoint test failed on exactly one check with
// code, and that every later check was skipped.
func wantCheck(t *testing.T, res *migration.TestResult, code string) {
	t.Helper()
	if res.Result != "Failed" {
		t.Fatalf("endpoint test: %s, want Failed with %s: %+v", res.Result, code, res.Checks)
	}
	failed := -1
	for i, c := range res.Checks {
		switch {
		case c.Result == migration.CheckFailed && failed >= 0:
			t.Fatalf("two failed checks: %+v", res.Checks)
		case c.Result == migration.CheckFailed:
			failed = i
			if c.Code != code {
				t.Fatalf("check %s failed with %s (%s), want %s", c.Name, c.Code, c.Message, code)
			}
			if c.Message == "" {
				t.Fatalf("check %s has no message", c.Name)
			}
		case failed >= 0 && c.Result != migration.CheckSkipped:
			t.Fatalf("check %s after the failure is %s", c.Name, c.Result)
		case failed < 0 && c.Result != migration.CheckPassed:
			t.Fatalf("check %s before the failure is %s", c.Name, c.Result)
		}
	}
	if failed < 0 {
		t.Fatalf("no failed check: %+v", res.Checks)
	}
}

// wantSuccess asserts an endpoint test passed every check.
func wantSuccess(t *testing.T, res *migration.TestResult) {
	t.Helper()
	if res.Result != "Success" {
		t.Fatalf("endpoint test: %s: %+v", res.Result, res.Checks)
	}
	for _, c := range res.Checks {
		if c.Result != migration.CheckPassed {
			t.Fatalf("check %s: %s", c.Name, c.Result)
		}
	}
}

// csvOf is a batch CSV of target addresses.
func csvOf(addrs ...string) []byte {
	return []byte("EmailAddress\n" + strings.Join(addrs, "\n") + "\n")
}

// batch creates and auto-starts a batch on the endpoint.
func (r *rig) batch(name, ep string, addrs ...string) {
	r.t.Helper()
	r.batchSpec(migration.BatchSpec{Name: name, Endpoint: ep, CSV: csvOf(addrs...), AutoStart: true})
}

// batchSpec creates a batch (TargetDeliveryDomain defaults to the trust's).
func (r *rig) batchSpec(sp migration.BatchSpec) *migration.BatchView {
	r.t.Helper()
	if sp.TargetDeliveryDomain == "" {
		sp.TargetDeliveryDomain = r.tr.TargetDelivery
	}
	v, err := r.tgt.Admin.CreateBatch(r.ctx, r.tgt.Op, tgtName, sp)
	if err != nil {
		r.t.Fatalf("batch create %s: %v", sp.Name, err)
	}
	return v
}

// cmd runs a batch command.
func (r *rig) cmd(batch string, a admin.BatchAction, approve bool) {
	r.t.Helper()
	if _, err := r.tgt.Admin.BatchCommand(r.ctx, r.tgt.Op, tgtName, batch, a, approve); err != nil {
		r.t.Fatalf("batch %s %s: %v", a, batch, err)
	}
}

// user returns the batch user of addr.
func (r *rig) user(batch, addr string) *migration.UserView {
	r.t.Helper()
	us, err := r.tgt.Admin.BatchUsers(r.ctx, r.tgt.Op, tgtName, batch)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, u := range us {
		if strings.EqualFold(u.EmailAddress, addr) {
			return u
		}
	}
	r.t.Fatalf("%s is not in batch %s", addr, batch)
	return nil
}

// settled reports whether a user is at rest in one of states (not merely
// queued for a sync or a completion).
func settled(u *migration.UserView, states ...string) bool {
	for _, s := range states {
		if u.Status == s {
			return u.Status != migration.StateSynced || (u.StatusDetail != "SyncQueued" && u.StatusDetail != "CompletionQueued")
		}
	}
	return false
}

// waitUser waits until the batch user of addr is in one of states; a
// Failed user is fatal unless Failed is one of them.
func (r *rig) waitUser(batch, addr string, states ...string) *migration.UserView {
	r.t.Helper()
	var u *migration.UserView
	scenario.Eventually(r.t, 30*time.Second, batch+" "+addr+" "+strings.Join(states, "|"), func() error {
		u = r.user(batch, addr)
		if settled(u, states...) {
			return nil
		}
		if u.Status == migration.StateFailed {
			r.t.Fatalf("%s failed: %+v", addr, u.Error)
		}
		return fmt.Errorf("%s %s", u.Status, u.StatusDetail)
	})
	return u
}

// waitFailed waits for a user to fail with code and returns it.
func (r *rig) waitFailed(batch, addr, code string) *migration.UserView {
	r.t.Helper()
	u := r.waitUser(batch, addr, migration.StateFailed)
	if u.Error == nil || u.Error.Code != code {
		r.t.Fatalf("%s failed with %+v, want %s", addr, u.Error, code)
	}
	if u.StatusDetail != code || u.Error.Message == "" {
		r.t.Fatalf("%s: StatusDetail %q, message %q", addr, u.StatusDetail, u.Error.Message)
	}
	if u.ItemsSynced != 0 || u.BytesTransferred != 0 {
		r.t.Fatalf("%s failed validation but synced %d items, %d bytes", addr, u.ItemsSynced, u.BytesTransferred)
	}
	return u
}

// frozen is the state of a move's source and target before validation
// runs, to prove that a refused move wrote nothing.
type frozen struct {
	r          *rig
	src        *directory.Recipient
	targetAddr string
	target     *directory.Recipient // nil when there was none
	snaps      map[string]scenario.Snapshot
	modseq     map[string]int64
}

// freeze records the source mailbox (content and MODSEQ of primary and
// archive), the source recipient and the target recipient.
func (r *rig) freeze(src *directory.Recipient, targetAddr string) *frozen {
	r.t.Helper()
	f := &frozen{r: r, targetAddr: targetAddr, snaps: map[string]scenario.Snapshot{}, modseq: map[string]int64{}}
	var err error
	if f.src, err = r.s.Dir.GetRecipient(r.ctx, r.srcID(), src.ID); err != nil {
		r.t.Fatal(err)
	}
	for _, g := range []string{src.ExchangeGuid, src.ArchiveGuid} {
		if g == "" {
			continue
		}
		mb := r.s.Content(srcName, g)
		f.snaps[g] = scenario.Take(r.t, r.s.Store, mb.ID)
		f.modseq[g] = mb.ModSeq
	}
	f.target, err = r.tgt.Dir.GetRecipient(r.ctx, r.tgtID(), targetAddr)
	if err != nil && !errors.Is(err, directory.ErrRecipientNotFound) {
		r.t.Fatal(err)
	}
	return f
}

// check asserts nothing was written: no mailbox content on the target for
// the source's (or the target's) GUIDs, the target recipient unchanged, the
// source mailbox unchanged (content, MODSEQ, recipient) and not locked.
func (f *frozen) check(t *testing.T) {
	t.Helper()
	r := f.r.with(t)
	guids := []string{f.src.ExchangeGuid, f.src.ArchiveGuid}
	if f.target != nil {
		guids = append(guids, f.target.ExchangeGuid, f.target.ArchiveGuid)
	}
	for _, g := range guids {
		if g == "" || (f.target != nil && f.target.Type == directory.UserMailbox && (g == f.target.ExchangeGuid || g == f.target.ArchiveGuid)) {
			continue
		}
		mb, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), g)
		if err == nil {
			if n := scenario.Take(t, r.tgt.Store, mb.ID).Count(); n > 0 {
				t.Fatalf("the target holds %d items for GUID %s (state %s)", n, g, mb.State)
			}
			t.Fatalf("the target has a %s mailbox for GUID %s", mb.State, g)
		} else if !errors.Is(err, mailstore.ErrMailboxNotFound) {
			t.Fatal(err)
		}
	}
	now, err := r.tgt.Dir.GetRecipient(r.ctx, r.tgtID(), f.targetAddr)
	switch {
	case f.target == nil && !errors.Is(err, directory.ErrRecipientNotFound):
		t.Fatalf("target recipient %s appeared: %v %+v", f.targetAddr, err, now)
	case f.target != nil && err != nil:
		t.Fatal(err)
	case f.target != nil && !reflect.DeepEqual(f.target, now):
		t.Fatalf("target recipient changed:\nbefore %+v\nafter  %+v", f.target, now)
	}
	src, err := r.s.Dir.GetRecipient(r.ctx, r.srcID(), f.src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(src, f.src) {
		t.Fatalf("source recipient changed:\nbefore %+v\nafter  %+v", f.src, src)
	}
	for g, want := range f.snaps {
		mb := r.s.Content(srcName, g)
		if mb.State != mailstore.StateActive {
			t.Fatalf("source mailbox %s is %s", g, mb.State)
		}
		if mb.ModSeq != f.modseq[g] {
			t.Fatalf("source mailbox %s MODSEQ %d → %d", g, f.modseq[g], mb.ModSeq)
		}
		if d := scenario.Diff(want, scenario.Take(t, r.s.Store, mb.ID)); d != "" {
			t.Fatalf("source mailbox %s changed:\n%s", g, d)
		}
	}
}

// sameContent asserts that the target's copy of a source mailbox (primary
// and archive) equals the source.
func (r *rig) sameContent(src *directory.Recipient) {
	r.t.Helper()
	for _, g := range []string{src.ExchangeGuid, src.ArchiveGuid} {
		if g == "" {
			continue
		}
		want := scenario.Take(r.t, r.s.Store, r.s.Content(srcName, g).ID)
		mb, err := r.tgt.Store.Mailbox(r.ctx, r.tgtID(), g)
		if err != nil {
			r.t.Fatalf("target copy of %s (%s): %v", src.Alias, g, err)
		}
		if d := scenario.Diff(want, scenario.Take(r.t, r.tgt.Store, mb.ID)); d != "" {
			r.t.Fatalf("target copy of %s (%s) differs:\n%s", src.Alias, g, d)
		}
	}
}

// wantCode asserts err carries code.
func wantCode(t *testing.T, err error, code string) *errs.Error {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("got %v, want %s", err, code)
	}
	e := errs.As(err)
	if e.Message == "" || e.Hint == "" {
		t.Fatalf("%s without message or hint: %+v", code, e)
	}
	return e
}
