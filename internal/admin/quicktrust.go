package admin

import (
	"context"
	"errors"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// TrustSetup is the migration configuration made by SetupMigrationTrust.
type TrustSetup struct {
	AppID, Issuer, Secret string
	Endpoint              string // the endpoint's name in the target tenant
	ScopeGroup            string // the published scope group in the source tenant
	SourceTenant          *TenantRef
	TargetTenant          *TenantRef
}

// TenantRef names a tenant.
type TenantRef struct{ ID, Name, InitialDomain string }

// SetupMigrationTrust performs docs/architecture.md §1 steps 1–6 with the operator
// principal of each side: the target registers the migration app and a
// secret, the source consents, the target creates the endpoint (pointing at
// srcURL) and an Inbound relationship, the source creates the scope group
// and a RemoteOutbound relationship. Existing relationships in the other
// direction gain the capability instead (move back). The demo, the
// benchmark and the tests use it; administrators run the same steps with
// the CLI.
func SetupMigrationTrust(ctx context.Context, src *Core, srcOp *Principal, srcTenant, srcURL string, tgt *Core, tgtOp *Principal, tgtTenant string) (*TrustSetup, error) {
	st, err := src.Tenant(ctx, srcOp, srcTenant)
	if err != nil {
		return nil, err
	}
	tt, err := tgt.Tenant(ctx, tgtOp, tgtTenant)
	if err != nil {
		return nil, err
	}
	ts := &TrustSetup{Endpoint: st.Name + "-ep", ScopeGroup: "MigrationScope",
		SourceTenant: &TenantRef{st.ID, st.Name, st.InitialDomain}, TargetTenant: &TenantRef{tt.ID, tt.Name, tt.InitialDomain}}
	app, err := tgt.CreateApp(ctx, tgtOp, tt.ID, "Mailbox migration", []string{directory.PermissionMailboxMigration})
	if err != nil {
		return nil, err
	}
	ts.AppID, ts.Issuer = app.AppID, app.Issuer
	sec, err := tgt.AddAppSecret(ctx, tgtOp, tt.ID, app.AppID, 0)
	if err != nil {
		return nil, err
	}
	ts.Secret = sec.SecretText
	if _, err := src.GrantConsent(ctx, srcOp, st.ID, app.AppID, app.Issuer, nil); err != nil {
		return nil, err
	}
	if _, err := tgt.CreateEndpoint(ctx, tgtOp, tt.ID, directory.EndpointSpec{Name: ts.Endpoint, RemoteServer: srcURL,
		RemoteTenant: st.InitialDomain, ApplicationId: app.AppID, Secret: sec.SecretText}); err != nil {
		return nil, err
	}
	if err := ensureOrgRel(ctx, tgt, tgtOp, tt.ID, st.Name, st.ID, directory.CapInbound, nil); err != nil {
		return nil, err
	}
	if _, err := src.GetRecipient(ctx, srcOp, st.ID, ts.ScopeGroup); err != nil {
		if _, err := src.CreateRecipient(ctx, srcOp, st.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Name: ts.ScopeGroup, Alias: ts.ScopeGroup}); err != nil {
			return nil, err
		}
	}
	if err := ensureOrgRel(ctx, src, srcOp, st.ID, tt.Name, tt.ID, directory.CapRemoteOutbound, &directory.OrgRelSpec{
		OAuthApplicationId: &app.AppID, MailboxMovePublishedScopes: []string{ts.ScopeGroup}}); err != nil {
		return nil, err
	}
	return ts, nil
}

// ensureOrgRel creates the relationship with the capability, or adds the
// capability (and extra settings) to an existing one of the same name.
func ensureOrgRel(ctx context.Context, c *Core, p *Principal, tenantID, name, partnerID, capability string, extra *directory.OrgRelSpec) error {
	yes := true
	spec := directory.OrgRelSpec{Name: name, DomainNames: []string{partnerID}, MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{capability}}
	if extra != nil {
		spec.OAuthApplicationId, spec.MailboxMovePublishedScopes = extra.OAuthApplicationId, extra.MailboxMovePublishedScopes
	}
	_, err := c.CreateOrgRel(ctx, p, tenantID, spec)
	if !errors.Is(err, directory.ErrOrgRelExists) {
		return err
	}
	o, err := c.GetOrgRel(ctx, p, tenantID, name)
	if err != nil {
		return err
	}
	caps := o.MailboxMoveCapability
	if !strings.Contains(","+strings.Join(caps, ",")+",", ","+capability+",") {
		caps = append(caps, capability)
	}
	spec.Name, spec.DomainNames, spec.MailboxMoveCapability = "", nil, caps
	_, err = c.UpdateOrgRel(ctx, p, tenantID, name, spec)
	return err
}
