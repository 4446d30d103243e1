package cli

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

func (e *env) appCmd() *cobra.Command {
	var name string
	var perms []string
	create := e.apiCmd("create", "Register a migration app (prints AppId and Issuer)", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/apps", apitypes.AppCreate{Name: name, Permissions: perms})
		})
	create.Flags().StringVar(&name, "name", "", "display name; required")
	create.Flags().StringArrayVar(&perms, "permission", nil, "permission to request (Mailbox.Migration); repeatable")

	var app, expires string
	secretAdd := e.apiCmd("add", "Add a client secret to an app (printed once)", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			if app == "" {
				return nil, usageError("--app is required")
			}
			return c.do(ctx, http.MethodPost, tp+"/apps/"+esc(app)+"/secrets", apitypes.AppSecretAdd{Expires: expires})
		})
	secretAdd.Flags().StringVar(&app, "app", "", "AppId; required")
	secretAdd.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 720h (default 4320h = 180 days)")

	var cApp, srcServer, srcTenant string
	consentURL := e.apiCmd("consent-url", "Print the admin-consent URL for the source tenant's admin", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			if cApp == "" {
				return nil, usageError("--app is required")
			}
			q := url.Values{"source-server": {srcServer}, "source-tenant": {srcTenant}}
			return c.do(ctx, http.MethodGet, tp+"/apps/"+esc(cApp)+"/consent-url?"+q.Encode(), nil)
		})
	consentURL.Flags().StringVar(&cApp, "app", "", "AppId; required")
	consentURL.Flags().StringVar(&srcServer, "source-server", "", "source server URL; required")
	consentURL.Flags().StringVar(&srcTenant, "source-tenant", "", "source tenant domain; required")

	cols := []string{"DisplayName", "AppId", "Permissions", "Issuer"}
	return group("app", "Manage app registrations",
		create, group("secret", "Manage app secrets", secretAdd), consentURL,
		e.apiCmd("list", "List apps", cobra.NoArgs, true, view{cols}, get(sub("/apps", false))),
		e.apiCmd("show APPID", "Show an app", cobra.ExactArgs(1), true, view{}, get(sub("/apps", true))),
		e.confirmed(e.apiCmd("delete APPID", "Delete an app", cobra.ExactArgs(1), true, view{}, del(sub("/apps", true))),
			confirmation{warn: func(n string) string {
				return "This deletes app " + n + " and its secrets; endpoints using it stop working"
			}}),
	)
}

func (e *env) consentCmd() *cobra.Command {
	var app, issuer string
	var perms []string
	grant := e.apiCmd("grant", "Consent to a migration app (creates its service principal)", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/consents", apitypes.ConsentGrant{AppId: app, Issuer: issuer, Permissions: perms})
		})
	grant.Flags().StringVar(&app, "app-id", "", "AppId of the target tenant's migration app; required")
	grant.Flags().StringVar(&issuer, "issuer", "", "issuer URL printed by 'app create'; required")
	grant.Flags().StringArrayVar(&perms, "permission", nil, "permission to grant (default Mailbox.Migration)")
	return group("consent", "Manage consents to apps of other tenants",
		grant,
		e.apiCmd("list", "List consents", cobra.NoArgs, true, view{[]string{"AppId", "Permissions", "Issuer", "GrantedAt"}}, get(sub("/consents", false))),
		e.apiCmd("revoke APPID", "Revoke a consent", cobra.ExactArgs(1), true, view{}, del(sub("/consents", true))),
	)
}

// orgRelFlags binds the organization relationship flags and returns a
// function building the request body from the flags that were set.
func orgRelFlags(c *cobra.Command) func() apitypes.OrgRel {
	var name, domains, caps, app, scopes string
	var enabled, moveEnabled, freeBusy bool
	f := c.Flags()
	if strings.HasPrefix(c.Use, "create") {
		f.StringVar(&name, "name", "", "relationship name; required")
	}
	f.StringVar(&domains, "domain-names", "", "partner tenant ID(s), comma-separated")
	f.BoolVar(&enabled, "enabled", true, "relationship enabled")
	f.BoolVar(&moveEnabled, "mailbox-move-enabled", false, "allow mailbox moves")
	f.StringVar(&caps, "mailbox-move-capability", "", "Inbound, Outbound, RemoteInbound, RemoteOutbound (comma-separated)")
	f.StringVar(&app, "oauth-app-id", "", "AppId of the migration app (RemoteOutbound)")
	f.StringVar(&scopes, "published-scopes", "", "security group(s) whose members may move, comma-separated")
	f.BoolVar(&freeBusy, "free-busy-access-enabled", false, "share free/busy times with the partner during the migration (CalDAV free-busy queries for not-yet-moved users)")
	list := func(flag, v string) []string {
		if !f.Changed(flag) {
			return nil
		}
		return strings.Split(v, ",")
	}
	return func() apitypes.OrgRel {
		body := apitypes.OrgRel{Name: name, DomainNames: list("domain-names", domains),
			FreeBusyAccessEnabled: ifChanged(c, "free-busy-access-enabled", freeBusy),
			MailboxMoveCapability: list("mailbox-move-capability", caps), OAuthApplicationId: ifChanged(c, "oauth-app-id", app),
			MailboxMovePublishedScopes: list("published-scopes", scopes)}
		if f.Changed("enabled") || name != "" {
			body.Enabled = &enabled
		}
		if f.Changed("mailbox-move-enabled") || name != "" {
			body.MailboxMoveEnabled = &moveEnabled
		}
		return body
	}
}

