package replapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// request sends a request with a bearer token and a JSON body and returns
// the status, the error code ("" on success) and the body.
func request(t *testing.T, method, url, token, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Code string }
	if resp.StatusCode >= 300 {
		json.Unmarshal(b, &e)
	}
	return resp.StatusCode, e.Code, b
}

// regRig is a source tenant (contoso) with a mailbox in the published
// scope of a target tenant (fabrikam) on one server, a third tenant
// (northwind) with a mailbox of its own, and the target's token.
type regRig struct {
	s                  *scenario.Server
	tr                 *scenario.Trust
	user, victim       *directory.Recipient
	tok, base, mb, api string
}

func newRegRig(t *testing.T, dsn string) *regRig {
	s := scenario.Start(t, scenario.Options{SMTP: "off", DB: dsn})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	s.Tenant("northwind")
	r := &regRig{s: s}
	r.user = s.Mailbox("contoso", "user01", "pw", true)
	r.victim = s.Mailbox("northwind", "victim", "pw", false)
	r.tr = scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	r.tr.AddToScope(t, s, "user01")
	ts := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(s.PublicURL, r.tr.TargetTenant.ID), r.tr.AppID, r.tr.Secret, s.PublicURL)
	var err error
	if r.tok, err = ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.base = s.PublicURL + replication.APIPrefix + "contoso.tenantferry.test"
	r.mb = r.base + "/mailboxes/" + r.user.ExchangeGuid
	r.api = s.PublicURL + "/api/v1/tenants/contoso/move-registrations"
	return r
}

// expect runs one replication API request and checks its outcome.
func (r *regRig) expect(t *testing.T, what, method, url, body string, status int, code string) []byte {
	t.Helper()
	st, c, b := request(t, method, url, r.tok, body)
	if st != status || c != code {
		t.Fatalf("%s: %d %s (%s), want %d %s", what, st, c, b, status, code)
	}
	return b
}

// sourceIs checks the source recipient's type and its mailbox's state.
func (r *regRig) sourceIs(t *testing.T, typ directory.RecipientType, state mailstore.MailboxState) {
	t.Helper()
	rec, err := r.s.Dir.GetRecipient(context.Background(), r.tr.SourceTenant.ID, r.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Type != typ {
		t.Fatalf("source is a %s (forwarding to %q), want %s", rec.Type, rec.ExternalEmailAddress, typ)
	}
	if st := r.s.Content("contoso", r.user.ExchangeGuid).State; st != state {
		t.Fatalf("source mailbox is %s, want %s", st, state)
	}
}

const (
	tgtAddr    = `"ExternalEmailAddress":"user01@fabrikam.tenantferry.test"`
	tgtDomain  = `"TargetDeliveryDomain":"fabrikam.tenantferry.test"`
	victimAddr = `"ExternalEmailAddress":"victim@northwind.tenantferry.test"`
)

// TestLockFinalizeNeedRegisteredMove: a consented app holding
// RemoteOutbound for the scope can no longer lock or finalize an in-scope
// mailbox for which no move is registered (issue 7 hole 3); before the
// fix, lock answered 200 and finalize turned the source into a MailUser
// forwarding wherever the caller said.
func TestLockFinalizeNeedRegisteredMove(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		r := newRegRig(t, dsn)
		r.expect(t, "lock without a move", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 403, "MoveNotRegistered")
		r.expect(t, "lock of the archive without a move", "POST", r.base+"/mailboxes/"+r.user.ArchiveGuid+"/lock", `{"MoveId":"m1"}`, 403, "MoveNotRegistered")
		r.expect(t, "finalize without a move", "POST", r.mb+"/finalize", `{"MoveId":"m1",`+tgtAddr+`}`, 403, "MoveNotRegistered")
		r.expect(t, "finalize to another tenant without a move", "POST", r.mb+"/finalize", `{`+victimAddr+`}`, 403, "MoveNotRegistered")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateActive)
		if st := r.s.Content("contoso", r.user.ArchiveGuid).State; st != mailstore.StateActive {
			t.Fatalf("archive %s", st)
		}

		// A move registered by the target lets the same calls through.
		b := r.expect(t, "register", "PUT", r.base+"/moves/m1", `{"Mailbox":"`+r.user.ExchangeGuid+`",`+tgtDomain+`}`, 200, "")
		var reg replication.Registration
		if err := json.Unmarshal(b, &reg); err != nil || reg.State != "Registered" || reg.Mailbox != r.user.PrimarySmtpAddress ||
			reg.TargetTenantId != r.tr.TargetTenant.ID || reg.AppId != r.tr.AppID {
			t.Fatalf("registration %s: %+v %v", b, reg, err)
		}
		r.expect(t, "register again (idempotent)", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 200, "")
		r.expect(t, "finalize before the lock", "POST", r.mb+"/finalize", `{"MoveId":"m1",`+tgtAddr+`}`, 409, "SourceNotLocked")
		r.expect(t, "lock of another move id", "POST", r.mb+"/lock", `{"MoveId":"m2"}`, 403, "MoveNotRegistered")
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateLocked)
		r.expect(t, "lock again", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")
		r.expect(t, "unlock", "POST", r.mb+"/unlock", `{"MoveId":"m1"}`, 200, "")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateActive)
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")
		r.expect(t, "finalize", "POST", r.mb+"/finalize", `{"MoveId":"m1",`+tgtAddr+`}`, 200, "")
		r.sourceIs(t, directory.MailUser, mailstore.StateRetired)
		r.expect(t, "finalize again (idempotent)", "POST", r.mb+"/finalize", `{"MoveId":"m1",`+tgtAddr+`}`, 200, "")
		rec, _ := r.s.Dir.GetRecipient(context.Background(), r.tr.SourceTenant.ID, r.user.ID)
		if rec.ExternalEmailAddress != "user01@fabrikam.tenantferry.test" {
			t.Fatalf("forwards to %s", rec.ExternalEmailAddress)
		}
		// The completed move is no longer a registered move that can lock.
		r.expect(t, "register of a completed move", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 409, "SourceNotAMailbox")
	})
}

