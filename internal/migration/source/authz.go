package source

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Releaser releases mail held for a mailbox while it was locked (the
// delivery queue implements it).
type Releaser interface {
	// Release hands the mail held for the mailbox back to routing; it is
	// idempotent and durable (the queue retries what it cannot deliver).
	Release(ctx context.Context, tenantID, guid string) error
}

// Core is the source side of moves on this server.
type Core struct {
	Dir      *directory.Directory
	Store    *mailstore.Store
	Verifier *identity.Verifier
	// PublicURL is this server's public URL: the audience tokens must
	// carry.
	PublicURL string
	// Releaser is optional (set when the delivery queue runs).
	Releaser Releaser
	Log      *slog.Logger
	// MaxPage bounds the page sizes callers may ask for (0: 5000).
	MaxPage int
}

// New returns the source core.
func New(dir *directory.Directory, st *mailstore.Store, v *identity.Verifier, publicURL string, log *slog.Logger) *Core {
	if log == nil {
		log = slog.Default()
	}
	return &Core{Dir: dir, Store: st, Verifier: v, PublicURL: strings.TrimSuffix(publicURL, "/"), Log: log}
}

// Grant is a successfully authorized caller: a migration app of another
// tenant, acting on one source tenant of this server.
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
func (c *Core) Authorize(ctx context.Context, tenantRef, token string) (*Grant, error) {
	if token == "" {
		return nil, identity.ErrTokenRejected.Newf("no bearer token was presented").
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
		return ErrAppNotConsented.Newf("source tenant %q has not consented to migration app %s (or has no tenant of that name)", clip(tenantRef), clip(unverified.AppID)).
			WithHint("check the endpoint's RemoteTenant; the source admin runs 'tenantferry consent grant --tenant %s --app-id %s --issuer ISSUER' or opens the consent URL", clip(tenantRef), clip(unverified.AppID))
	}
	t, err := c.Dir.GetTenant(ctx, tenantRef)
	if errors.Is(err, directory.ErrTenantNotFound) {
		return nil, notConsented()
	}
	if err != nil {
		return nil, err
	}
	consent, err := c.Dir.GetConsent(ctx, t.ID, unverified.AppID)
	if err != nil {
		if errors.Is(err, ErrAppNotConsented) || errors.Is(err, directory.ErrInvalidGuid) {
			return nil, notConsented()
		}
		return nil, err
	}
	claims, err := c.Verifier.Verify(ctx, token, identity.TrustedIssuer{Issuer: consent.Issuer, JWKSURL: consent.JWKSURL}, c.PublicURL)
	if err != nil {
		return nil, err
	}
	if !hasString(consent.Permissions, directory.PermissionMailboxMigration) || !claims.HasRole(directory.PermissionMailboxMigration) {
		return nil, ErrAppPermissionMissing.Newf("migration app %s lacks the %s permission in tenant %s", claims.AppID, directory.PermissionMailboxMigration, t.Name).
			WithHint("register the app with --permission %s and grant consent with that permission", directory.PermissionMailboxMigration)
	}
	rels, err := c.Dir.ListOrgRels(ctx, t.ID)
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
	return nil, ErrSourceNotAuthorized.Newf("%s", msg).
		WithHint("the source admin runs 'tenantferry orgrel create --tenant %s --domain-names %s --mailbox-move-enabled --mailbox-move-capability RemoteOutbound --oauth-app-id %s --published-scopes GROUP'",
			t.Name, claims.TenantID, claims.AppID)
}

// recipient runs check 4: the mailbox (by address, alias or GUID,
// including an ArchiveGuid) must be a UserMailbox of the grant's tenant
// and a transitive member of a published scope group. With
// allowConverted, a MailUser (a source already converted by a completed
// move) is accepted too, so completion steps can be repeated.
func (c *Core) recipient(ctx context.Context, g *Grant, ref string, allowConverted bool) (*directory.Recipient, error) {
	r, err := c.Dir.GetRecipient(ctx, g.Tenant.ID, ref)
	if errors.Is(err, directory.ErrRecipientNotFound) {
		r, err = c.Dir.ByExchangeGuid(ctx, nil, g.Tenant.ID, ref)
	}
	return c.inScope(ctx, g, ref, r, err, allowConverted)
}

// recipientByGuid is recipient for a mailbox that content requests name by
// its ExchangeGuid or ArchiveGuid: one indexed lookup. Any other reference
// falls back to recipient, so an in-scope mailbox named otherwise gets
// GuidRequired from the caller rather than NotInScope.
func (c *Core) recipientByGuid(ctx context.Context, g *Grant, guid string, allowConverted bool) (*directory.Recipient, error) {
	r, err := c.Dir.ByExchangeGuid(ctx, nil, g.Tenant.ID, guid)
	if errors.Is(err, directory.ErrRecipientNotFound) {
		return c.recipient(ctx, g, guid, allowConverted)
	}
	return c.inScope(ctx, g, guid, r, err, allowConverted)
}

// inScope finishes check 4 on the lookup of ref (r, err).
func (c *Core) inScope(ctx context.Context, g *Grant, ref string, r *directory.Recipient, err error, allowConverted bool) (*directory.Recipient, error) {
	// A mailbox outside the published scope is not the caller's to learn
	// about: not whether it exists, nor its address or alias. Unknown and
	// out-of-scope mailboxes get the same answer, naming the mailbox as the
	// caller named it.
	notInScope := func() error {
		return ErrMailboxNotInScope.Newf("source mailbox %q is not in a published scope group of organization relationship %s (or does not exist)", clip(ref), g.OrgRel.Name).
			WithHint("check the source address (the SourceEmailAddress column of the CSV); the source admin adds the mailbox to a scope group: 'tenantferry group add-member --tenant %s SCOPEGROUP MAILBOX'", g.Tenant.Name).
			WithObject(clip(ref))
	}
	if errors.Is(err, directory.ErrRecipientNotFound) {
		return nil, notInScope()
	}
	if err != nil {
		return nil, err
	}
	in, err := c.Dir.IsMemberOfAny(ctx, nil, g.OrgRel.MailboxMovePublishedScopes, r.ID)
	if err != nil {
		return nil, err
	}
	if !in {
		return nil, notInScope()
	}
	if r.Type != directory.UserMailbox && !(allowConverted && r.Type == directory.MailUser && r.ExchangeGuid != "") {
		return nil, ErrSourceNotAMailbox.Newf("source recipient %s is a %s, not a UserMailbox (already moved?)", r.PrimarySmtpAddress, r.Type).WithObject(r.PrimarySmtpAddress)
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
