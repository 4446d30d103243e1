package admin

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// AppView is an app registration with its issuer.
type AppView struct {
	*directory.App
	Issuer string
}

func (c *Core) appView(a *directory.App) *AppView {
	return &AppView{App: a, Issuer: identity.IssuerURL(c.PublicURL, a.TenantID)}
}

// CreateApp registers a migration app in the tenant.
func (c *Core) CreateApp(ctx context.Context, p *Principal, tenant, name string, perms []string) (*AppView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	a, err := c.Dir.CreateApp(ctx, t.ID, name, perms)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "app.create", a.AppID)
	return c.appView(a), nil
}

// GetApp returns an app registration.
func (c *Core) GetApp(ctx context.Context, p *Principal, tenant, appID string) (*AppView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	a, err := c.Dir.GetApp(ctx, t.ID, appID)
	if err != nil {
		return nil, err
	}
	return c.appView(a), nil
}

// ListApps lists app registrations.
func (c *Core) ListApps(ctx context.Context, p *Principal, tenant string) ([]*AppView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	as, err := c.Dir.ListApps(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*AppView, len(as))
	for i, a := range as {
		out[i] = c.appView(a)
	}
	return out, nil
}

// DeleteApp removes an app registration.
func (c *Core) DeleteApp(ctx context.Context, p *Principal, tenant, appID string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if err := c.Dir.DeleteApp(ctx, t.ID, appID); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "app.delete", appID)
	return nil
}

// SecretCreated is a new app secret, shown once.
type SecretCreated struct {
	AppID      string `json:"AppId"`
	KeyID      string `json:"KeyId"`
	SecretText string
	Hint       string
	Expires    time.Time
}

// AddAppSecret adds a secret to an app.
func (c *Core) AddAppSecret(ctx context.Context, p *Principal, tenant, appID string, lifetime time.Duration) (*SecretCreated, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	secret, s, err := c.Dir.AddAppSecret(ctx, t.ID, appID, lifetime)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "app.secret.add", appID+" "+s.ID)
	id, _ := directory.ParseGUID("AppId", appID)
	return &SecretCreated{AppID: id, KeyID: s.ID, SecretText: secret, Hint: s.Hint, Expires: s.Expires}, nil
}

// ConsentURL builds the admin-consent URL the source admin opens on the
// source server's web UI.
func (c *Core) ConsentURL(ctx context.Context, p *Principal, tenant, appID, sourceServer, sourceTenant string) (string, error) {
	a, err := c.GetApp(ctx, p, tenant, appID)
	if err != nil {
		return "", err
	}
	srv, err := directory.CheckServerURL(sourceServer)
	if err != nil {
		return "", err
	}
	if sourceTenant == "" {
		return "", errs.Invalidf("MissingField", "the source tenant is required").WithHint("pass --source-tenant contoso.tenantferry.test")
	}
	v := url.Values{}
	v.Set("client_id", a.AppID)
	v.Set("issuer", a.Issuer)
	v.Set("permission", directory.PermissionMailboxMigration)
	v.Set("app_name", a.Name)
	return srv + "/" + url.PathEscape(sourceTenant) + "/adminconsent?" + v.Encode(), nil
}

// GrantConsent records the tenant's consent to a (possibly remote) app.
func (c *Core) GrantConsent(ctx context.Context, p *Principal, tenant, appID, issuer string, perms []string) (*directory.Consent, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	by := "operator"
	if !p.Operator {
		by = "tenant-admin:" + p.TokenID
	}
	if err := c.checkTarget(issuer); err != nil {
		return nil, err
	}
	cs, err := c.Dir.GrantConsent(ctx, t.ID, appID, issuer, perms, by)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "consent.grant", cs.AppID+" "+cs.Issuer)
	return cs, nil
}

// ListConsents lists the tenant's consents.
func (c *Core) ListConsents(ctx context.Context, p *Principal, tenant string) ([]*directory.Consent, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListConsents(ctx, t.ID)
}

// RevokeConsent removes a consent.
func (c *Core) RevokeConsent(ctx context.Context, p *Principal, tenant, appID string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if err := c.Dir.RevokeConsent(ctx, t.ID, appID); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "consent.revoke", appID)
	return nil
}

// OrgRelView is an organization relationship with its scope groups' names.
type OrgRelView struct {
	*directory.OrgRel
	PublishedScopeNames []string
}

func (c *Core) orgRelView(ctx context.Context, o *directory.OrgRel) *OrgRelView {
	v := &OrgRelView{OrgRel: o}
	for _, id := range o.MailboxMovePublishedScopes {
		name := id
		if g, err := c.Dir.GetRecipient(ctx, o.TenantID, id); err == nil {
			name = g.Name
		}
		v.PublishedScopeNames = append(v.PublishedScopeNames, name)
	}
	return v
}

