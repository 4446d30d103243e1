package migration_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// trustRule is a docs/architecture.md §4/§6 rule about the trust configuration. brk
// breaks it and returns the endpoint the move uses ("" = the trust's); fix
// repairs it and returns the endpoint to use afterwards. rebatch: the fix
// replaced the endpoint, so the failed batch is removed and the user moved
// in a new batch.
type trustRule struct {
	name    string
	code    string
	brk     func(r *rig) string
	fix     func(r *rig) string
	rebatch bool
}

// setOrgRel changes an organization relationship of a tenant.
func (r *rig) setOrgRel(tenant, name string, sp directory.OrgRelSpec) {
	r.t.Helper()
	if _, err := r.s.Admin.UpdateOrgRel(r.ctx, r.s.Op, tenant, name, sp); err != nil {
		r.t.Fatalf("orgrel set %s %s: %v", tenant, name, err)
	}
}

// inboundRel and outboundRel are the relationships SetupTrust created.
func (r *rig) inboundRel() directory.OrgRelSpec {
	return directory.OrgRelSpec{Name: srcName, DomainNames: []string{r.srcID()}, Enabled: ptr(true), MailboxMoveEnabled: ptr(true),
		MailboxMoveCapability: []string{directory.CapInbound}}
}

func (r *rig) outboundRel() directory.OrgRelSpec {
	return directory.OrgRelSpec{Name: tgtName, DomainNames: []string{r.tgtID()}, Enabled: ptr(true), MailboxMoveEnabled: ptr(true),
		MailboxMoveCapability: []string{directory.CapRemoteOutbound}, OAuthApplicationId: ptr(r.tr.AppID),
		MailboxMovePublishedScopes: []string{r.tr.ScopeGroup}}
}

// endpoint creates an endpoint of the target tenant for the source.
func (r *rig) endpoint(name, appID, secret string) {
	r.t.Helper()
	if _, err := r.tgt.Admin.CreateEndpoint(r.ctx, r.tgt.Op, tgtName, directory.EndpointSpec{Name: name, RemoteServer: r.s.PublicURL,
		RemoteTenant: r.tr.SourceTenant.InitialDomain, ApplicationId: appID, Secret: secret}); err != nil {
		r.t.Fatalf("endpoint create %s: %v", name, err)
	}
}

// replaceEndpoint deletes an endpoint and creates it again with secret.
func (r *rig) replaceEndpoint(name, secret string) {
	r.t.Helper()
	if err := r.tgt.Admin.DeleteEndpoint(r.ctx, r.tgt.Op, tgtName, name); err != nil {
		r.t.Fatal(err)
	}
	r.endpoint(name, r.tr.AppID, secret)
}