// TestFinalizeOnlyIntoTargetDeliveryDomain: a registered move cannot make
// the source forward outside the target tenant's delivery domain — not to
// another tenant's mailbox on the source server (which would deliver
// there locally), not to a domain the target's token does not vouch for.
func TestFinalizeOnlyIntoTargetDeliveryDomain(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		r := newRegRig(t, dsn)
		for _, c := range []struct{ what, domain string }{
			{"another tenant's domain on this server", "northwind.tenantferry.test"},
			{"the source tenant's own domain", "contoso.tenantferry.test"},
			{"a domain the token does not vouch for", "elsewhere.example"},
		} {
			r.expect(t, "register into "+c.what, "PUT", r.base+"/moves/m1", `{"Mailbox":"user01","TargetDeliveryDomain":"`+c.domain+`"}`, 403, "DeliveryDomainNotProven")
		}
		r.expect(t, "register", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 200, "")
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")
		for _, c := range []struct{ what, addr string }{
			{"another tenant's mailbox on the source server", victimAddr},
			{"the source tenant", `"ExternalEmailAddress":"user01@contoso.tenantferry.test"`},
			{"an outside address", `"ExternalEmailAddress":"x@elsewhere.example"`},
			{"a subdomain of the delivery domain", `"ExternalEmailAddress":"x@sub.fabrikam.tenantferry.test"`},
		} {
			r.expect(t, "finalize to "+c.what, "POST", r.mb+"/finalize", `{"MoveId":"m1",`+c.addr+`}`, 403, "ForwardingOutsideDeliveryDomain")
		}
		r.sourceIs(t, directory.UserMailbox, mailstore.StateLocked)
		v, _ := r.s.Dir.GetRecipient(context.Background(), r.victim.TenantID, r.victim.ID)
		if v.Type != directory.UserMailbox {
			t.Fatalf("victim %s", v.Type)
		}
		// The token must still prove the domain at finalize: a domain that
		// left the target tenant (to another tenant here) proves nothing.
		ctx := context.Background()
		if _, err := r.s.Admin.AddDomain(ctx, r.s.Op, "fabrikam", "fabrikam.example", true); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "unlock", "POST", r.mb+"/unlock", `{"MoveId":"m1"}`, 200, "")
		r.expect(t, "register into a second domain", "PUT", r.base+"/moves/m2", `{"Mailbox":"user01","TargetDeliveryDomain":"fabrikam.example"}`, 200, "")
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m2"}`, 200, "")
		if err := r.s.Admin.RemoveDomain(ctx, r.s.Op, "fabrikam", "fabrikam.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.s.Admin.AddDomain(ctx, r.s.Op, "northwind", "fabrikam.example", true); err != nil {
			t.Fatal(err)
		}
		r.expect(t, "finalize into a domain now another tenant's", "POST", r.mb+"/finalize", `{"MoveId":"m2","ExternalEmailAddress":"user01@fabrikam.example"}`, 403, "DeliveryDomainNotProven")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateLocked)
	})
}

