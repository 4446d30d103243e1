package apitypes

import "time"

// AppCreate is the body of POST .../apps (a migration app registration).
type AppCreate struct {
	Name        string
	Permissions []string // Mailbox.Migration
}

// AppSecretAdd is the (optional) body of POST .../apps/{app}/secrets.
type AppSecretAdd struct {
	// Expires is the secret's lifetime, a Go duration ("": 4320h).
	Expires string `json:",omitempty"`
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

// ConsentURL is the reply of GET .../apps/{app}/consent-url.
type ConsentURL struct {
	ConsentUrl string
}

// ConsentGrant is the body of POST .../consents.
type ConsentGrant struct {
	AppId       string
	Issuer      string
	Permissions []string
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

// OrgRel is the body of orgrel create (POST) and set (PATCH, without
// Name): absent fields keep their values.
type OrgRel struct {
	Name                       string   `json:",omitempty"`
	DomainNames                []string `json:",omitempty"`
	Enabled                    *bool    `json:",omitempty"`
	MailboxMoveEnabled         *bool    `json:",omitempty"`
	MailboxMoveCapability      []string `json:",omitempty"`
	OAuthApplicationId         *string  `json:",omitempty"`
	MailboxMovePublishedScopes []string `json:",omitempty"`
	FreeBusyAccessEnabled      *bool    `json:",omitempty"`
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

// EndpointCreate is the body of POST .../endpoints (New-MigrationEndpoint).
type EndpointCreate struct {
	Name                          string
	Type                          string // ExchangeRemoteMove ("") or IMAP
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	Secret                        string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	MaxBytesPerSecond             int64  // 0: no cap
	Security                      string // IMAP only: Ssl, Tls, None
	CalDAVURL, CardDAVURL         string // IMAP only, optional
	// OAuthTokenURL, OAuthScope, OAuthGrant and OAuthMechanism set up an
	// IMAP endpoint's OAuth2 sign-in ("" token URL: passwords).
	OAuthTokenURL, OAuthScope, OAuthGrant, OAuthMechanism string
}

// EndpointUpdate is the body of PATCH .../endpoints/{name}
// (Set-MigrationEndpoint): empty strings and zero limits keep the current
// values.
type EndpointUpdate struct {
	RemoteServer                  string
	RemoteTenant                  string
	ApplicationId                 string
	Secret                        string
	MaxConcurrentMigrations       int
	MaxConcurrentIncrementalSyncs int
	// MaxBytesPerSecond changes the bandwidth cap (0 removes it); absent
	// keeps.
	MaxBytesPerSecond *int64 `json:",omitempty"`
	// Security changes an IMAP endpoint's security; "Auto" resets it to the
	// URL's default.
	Security string
	// CalDAVURL and CardDAVURL change an IMAP endpoint's DAV servers;
	// "none" removes one.
	CalDAVURL, CardDAVURL string
	// OAuthTokenURL ("none" removes the OAuth sign-in), OAuthScope,
	// OAuthGrant and OAuthMechanism change an IMAP endpoint's OAuth2.
	OAuthTokenURL, OAuthScope, OAuthGrant, OAuthMechanism string
}

// EndpointOAuth is an IMAP endpoint's OAuth2 sign-in.
type EndpointOAuth struct {
	TokenURL  string
	Scope     string // space-separated scopes ("" for the provider's default)
	Grant     string // refresh_token | client_credentials
	Mechanism string // XOAUTH2 | OAUTHBEARER
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
	OAuth       *EndpointOAuth `json:",omitempty"`
	WhenCreated time.Time
}

// EndpointTest is the (optional) body of POST .../endpoints/{name}/test
// (Test-MigrationServerAvailability).
type EndpointTest struct {
	TestMailbox, TargetDeliveryDomain string
}
