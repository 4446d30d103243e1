package api

import (
	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
)

func guidOrZero(g string) string {
	if g == "" {
		return apitypes.ZeroGUID
	}
	return g
}

func tenantView(t *directory.Tenant, token string) *apitypes.TenantView {
	return &apitypes.TenantView{Id: t.ID, Name: t.Name, InitialDomain: t.InitialDomain, Domains: t.Domains, Quota: t.Quota, WhenCreated: t.CreatedAt, AdminToken: token}
}

func recipientView(r *directory.Recipient) *apitypes.RecipientView {
	v := &apitypes.RecipientView{Identity: r.Alias, Id: r.ID, RecipientType: string(r.Type), RecipientTypeDetails: r.TypeDetails(),
		Name: r.Name, Alias: r.Alias, DisplayName: r.DisplayName, FirstName: r.FirstName, LastName: r.LastName,
		PrimarySmtpAddress: r.PrimarySmtpAddress, UserPrincipalName: r.UserPrincipalName,
		ExchangeGuid: guidOrZero(r.ExchangeGuid), ArchiveGuid: guidOrZero(r.ArchiveGuid), LegacyExchangeDN: r.LegacyExchangeDN,
		EmailAddresses: r.EmailAddresses(), WhenCreated: r.CreatedAt, WhenChanged: r.UpdatedAt, Quota: r.Quota}
	if r.Type == directory.MailUser {
		v.ExternalEmailAddress = "SMTP:" + r.ExternalEmailAddress
	}
	if r.Type.IsGroup() {
		v.RecipientType = "MailUniversalGroup"
		if r.Type == directory.SecurityGroup {
			v.RecipientType = "MailUniversalSecurityGroup"
		} else {
			v.RecipientType = "MailUniversalDistributionGroup"
		}
		v.Members = []string{}
	}
	return v
}

func groupView(g *admin.GroupView) *apitypes.RecipientView {
	v := recipientView(g.Recipient)
	for _, m := range g.Members {
		id := m.PrimarySmtpAddress
		if id == "" {
			id = m.Name
		}
		v.Members = append(v.Members, id)
	}
	return v
}

func appView(a *admin.AppView) *apitypes.AppView {
	v := &apitypes.AppView{AppId: a.AppID, DisplayName: a.Name, TenantId: a.TenantID, Permissions: a.Permissions, Issuer: a.Issuer,
		Secrets: []apitypes.AppSecretView{}, WhenCreated: a.CreatedAt}
	for _, s := range a.Secrets {
		v.Secrets = append(v.Secrets, apitypes.AppSecretView{KeyId: s.ID, Hint: s.Hint + "…", Expires: s.Expires, CreatedAt: s.CreatedAt})
	}
	return v
}

func consentView(c *directory.Consent) *apitypes.ConsentView {
	return &apitypes.ConsentView{AppId: c.AppID, Issuer: c.Issuer, JwksUri: c.JWKSURL, Permissions: c.Permissions, GrantedBy: c.GrantedBy, GrantedAt: c.GrantedAt}
}

func orgRelView(o *admin.OrgRelView) *apitypes.OrgRelView {
	v := &apitypes.OrgRelView{Identity: o.Name, Name: o.Name, DomainNames: o.DomainNames, Enabled: o.Enabled, MailboxMoveEnabled: o.MailboxMoveEnabled,
		MailboxMoveCapability: o.MailboxMoveCapability, OAuthApplicationId: o.OAuthApplicationId, MailboxMovePublishedScopes: o.PublishedScopeNames,
		FreeBusyAccessEnabled: o.FreeBusyAccessEnabled, WhenCreated: o.CreatedAt, WhenChanged: o.UpdatedAt}
	if v.MailboxMoveCapability == nil {
		v.MailboxMoveCapability = []string{}
	}
	if v.MailboxMovePublishedScopes == nil {
		v.MailboxMovePublishedScopes = []string{}
	}
	return v
}

func endpointView(e *directory.Endpoint) *apitypes.EndpointView {
	return &apitypes.EndpointView{Identity: e.Name, Name: e.Name, EndpointType: e.Type, RemoteServer: e.RemoteServer, RemoteTenant: e.RemoteTenant,
		ApplicationId: e.ApplicationId, MaxConcurrentMigrations: e.MaxConcurrentMigrations, MaxConcurrentIncrementalSyncs: e.MaxConcurrentIncrementalSyncs,
		MaxBytesPerSecond: e.MaxBytesPerSecond, Security: e.Security, CalDAVURL: e.CalDAVURL, CardDAVURL: e.CardDAVURL, OAuth: endpointOAuth(e.OAuth), WhenCreated: e.CreatedAt}
}

func endpointOAuth(o *directory.EndpointOAuth) *apitypes.EndpointOAuth {
	if o == nil {
		return nil
	}
	return &apitypes.EndpointOAuth{TokenURL: o.TokenURL, Scope: o.Scope, Grant: o.Grant, Mechanism: o.Mechanism}
}

// listOf maps a slice through a view function, never returning null.
func listOf[T, V any](xs []T, f func(T) V) []V {
	out := make([]V, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}
