package api

import (
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// zeroGUID is what Exchange prints for an absent GUID.
const zeroGUID = "00000000-0000-0000-0000-000000000000"

func guidOrZero(g string) string {
	if g == "" {
		return zeroGUID
	}
	return g
}

// TenantView is the JSON form of a tenant.
type TenantView struct {
	Id            string
	Name          string
	InitialDomain string
	Domains       []string
	// Quota bounds all the tenant's mailboxes together, in bytes (0:
	// unlimited).
	Quota       int64
	WhenCreated time.Time
	AdminToken  string `json:",omitempty"`
}

func tenantView(t *directory.Tenant, token string) *TenantView {
	return &TenantView{Id: t.ID, Name: t.Name, InitialDomain: t.InitialDomain, Domains: t.Domains, Quota: t.Quota, WhenCreated: t.CreatedAt, AdminToken: token}
}

// RecipientView is the JSON form of a recipient (Get-Mailbox /
// Get-MailUser / Get-DistributionGroup fields).
type RecipientView struct {
	Identity             string
	Id                   string
	RecipientType        string
	RecipientTypeDetails string
	Name                 string
	Alias                string
	DisplayName          string
	FirstName            string
	LastName             string
	PrimarySmtpAddress   string
	UserPrincipalName    string
	ExchangeGuid         string
	ArchiveGuid          string
	LegacyExchangeDN     string
	EmailAddresses       []string
	ExternalEmailAddress string `json:",omitempty"`
	// Quota is a mailbox's ProhibitSendReceiveQuota in bytes (0:
	// unlimited).
	Quota       int64    `json:",omitempty"`
	Members     []string `json:",omitempty"`
	WhenCreated time.Time
	WhenChanged time.Time
}

func recipientView(r *directory.Recipient) *RecipientView {
	v := &RecipientView{Identity: r.Alias, Id: r.ID, RecipientType: string(r.Type), RecipientTypeDetails: r.TypeDetails(),
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

func groupView(g *admin.GroupView) *RecipientView {
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

// AppSecretView is the metadata of an app secret.
type AppSecretView struct {
	KeyId     string
	Hint      string
	Expires   time.Time
	CreatedAt time.Time
}

// AppView is the JSON form of an app registration.
type AppView struct {
	AppId       string
	DisplayName string
	TenantId    string
	Permissions []string
	Issuer      string
	Secrets     []AppSecretView
	WhenCreated time.Time
}

func appView(a *admin.AppView) *AppView {
	v := &AppView{AppId: a.AppID, DisplayName: a.Name, TenantId: a.TenantID, Permissions: a.Permissions, Issuer: a.Issuer,
		Secrets: []AppSecretView{}, WhenCreated: a.CreatedAt}
	for _, s := range a.Secrets {
		v.Secrets = append(v.Secrets, AppSecretView{KeyId: s.ID, Hint: s.Hint + "…", Expires: s.Expires, CreatedAt: s.CreatedAt})
	}
	return v
}

// ConsentView is the JSON form of a consent (service principal).
type ConsentView struct {
	AppId       string
	Issuer      string
	JwksUri     string
	Permissions []string
	GrantedBy   string
	GrantedAt   time.Time
}

func consentView(c *directory.Consent) *ConsentView {
	return &ConsentView{AppId: c.AppID, Issuer: c.Issuer, JwksUri: c.JWKSURL, Permissions: c.Permissions, GrantedBy: c.GrantedBy, GrantedAt: c.GrantedAt}
}

// OrgRelView is the JSON form of an organization relationship.
type OrgRelView struct {
	Identity                   string
	Name                       string
	DomainNames                []string
	Enabled                    bool
	MailboxMoveEnabled         bool
	MailboxMoveCapability      []string
	OAuthApplicationId         string
	MailboxMovePublishedScopes []string
	FreeBusyAccessEnabled      bool
	WhenCreated                time.Time
	WhenChanged                time.Time
}

func orgRelView(o *admin.OrgRelView) *OrgRelView {
	v := &OrgRelView{Identity: o.Name, Name: o.Name, DomainNames: o.DomainNames, Enabled: o.Enabled, MailboxMoveEnabled: o.MailboxMoveEnabled,
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

// EndpointView is the JSON form of a migration endpoint (never its secret).
type EndpointView struct {
	Identity                      string
	Name                          string
	EndpointType                  string
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	// MaxBytesPerSecond is the bandwidth cap all its passes share (0: none).
	MaxBytesPerSecond int64
	// Security is an IMAP endpoint's transport security ("" = the URL's
	// default: implicit TLS for imaps://, STARTTLS when offered for imap://).
	Security string `json:",omitempty"`
	// CalDAVURL and CardDAVURL: an IMAP endpoint's CalDAV/CardDAV servers.
	CalDAVURL  string `json:",omitempty"`
	CardDAVURL string `json:",omitempty"`
	// OAuth is an IMAP endpoint's OAuth2 sign-in (absent: passwords).
	OAuth       *directory.EndpointOAuth `json:",omitempty"`
	WhenCreated time.Time
}

func endpointView(e *directory.Endpoint) *EndpointView {
	return &EndpointView{Identity: e.Name, Name: e.Name, EndpointType: e.Type, RemoteServer: e.RemoteServer, RemoteTenant: e.RemoteTenant,
		ApplicationId: e.ApplicationId, MaxConcurrentMigrations: e.MaxConcurrentMigrations, MaxConcurrentIncrementalSyncs: e.MaxConcurrentIncrementalSyncs,
		MaxBytesPerSecond: e.MaxBytesPerSecond, Security: e.Security, CalDAVURL: e.CalDAVURL, CardDAVURL: e.CardDAVURL, OAuth: e.OAuth, WhenCreated: e.CreatedAt}
}

// listOf maps a slice through a view function, never returning null.
func listOf[T, V any](xs []T, f func(T) V) []V {
	out := make([]V, 0, len(xs))
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}