// CreateOrgRel creates an organization relationship.
func (c *Core) CreateOrgRel(ctx context.Context, p *Principal, tenant string, s directory.OrgRelSpec) (*OrgRelView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	o, err := c.Dir.CreateOrgRel(ctx, t.ID, s)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "orgrel.create", o.Name)
	return c.orgRelView(ctx, o), nil
}

// UpdateOrgRel changes an organization relationship.
func (c *Core) UpdateOrgRel(ctx context.Context, p *Principal, tenant, name string, s directory.OrgRelSpec) (*OrgRelView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	o, err := c.Dir.UpdateOrgRel(ctx, t.ID, name, s)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "orgrel.set", o.Name)
	return c.orgRelView(ctx, o), nil
}

// GetOrgRel returns an organization relationship.
func (c *Core) GetOrgRel(ctx context.Context, p *Principal, tenant, name string) (*OrgRelView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	o, err := c.Dir.GetOrgRel(ctx, t.ID, name)
	if err != nil {
		return nil, err
	}
	return c.orgRelView(ctx, o), nil
}

// ListOrgRels lists organization relationships.
func (c *Core) ListOrgRels(ctx context.Context, p *Principal, tenant string) ([]*OrgRelView, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	os, err := c.Dir.ListOrgRels(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	out := make([]*OrgRelView, len(os))
	for i, o := range os {
		out[i] = c.orgRelView(ctx, o)
	}
	return out, nil
}

// DeleteOrgRel removes an organization relationship.
func (c *Core) DeleteOrgRel(ctx context.Context, p *Principal, tenant, name string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if err := c.Dir.DeleteOrgRel(ctx, t.ID, name); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "orgrel.delete", name)
	return nil
}

// CreateEndpoint creates a migration endpoint.
func (c *Core) CreateEndpoint(ctx context.Context, p *Principal, tenant string, s directory.EndpointSpec) (*directory.Endpoint, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	if err := c.checkTarget(s.RemoteServer); err != nil {
		return nil, err
	}
	e, err := c.Dir.CreateEndpoint(ctx, t.ID, s)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "endpoint.create", e.Name)
	return e, nil
}

// UpdateEndpoint changes a migration endpoint (new secret, server, limits).
func (c *Core) UpdateEndpoint(ctx context.Context, p *Principal, tenant, name string, u directory.EndpointUpdate) (*directory.Endpoint, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	if err := c.checkTarget(u.RemoteServer); err != nil {
		return nil, err
	}
	e, err := c.Dir.UpdateEndpoint(ctx, t.ID, name, u)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, t.ID, "endpoint.set", e.Name)
	return e, nil
}

// checkTarget refuses a server URL (an endpoint's RemoteServer, a
// consent's issuer) that the operator's policy refuses already by its
// name or IP literal; this server's own URL is always fine.
func (c *Core) checkTarget(url string) error {
	if c.Guard == nil || url == "" || url == c.PublicURL || strings.HasPrefix(url, c.PublicURL+"/") {
		return nil
	}
	return c.Guard.CheckURL(url)
}

// GetEndpoint returns a migration endpoint.
func (c *Core) GetEndpoint(ctx context.Context, p *Principal, tenant, name string) (*directory.Endpoint, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.GetEndpoint(ctx, t.ID, name)
}

// ListEndpoints lists migration endpoints.
func (c *Core) ListEndpoints(ctx context.Context, p *Principal, tenant string) ([]*directory.Endpoint, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return c.Dir.ListEndpoints(ctx, t.ID)
}

// DeleteEndpoint removes a migration endpoint.
func (c *Core) DeleteEndpoint(ctx context.Context, p *Principal, tenant, name string) error {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return err
	}
	if c.Migration != nil {
		// A batch holds its endpoint by id: deleting the endpoint (even to
		// create it again) would strand the batch's users for good.
		e, err := c.Dir.GetEndpoint(ctx, t.ID, name)
		if err != nil {
			return err
		}
		used, err := c.Migration.BatchesOfEndpoint(ctx, t.ID, e.ID)
		if err != nil {
			return err
		}
		if len(used) > 0 {
			return errs.Conflictf("EndpointInUse", "migration endpoint %s is used by batch %s", e.Name, strings.Join(used, ", ")).
				WithHint("remove the batch first ('tenantferry batch remove %s')", used[0]).WithObject(e.Name)
		}
	}
	if err := c.Dir.DeleteEndpoint(ctx, t.ID, name); err != nil {
		return err
	}
	c.audit(ctx, p, t.ID, "endpoint.delete", name)
	return nil
}