// TestValidationRulesTrust triggers the trust rules (acceptance criterion
// 6): InboundNotAuthorized, SourceNotAuthorized, AppNotConsented,
// AppPermissionMissing and TokenRejected, each through `endpoint test` and
// through a batch, asserting nothing was written; then fixes the cause and
// shows the same user syncs. The rules change server-wide configuration, so
// they run one after the other, each with its own user, and each fix
// restores the configuration the next rule starts from.
func TestValidationRulesTrust(t *testing.T) {
	r := newRig(t)
	ctx := r.ctx
	in, out := r.inboundRel, r.outboundRel
	rules := []trustRule{
		{name: "InboundNotAuthorized/no-target-orgrel", code: "InboundNotAuthorized",
			brk: func(r *rig) string {
				if err := r.s.Admin.DeleteOrgRel(ctx, r.s.Op, tgtName, srcName); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			fix: func(r *rig) string {
				if _, err := r.s.Admin.CreateOrgRel(ctx, r.s.Op, tgtName, in()); err != nil {
					t.Fatal(err)
				}
				return ""
			}},
		{name: "InboundNotAuthorized/disabled", code: "InboundNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(tgtName, srcName, directory.OrgRelSpec{Enabled: ptr(false)})
				return ""
			},
			fix: func(r *rig) string {
				r.setOrgRel(tgtName, srcName, directory.OrgRelSpec{Enabled: ptr(true)})
				return ""
			}},
		{name: "InboundNotAuthorized/no-Inbound-capability", code: "InboundNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(tgtName, srcName, directory.OrgRelSpec{MailboxMoveCapability: []string{directory.CapOutbound, directory.CapRemoteInbound}})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(tgtName, srcName, in()); return "" }},
		{name: "InboundNotAuthorized/MailboxMoveEnabled-false", code: "InboundNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(tgtName, srcName, directory.OrgRelSpec{MailboxMoveEnabled: ptr(false)})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(tgtName, srcName, in()); return "" }},
		{name: "InboundNotAuthorized/wrong-DomainNames", code: "InboundNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(tgtName, srcName, directory.OrgRelSpec{DomainNames: []string{uuid.NewString(), "contoso.example"}})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(tgtName, srcName, in()); return "" }},
		{name: "SourceNotAuthorized/no-source-orgrel", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				if err := r.s.Admin.DeleteOrgRel(ctx, r.s.Op, srcName, tgtName); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			fix: func(r *rig) string {
				if _, err := r.s.Admin.CreateOrgRel(ctx, r.s.Op, srcName, out()); err != nil {
					t.Fatal(err)
				}
				return ""
			}},
		{name: "SourceNotAuthorized/no-RemoteOutbound", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(srcName, tgtName, directory.OrgRelSpec{MailboxMoveCapability: []string{directory.CapOutbound, directory.CapInbound}})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(srcName, tgtName, out()); return "" }},
		{name: "SourceNotAuthorized/wrong-OAuthApplicationId", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(srcName, tgtName, directory.OrgRelSpec{OAuthApplicationId: ptr(uuid.NewString())})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(srcName, tgtName, out()); return "" }},
		{name: "SourceNotAuthorized/disabled", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(srcName, tgtName, directory.OrgRelSpec{Enabled: ptr(false)})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(srcName, tgtName, out()); return "" }},
		{name: "SourceNotAuthorized/MailboxMoveEnabled-false", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(srcName, tgtName, directory.OrgRelSpec{MailboxMoveEnabled: ptr(false)})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(srcName, tgtName, out()); return "" }},
		{name: "SourceNotAuthorized/no-published-scope", code: "SourceNotAuthorized",
			brk: func(r *rig) string {
				r.setOrgRel(srcName, tgtName, directory.OrgRelSpec{MailboxMovePublishedScopes: []string{}})
				return ""
			},
			fix: func(r *rig) string { r.setOrgRel(srcName, tgtName, out()); return "" }},
		{name: "AppNotConsented/revoked", code: "AppNotConsented",
			brk: func(r *rig) string {
				if err := r.s.Admin.RevokeConsent(ctx, r.s.Op, srcName, r.tr.AppID); err != nil {
					t.Fatal(err)
				}
				return ""
			},
			fix: func(r *rig) string {
				if _, err := r.s.Admin.GrantConsent(ctx, r.s.Op, srcName, r.tr.AppID, r.tr.Issuer, nil); err != nil {
					t.Fatal(err)
				}
				return ""
			}},
		{name: "AppNotConsented/never-granted", code: "AppNotConsented",
			brk: func(r *rig) string {
				// A second migration app with its own endpoint and a source
				// relationship naming it, but no consent in the source.
				app, err := r.s.Admin.CreateApp(ctx, r.s.Op, tgtName, "Second migration app", []string{directory.PermissionMailboxMigration})
				if err != nil {
					t.Fatal(err)
				}
				sec, err := r.s.Admin.AddAppSecret(ctx, r.s.Op, tgtName, app.AppID, 0)
				if err != nil {
					t.Fatal(err)
				}
				r.endpoint("second-ep", app.AppID, sec.SecretText)
				sp := out()
				sp.Name, sp.OAuthApplicationId = "fabrikam-second", &app.AppID
				if _, err := r.s.Admin.CreateOrgRel(ctx, r.s.Op, srcName, sp); err != nil {
					t.Fatal(err)
				}
				return "second-ep"
			},
			fix: func(r *rig) string {
				ep, err := r.s.Admin.GetEndpoint(ctx, r.s.Op, tgtName, "second-ep")
				if err != nil {
					t.Fatal(err)
				}
				app, err := r.s.Admin.GetApp(ctx, r.s.Op, tgtName, ep.ApplicationId)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.s.Admin.GrantConsent(ctx, r.s.Op, srcName, app.AppID, app.Issuer, nil); err != nil {
					t.Fatal(err)
				}
				return "second-ep"
			}},
		{name: "AppPermissionMissing/consent-without-Mailbox.Migration", code: "AppPermissionMissing",
			brk: func(r *rig) string {
				// Mailbox.Migration is the only permission the directory
				// knows and the default of a grant, so no API call makes a
				// consent without it. A consent row with another permission
				// set (as an import from a directory where the app was
				// granted other scopes would leave) is written directly.
				execSQL(t, r.s, `UPDATE consents SET permissions = ? WHERE tenant_id = ? AND app_id = ?`, "Mail.Read,User.Read", r.srcID(), r.tr.AppID)
				return ""
			},
			fix: func(r *rig) string {
				// Granting consent again replaces the row, with Mailbox.Migration.
				if _, err := r.s.Admin.GrantConsent(ctx, r.s.Op, srcName, r.tr.AppID, r.tr.Issuer, []string{directory.PermissionMailboxMigration}); err != nil {
					t.Fatal(err)
				}
				return ""
			}},
		{name: "TokenRejected/wrong-endpoint-secret", code: "TokenRejected", rebatch: true,
			brk: func(r *rig) string {
				r.endpoint("badsecret-ep", r.tr.AppID, "tfs_this-is-not-the-secret-of-the-app")
				return "badsecret-ep"
			},
			fix: func(r *rig) string {
				// There is no 'endpoint set': the endpoint is created again
				// with the right secret, and the user moved in a new batch.
				r.replaceEndpoint("badsecret-ep", r.tr.Secret)
				return "badsecret-ep"
			}},
		{name: "TokenRejected/expired-app-secret", code: "TokenRejected", rebatch: true,
			brk: func(r *rig) string {
				sec, err := r.s.Admin.AddAppSecret(ctx, r.s.Op, tgtName, r.tr.AppID, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				// Secrets live at least a minute: age this one instead of waiting.
				execSQL(t, r.s, `UPDATE app_secrets SET expires_at = ? WHERE id = ?`, db.Millis(time.Now().Add(-time.Minute)), sec.KeyID)
				r.endpoint("expired-ep", r.tr.AppID, sec.SecretText)
				return "expired-ep"
			},
			fix: func(r *rig) string {
				sec, err := r.s.Admin.AddAppSecret(ctx, r.s.Op, tgtName, r.tr.AppID, time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				r.replaceEndpoint("expired-ep", sec.SecretText)
				return "expired-ep"
			}},
	}
	for i, ru := range rules {
		t.Run(ru.name, func(t *testing.T) {
			r := r.with(t)
			alias := fmt.Sprintf("t%02d", i)
			src := r.source(alias, 4, i%4 == 0, true)
			r.stamp(src, nil)
			addr := r.addr(alias)
			ep := ru.brk(r)
			if ep == "" {
				ep = r.tr.Endpoint
			}
			res := r.endpointTest(ep, addr)
			wantCheck(t, res, ru.code)
			if ru.code == "TokenRejected" && !strings.Contains(res.Message, "secret") {
				t.Fatalf("TokenRejected without the reason: %s", res.Message)
			}
			f := r.freeze(src, addr)
			batch := "trust" + alias
			r.batch(batch, ep, addr)
			r.waitFailed(batch, addr, ru.code)
			f.check(t)

			if ru.rebatch {
				// The endpoint is replaced: its batch goes first (an
				// endpoint in use cannot be deleted).
				r.cmd(batch, admin.BatchRemove, false)
			}
			ep2 := ru.fix(r)
			if ep2 == "" {
				ep2 = r.tr.Endpoint
			}
			// The endpoint checks pass again (without a test mailbox: the
			// user is in the failed batch, which the user checks report).
			wantSuccess(t, r.endpointTest(ep2, ""))
			if ru.rebatch {
				batch += "-fixed"
				r.batch(batch, ep2, addr)
			} else {
				r.cmd(batch, admin.BatchStart, false)
			}
			u := r.waitUser(batch, addr, migration.StateSynced)
			if u.Error != nil || u.ItemsSynced != u.ItemsTotal {
				t.Fatalf("after the fix: %+v", u)
			}
			r.sameContent(src)
		})
		if t.Failed() {
			return
		}
	}
}