func (e *env) orgrelCmd() *cobra.Command {
	var createBody, setBody func() apitypes.OrgRel
	create := e.apiCmd("create", "Create an organization relationship", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			return c.do(ctx, http.MethodPost, tp+"/orgrels", createBody())
		})
	createBody = orgRelFlags(create)
	set := e.apiCmd("set N", "Change an organization relationship", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			return c.do(ctx, http.MethodPatch, tp+"/orgrels/"+esc(a[0]), setBody())
		})
	setBody = orgRelFlags(set)
	cmds := append([]*cobra.Command{create, set}, e.crud("organization relationship", "/orgrels",
		[]string{"Name", "DomainNames", "Enabled", "MailboxMoveEnabled", "MailboxMoveCapability"})...)
	return group("orgrel", "Manage organization relationships", cmds...)
}

func (e *env) endpointCmd() *cobra.Command {
	var name, typ, server, tenant, app, secret, secretFile, security, caldav, carddav string
	var maxMig, maxInc int
	var maxBPS int64
	var oauth, sOAuth oauthFlags
	create := e.apiCmd("create", "Create a migration endpoint", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			s := ""
			if secret != "" || secretFile != "" || !strings.EqualFold(typ, "IMAP") {
				var err error
				if s, err = readSecretFlag(secret, secretFile, "secret"); err != nil {
					return nil, err
				}
			}
			return c.do(ctx, http.MethodPost, tp+"/endpoints", apitypes.EndpointCreate{Name: name, Type: typ, RemoteServer: server,
				RemoteTenant: tenant, ApplicationId: app, Secret: s, MaxConcurrentMigrations: maxMig,
				MaxConcurrentIncrementalSyncs: maxInc, Security: security, CalDAVURL: caldav, CardDAVURL: carddav, MaxBytesPerSecond: maxBPS,
				OAuthTokenURL: oauth.tokenURL, OAuthScope: oauth.scope, OAuthGrant: oauth.grant, OAuthMechanism: oauth.mechanism})
		})
	f := create.Flags()
	f.StringVar(&name, "name", "", "endpoint name; required")
	f.StringVar(&typ, "type", "", "ExchangeRemoteMove (default) or IMAP (any IMAP server; users' logins come with the batch CSV)")
	f.StringVar(&server, "remote-server", "", "source server URL (https://... ; for IMAP imap://host:port or imaps://host:port); required")
	f.StringVar(&tenant, "remote-tenant", "", "source tenant domain or ID; required except for IMAP")
	f.StringVar(&app, "app-id", "", "AppId of the migration app; required except for IMAP")
	f.StringVar(&security, "security", "", "IMAP only: Ssl (implicit TLS), Tls (STARTTLS required) or None (plain text); default: imaps:// TLS, imap:// STARTTLS when offered")
	f.StringVar(&caldav, "caldav-url", "", "IMAP only: the source's CalDAV server (http(s)://...): batches import calendars and tasks too, with each user's IMAP login")
	f.StringVar(&carddav, "carddav-url", "", "IMAP only: the source's CardDAV server: batches import address books too")
	f.StringVar(&secret, "secret", "", "the app's client secret")
	f.StringVar(&secretFile, "secret-file", "", "file holding the app's client secret")
	f.IntVar(&maxMig, "max-concurrent-migrations", 0, "MaxConcurrentMigrations (default 100)")
	f.IntVar(&maxInc, "max-concurrent-incremental-syncs", 0, "MaxConcurrentIncrementalSyncs (default 20)")
	f.Int64Var(&maxBPS, "max-bytes-per-second", 0, "bandwidth cap the endpoint's passes share on every node, in bytes/s (0: none)")
	oauth.flags(f, "")
	var sServer, sTenant, sApp, sSecret, sSecretFile, sSecurity, sCalDAV, sCardDAV string
	var sMig, sInc int
	var sBPS int64
	var set *cobra.Command
	set = e.apiCmd("set N", "Change an endpoint: rotate its secret, move it, change limits", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			sec, err := readSecretFlag(sSecret, sSecretFile, "secret")
			if err != nil {
				return nil, err
			}
			body := apitypes.EndpointUpdate{RemoteServer: sServer, RemoteTenant: sTenant,
				ApplicationId: sApp, Secret: sec, MaxConcurrentMigrations: sMig, MaxConcurrentIncrementalSyncs: sInc,
				Security: sSecurity, CalDAVURL: sCalDAV, CardDAVURL: sCardDAV,
				OAuthTokenURL: sOAuth.tokenURL, OAuthScope: sOAuth.scope, OAuthGrant: sOAuth.grant, OAuthMechanism: sOAuth.mechanism,
				MaxBytesPerSecond: ifChanged(set, "max-bytes-per-second", sBPS)}
			return c.do(ctx, http.MethodPatch, tp+"/endpoints/"+esc(a[0]), body)
		})
	sf := set.Flags()
	sf.StringVar(&sServer, "remote-server", "", "new source server URL")
	sf.StringVar(&sTenant, "remote-tenant", "", "new source tenant")
	sf.StringVar(&sApp, "app-id", "", "new AppId")
	sf.StringVar(&sSecret, "secret", "", "new client secret")
	sf.StringVar(&sSecretFile, "secret-file", "", "file holding the new client secret")
	sf.IntVar(&sMig, "max-concurrent-migrations", 0, "new MaxConcurrentMigrations")
	sf.IntVar(&sInc, "max-concurrent-incremental-syncs", 0, "new MaxConcurrentIncrementalSyncs")
	sf.Int64Var(&sBPS, "max-bytes-per-second", 0, "new bandwidth cap in bytes/s (0: none)")
	sOAuth.flags(sf, "new ")
	sf.StringVar(&sSecurity, "security", "", "IMAP only: new Security (Ssl, Tls, None, or Auto for the URL's default)")
	sf.StringVar(&sCalDAV, "caldav-url", "", "IMAP only: new CalDAV server URL (none: remove)")
	sf.StringVar(&sCardDAV, "carddav-url", "", "IMAP only: new CardDAV server URL (none: remove)")
	cmds := append([]*cobra.Command{create, set, e.endpointTestCmd()}, e.crud("migration endpoint", "/endpoints",
		[]string{"Name", "EndpointType", "RemoteServer", "RemoteTenant", "ApplicationId", "Security"})...)
	return group("endpoint", "Manage migration endpoints", cmds...)
}

