package replication

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// Authorizer enforces DESIGN §4's migration trust checks 1–4 on the source
// side of a move. It is the only way into another tenant's mailbox data.
type Authorizer struct {
	Dir       *directory.Directory
	Verifier  *identity.Verifier
	PublicURL string // this server's public URL: the audience tokens must carry
}

// Grant is a successfully authorized caller: a migration app of another
// tenant, acting on this (source) tenant.
type Grant struct {
	Tenant  *directory.Tenant
	Claims  *identity.Claims
	Consent *directory.Consent
	OrgRel  *directory.OrgRel
}

// Authorize runs checks 1–3 for a bearer token acting on the source tenant
// named by tenantRef (id, name or domain):
//  1. the signature verifies against the JWKS of the issuer recorded in the
//     tenant's consent for the token's app;
//  2. the tenant consented the app with Mailbox.Migration;
//  3. an enabled organization relationship names the token's tenant, allows
//     mailbox moves with RemoteOutbound, and names the app.
func (a *Authorizer) Authorize(ctx context.Context, tenantRef, token string) (*Grant, error) {
	if token == "" {
		return nil, errs.Unauthorizedf("TokenRejected", "no bearer token was presented").
			WithHint("the target server obtains one from the migration app's token endpoint")
	}
	unverified, err := identity.ParseUnverified(token)
	if err != nil {
		return nil, err
	}
	// Until the token verifies, an unknown tenant and a tenant without a
	// consent for the app get the same answer, naming the tenant as the
	// caller did: the API must not tell which tenants exist.
	notConsented := func() error {
		return errs.Forbiddenf("AppNotConsented", "source tenant %q has not consented to migration app %s (or has no tenant of that name)", clip(tenantRef), clip(unverified.AppID)).
			WithHint("check the endpoint's RemoteTenant; the source admin runs 'tenantferry consent grant --tenant %s --app-id %s --issuer ISSUER' or opens the consent URL", clip(tenantRef), clip(unverified.AppID))
	}
	t, err := a.Dir.GetTenant(ctx, tenantRef)
	if errs.Is(err, "TenantNotFound") {
		return nil, notConsented()
	}
	if err != nil {
		return nil, err
	}
	consent, err := a.Dir.GetConsent(ctx, t.ID, unverified.AppID)
	if err != nil {
		if errs.Is(err, "AppNotConsented") || errs.Is(err, "InvalidGuid") {
			return nil, notConsented()
		}
		return nil, err
	}
	claims, err := a.Verifier.Verify(ctx, token, identity.TrustedIssuer{Issuer: consent.Issuer, JWKSURL: consent.JWKSURL}, a.PublicURL)
	if err != nil {
		return nil, err
	}
	if !hasString(consent.Permissions, directory.PermissionMailboxMigration) || !claims.HasRole(directory.PermissionMailboxMigration) {
		return nil, errs.Forbiddenf("AppPermissionMissing", "migration app %s lacks the %s permission in tenant %s", claims.AppID, directory.PermissionMailboxMigration, t.Name).
			WithHint("register the app with --permission %s and grant consent with that permission", directory.PermissionMailboxMigration)
	}
	rels, err := a.Dir.ListOrgRels(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var why []string
	for _, o := range rels {
		switch {
		case !o.Matches(claims.TenantID):
			continue
		case !o.Enabled:
			why = append(why, o.Name+" is disabled")
		case !o.MailboxMoveEnabled:
			why = append(why, o.Name+" has MailboxMoveEnabled=false")
		case !o.HasCapability(directory.CapRemoteOutbound):
			why = append(why, o.Name+" lacks the RemoteOutbound capability")
		case !strings.EqualFold(o.OAuthApplicationId, claims.AppID):
			why = append(why, o.Name+" names another OAuthApplicationId")
		case len(o.MailboxMovePublishedScopes) == 0:
			why = append(why, o.Name+" publishes no scope group")
		default:
			return &Grant{Tenant: t, Claims: claims, Consent: consent, OrgRel: o}, nil
		}
	}
	msg := "no organization relationship of source tenant " + t.Name + " names tenant " + claims.TenantID
	if len(why) > 0 {
		msg = "the organization relationship of source tenant " + t.Name + " for tenant " + claims.TenantID + " does not allow this move: " + strings.Join(why, "; ")
	}
	return nil, errs.Forbiddenf("SourceNotAuthorized", "%s", msg).
		WithHint("the source admin runs 'tenantferry orgrel create --tenant %s --domain-names %s --mailbox-move-enabled --mailbox-move-capability RemoteOutbound --oauth-app-id %s --published-scopes GROUP'",
			t.Name, claims.TenantID, claims.AppID)
}

// AuthorizeMailbox runs check 4: the mailbox (by address, alias or GUID,
// including an ArchiveGuid) must be a UserMailbox of the tenant and a
// transitive member of a published scope group. It returns the recipient.
// With allowConverted, a MailUser (a source already converted by a
// completed move) is accepted too, so completion steps can be repeated.
func (a *Authorizer) AuthorizeMailbox(ctx context.Context, g *Grant, ref string, allowConverted bool) (*directory.Recipient, error) {
	r, err := a.Dir.GetRecipient(ctx, g.Tenant.ID, ref)
	if errs.Is(err, "RecipientNotFound") {
		r, err = a.Dir.ByExchangeGuid(ctx, nil, g.Tenant.ID, ref)
	}
	// A mailbox outside the published scope is not the caller's to learn
	// about: not whether it exists, nor its address or alias. Unknown and
	// out-of-scope mailboxes get the same answer, naming the mailbox as the
	// caller named it.
	notInScope := func() error {
		return errs.Forbiddenf("MailboxNotInScope", "source mailbox %q is not in a published scope group of organization relationship %s (or does not exist)", clip(ref), g.OrgRel.Name).
			WithHint("check the source address (the SourceEmailAddress column of the CSV); the source admin adds the mailbox to a scope group: 'tenantferry group add-member --tenant %s SCOPEGROUP MAILBOX'", g.Tenant.Name).
			WithObject(clip(ref))
	}
	if errs.Is(err, "RecipientNotFound") {
		return nil, notInScope()
	}
	if err != nil {
		return nil, err
	}
	in, err := a.Dir.IsMemberOfAny(ctx, nil, g.OrgRel.MailboxMovePublishedScopes, r.ID)
	if err != nil {
		return nil, err
	}
	if !in {
		return nil, notInScope()
	}
	if r.Type != directory.UserMailbox && !(allowConverted && r.Type == directory.MailUser && r.ExchangeGuid != "") {
		return nil, errs.Conflictf("SourceNotAMailbox", "source recipient %s is a %s, not a UserMailbox (already moved?)", r.PrimarySmtpAddress, r.Type).WithObject(r.PrimarySmtpAddress)
	}
	return r, nil
}

func hasString(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// clip bounds caller-supplied text quoted in an error message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
