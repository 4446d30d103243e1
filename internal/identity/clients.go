package identity

import (
	"context"
	"time"
)

// Clients is where the token endpoint finds tenants and app
// registrations. internal/directory, which owns the tenants, domains,
// apps and app_secrets tables, implements it; identity reads none of them.
type Clients interface {
	// ClientTenant returns the id of the tenant ref names (its id, its
	// name in any case, an accepted domain or its initial domain), or ""
	// when none does. It does not fail for an unknown tenant.
	ClientTenant(ctx context.Context, ref string) (string, error)
	// ClientApp returns the tenant and the comma-separated permissions of
	// the app registration appID; found is false when there is none.
	ClientApp(ctx context.Context, appID string) (tenantID, perms string, found bool, err error)
	// ClientSecrets returns the secrets of the app in tenantID, expired
	// ones included.
	ClientSecrets(ctx context.Context, tenantID, appID string) ([]ClientSecret, error)
}

// ClientSecret is one stored client secret of an app.
type ClientSecret struct {
	Hash    string // HashSecret of the secret
	Hint    string // its first characters, for messages
	Expires time.Time
}