// moveRegistrationCmd is the source admin's view of the moves target
// tenants registered for its mailboxes (lock and finalize need one).
func (e *env) moveRegistrationCmd() *cobra.Command {
	cols := []string{"Id", "Mailbox", "State", "SourceLocked", "TargetTenantId", "TargetDeliveryDomain", "AppId", "WhenCreated"}
	return group("move-registration", "See and cancel the moves other tenants registered for this tenant's mailboxes (source side)",
		e.apiCmd("list", "List registered moves", cobra.NoArgs, true, view{cols}, get(sub("/move-registrations", false))),
		e.apiCmd("show ID|MAILBOX", "Show a registered move, or those of a mailbox", cobra.ExactArgs(1), true, view{cols},
			get(sub("/move-registrations", true))),
		e.apiCmd("cancel ID|MAILBOX", "Cancel a registered move (or every one of a mailbox): its app can no longer lock or finalize the mailbox",
			cobra.ExactArgs(1), true, view{cols},
			func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodPost, tp+"/move-registrations/"+esc(a[0])+"/cancel", struct{}{})
			}),
	)
}

// oauthFlags are an IMAP endpoint's OAuth2 sign-in flags.
type oauthFlags struct{ tokenURL, scope, grant, mechanism string }

func (o *oauthFlags) flags(f *pflag.FlagSet, prefix string) {
	f.StringVar(&o.tokenURL, "oauth-token-url", "", "IMAP only: "+prefix+"OAuth2 token endpoint; users sign in with OAuth tokens (XOAUTH2/OAUTHBEARER) instead of passwords; --app-id and --secret-file are the OAuth client's (set: none removes it)")
	f.StringVar(&o.scope, "oauth-scope", "", "IMAP only: "+prefix+"OAuth2 scopes, space-separated (e.g. https://mail.google.com/)")
	f.StringVar(&o.grant, "oauth-grant", "", "IMAP only: "+prefix+"grant: refresh_token (default; a RefreshToken column per user in the batch CSV) or client_credentials (a service account)")
	f.StringVar(&o.mechanism, "oauth-mechanism", "", "IMAP only: "+prefix+"SASL mechanism: XOAUTH2 (default) or OAUTHBEARER")
}