// TestSourceAdminCancelsRegisteredMove: the source admin lists the
// registered moves and cancels one, after which its app can neither lock
// nor finalize (a lock it held is given back), nor register that move
// again; another tenant's admin can neither see nor cancel them.
func TestSourceAdminCancelsRegisteredMove(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		r := newRegRig(t, dsn)
		ctx := context.Background()
		r.expect(t, "register", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 200, "")
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")

		tokenOf := func(tenant string) string {
			tok, err := r.s.Dir.CreateAdminToken(ctx, r.s.Tenant(tenant).ID, "admin-"+tenant)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		srcAdmin, other, target := tokenOf("contoso"), tokenOf("northwind"), tokenOf("fabrikam")
		list := func(tok string) []replication.Registration {
			t.Helper()
			st, code, b := request(t, "GET", r.api, tok, "")
			if st != 200 {
				t.Fatalf("list: %d %s %s", st, code, b)
			}
			var regs []replication.Registration
			if err := json.Unmarshal(b, &regs); err != nil {
				t.Fatal(err)
			}
			return regs
		}
		regs := list(srcAdmin)
		if len(regs) != 1 || regs[0].State != "Registered" || !regs[0].SourceLocked || regs[0].Mailbox != r.user.PrimarySmtpAddress || regs[0].MoveId != "m1" {
			t.Fatalf("registrations: %+v", regs)
		}
		id := regs[0].Id

		// Isolation: other tenants' admins (the target's too) cannot see or
		// cancel the source's registrations, and see none of their own.
		for name, tok := range map[string]string{"northwind": other, "fabrikam": target} {
			for _, c := range []struct{ method, url string }{
				{"GET", r.api}, {"GET", r.api + "/" + id}, {"POST", r.api + "/" + id + "/cancel"}, {"POST", r.api + "/user01/cancel"},
			} {
				if st, code, _ := request(t, c.method, c.url, tok, ""); st != 403 || code != "TenantAccessDenied" {
					t.Fatalf("%s admin: %s %s: %d %s", name, c.method, c.url, st, code)
				}
			}
			own := r.s.PublicURL + "/api/v1/tenants/" + name + "/move-registrations"
			if st, code, _ := request(t, "POST", own+"/"+id+"/cancel", tok, ""); st != 404 || code != "MoveRegistrationNotFound" {
				t.Fatalf("%s admin cancelling in its own tenant: %d %s", name, st, code)
			}
			st, _, b := request(t, "GET", own, tok, "")
			if st != 200 || strings.TrimSpace(string(b)) != "[]" {
				t.Fatalf("%s admin's own list: %d %s", name, st, b)
			}
		}
		r.sourceIs(t, directory.UserMailbox, mailstore.StateLocked)

		// The source admin cancels (by mailbox): the lock is given back.
		st, code, b := request(t, "POST", r.api+"/user01/cancel", srcAdmin, "")
		if st != 200 {
			t.Fatalf("cancel: %d %s %s", st, code, b)
		}
		r.sourceIs(t, directory.UserMailbox, mailstore.StateActive)
		if regs := list(srcAdmin); len(regs) != 1 || regs[0].State != "Cancelled" || regs[0].SourceLocked {
			t.Fatalf("after cancel: %+v", regs)
		}
		r.expect(t, "lock after cancel", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 403, "MoveNotRegistered")
		r.expect(t, "finalize after cancel", "POST", r.mb+"/finalize", `{"MoveId":"m1",`+tgtAddr+`}`, 403, "MoveNotRegistered")
		r.expect(t, "register the cancelled move again", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 403, "MoveRegistrationCancelled")
		r.expect(t, "unlock of an unlocked mailbox", "POST", r.mb+"/unlock", `{"MoveId":"m1"}`, 200, "")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateActive)

		// A new move (a new batch on the target) registers anew; the target
		// ends it when it removes its batch.
		r.expect(t, "register a new move", "PUT", r.base+"/moves/m2", `{"Mailbox":"user01",`+tgtDomain+`}`, 200, "")
		if regs := list(srcAdmin); len(regs) != 2 {
			t.Fatalf("two registrations expected: %+v", regs)
		}
		r.expect(t, "unregister", "DELETE", r.base+"/moves/m2", "", 200, "")
		r.expect(t, "unregister again", "DELETE", r.base+"/moves/m2", "", 200, "")
		if regs := list(srcAdmin); len(regs) != 1 || regs[0].MoveId != "m1" {
			t.Fatalf("after unregister: %+v", regs)
		}
		if st, code, _ := request(t, "POST", r.api+"/"+id+"/cancel", srcAdmin, ""); st != 200 {
			t.Fatalf("cancelling a cancelled move: %d %s", st, code)
		}
	})
}

// TestOneMoveHoldsTheLock: two target tenants registered for the same
// source mailbox; while one holds the lock, the other can neither take
// it, give it back, nor finalize.
func TestOneMoveHoldsTheLock(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		r := newRegRig(t, dsn)
		tr2 := scenario.SetupTrust(t, r.s, "contoso", r.s, "northwind")
		ts2 := identity.NewTokenSource(http.DefaultClient, identity.TokenURL(r.s.PublicURL, tr2.TargetTenant.ID), tr2.AppID, tr2.Secret, r.s.PublicURL)
		tok2, err := ts2.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		r.expect(t, "register", "PUT", r.base+"/moves/m1", `{"Mailbox":"user01",`+tgtDomain+`}`, 200, "")
		two := func(what, method, url, body string, status int, code string) {
			t.Helper()
			if st, c, b := request(t, method, url, tok2, body); st != status || c != code {
				t.Fatalf("northwind: %s: %d %s (%s), want %d %s", what, st, c, b, status, code)
			}
		}
		two("register", "PUT", r.base+"/moves/n1", `{"Mailbox":"user01","TargetDeliveryDomain":"northwind.tenantferry.test"}`, 200, "")
		two("register into fabrikam's domain", "PUT", r.base+"/moves/n2", `{"Mailbox":"user01",`+tgtDomain+`}`, 403, "DeliveryDomainNotProven")
		r.expect(t, "lock", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 200, "")
		two("lock", "POST", r.mb+"/lock", `{"MoveId":"n1"}`, 409, "SourceLockedByAnotherMove")
		two("unlock", "POST", r.mb+"/unlock", `{"MoveId":"n1"}`, 409, "SourceLockedByAnotherMove")
		two("finalize", "POST", r.mb+"/finalize", `{"MoveId":"n1","ExternalEmailAddress":"user01@northwind.tenantferry.test"}`, 409, "SourceNotLocked")
		r.sourceIs(t, directory.UserMailbox, mailstore.StateLocked)
		r.expect(t, "unlock", "POST", r.mb+"/unlock", `{"MoveId":"m1"}`, 200, "")
		two("lock once the first move gave it back", "POST", r.mb+"/lock", `{"MoveId":"n1"}`, 200, "")
		r.expect(t, "lock held by northwind", "POST", r.mb+"/lock", `{"MoveId":"m1"}`, 409, "SourceLockedByAnotherMove")
	})
}
