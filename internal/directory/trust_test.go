package directory_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/identity"
)

func TestAppsAndSecrets(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		f := mustTenant(t, x, "fabrikam")
		c := mustTenant(t, x, "contoso")
		app, err := x.CreateApp(ctx, f.ID, "Mailbox migration", []string{"mailbox.migration", "Mailbox.Migration"})
		must(t, err)
		if !isGUID(app.AppID) || app.TenantID != f.ID || app.Name != "Mailbox migration" || !equalStrings(app.Permissions, []string{"Mailbox.Migration"}) {
			t.Fatalf("app %+v", app)
		}
		for _, bad := range []struct {
			name  string
			perms []string
			code  string
		}{
			{"x", []string{"Mail.ReadWrite"}, "UnknownPermission"},
			{"x", nil, "MissingField"},
			{"x", []string{" , "}, "MissingField"},
			{"", []string{"Mailbox.Migration"}, "MissingField"},
			{strings.Repeat("n", 65), []string{"Mailbox.Migration"}, "NameTooLong"},
		} {
			_, err := x.CreateApp(ctx, f.ID, bad.name, bad.perms)
			wantCode(t, err, bad.code)
		}

		// A secret is returned once; only its hash is stored.
		before := time.Now()
		secret, meta, err := x.AddAppSecret(ctx, f.ID, strings.ToUpper(app.AppID), 0)
		must(t, err)
		if !strings.HasPrefix(secret, "tfs_") || len(secret) < 40 || meta.Hint != secret[:7] {
			t.Fatalf("secret %q hint %q", secret, meta.Hint)
		}
		if meta.Expires.Before(before.Add(directory.DefaultSecretLifetime-time.Minute)) || meta.Expires.After(time.Now().Add(directory.DefaultSecretLifetime)) {
			t.Fatalf("default expiry %v", meta.Expires)
		}
		hash := column[string](t, d, `SELECT secret_hash FROM app_secrets WHERE id = ?`, meta.ID)
		if hash != identity.HashSecret(secret) || strings.Contains(hash, secret) || !identity.CheckSecret(hash, secret) || identity.CheckSecret(hash, secret+"x") {
			t.Fatalf("stored secret hash %q", hash)
		}
		if n := column[int](t, d, `SELECT COUNT(*) FROM app_secrets WHERE secret_hash = ? OR hint = ?`, secret, secret); n != 0 {
			t.Fatal("clear-text secret stored")
		}
		secret2, meta2, err := x.AddAppSecret(ctx, f.ID, app.AppID, 24*time.Hour)
		must(t, err)
		if secret2 == secret || meta2.Expires.After(time.Now().Add(24*time.Hour)) || meta2.Expires.Before(before.Add(23*time.Hour)) {
			t.Fatalf("second secret expiry %v", meta2.Expires)
		}
		got, err := x.GetApp(ctx, f.ID, app.AppID)
		must(t, err)
		if len(got.Secrets) != 2 || got.Secrets[0].ID != meta.ID || !got.Secrets[0].Expires.Equal(meta.Expires) || got.Secrets[1].Hint != secret2[:7] {
			t.Fatalf("secrets metadata %+v", got.Secrets)
		}
		for _, life := range []time.Duration{30 * time.Second, -time.Hour, directory.MaxSecretLifetime + time.Hour} {
			_, _, err := x.AddAppSecret(ctx, f.ID, app.AppID, life)
			wantCode(t, err, "InvalidExpiry")
		}
		// Apps of another tenant are invisible; ids are GUIDs.
		_, err = x.GetApp(ctx, c.ID, app.AppID)
		wantCode(t, err, "AppNotFound")
		_, _, err = x.AddAppSecret(ctx, c.ID, app.AppID, 0)
		wantCode(t, err, "AppNotFound")
		wantCode(t, x.DeleteApp(ctx, c.ID, app.AppID), "AppNotFound")
		_, err = x.GetApp(ctx, f.ID, "not-a-guid")
		wantCode(t, err, "InvalidGuid")
		_, err = x.GetApp(ctx, f.ID, uuid.NewString())
		wantCode(t, err, "AppNotFound")
		if as, _ := x.ListApps(ctx, c.ID); len(as) != 0 {
			t.Fatalf("contoso lists %d fabrikam apps", len(as))
		}
		as, err := x.ListApps(ctx, f.ID)
		must(t, err)
		if len(as) != 1 || as[0].AppID != app.AppID || len(as[0].Secrets) != 2 {
			t.Fatalf("ListApps %+v", as)
		}
		must(t, x.DeleteApp(ctx, f.ID, app.AppID))
		if n := column[int](t, d, `SELECT COUNT(*) FROM app_secrets WHERE app_id = ?`, app.AppID); n != 0 {
			t.Fatalf("%d secrets survive their app", n)
		}
		_, err = x.GetApp(ctx, f.ID, app.AppID)
		wantCode(t, err, "AppNotFound")
	})
}

func TestConsents(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		f := mustTenant(t, x, "fabrikam")
		c := mustTenant(t, x, "contoso")
		app, err := x.CreateApp(ctx, f.ID, "Mailbox migration", []string{directory.PermissionMailboxMigration})
		must(t, err)
		issuer := identity.IssuerURL("https://tgt.example", f.ID)
		cs, err := x.GrantConsent(ctx, c.ID, strings.ToUpper(app.AppID), issuer, nil, "operator")
		must(t, err)
		if cs.AppID != app.AppID || cs.TenantID != c.ID || cs.Issuer != issuer || cs.JWKSURL != identity.JWKSURL("https://tgt.example", f.ID) ||
			!equalStrings(cs.Permissions, []string{"Mailbox.Migration"}) || cs.GrantedBy != "operator" {
			t.Fatalf("consent %+v", cs)
		}
		got, err := x.GetConsent(ctx, c.ID, app.AppID)
		must(t, err)
		if got.Issuer != issuer || got.JWKSURL != cs.JWKSURL || got.GrantedBy != "operator" || !got.GrantedAt.Equal(cs.GrantedAt) {
			t.Fatalf("GetConsent %+v", got)
		}
		// Granting again replaces the consent (one per app).
		issuer2 := identity.IssuerURL("https://tgt2.example", f.ID)
		_, err = x.GrantConsent(ctx, c.ID, app.AppID, issuer2, []string{"Mailbox.Migration"}, "tenant-admin:x")
		must(t, err)
		all, err := x.ListConsents(ctx, c.ID)
		must(t, err)
		if len(all) != 1 || all[0].Issuer != issuer2 || all[0].GrantedBy != "tenant-admin:x" {
			t.Fatalf("ListConsents %+v", all)
		}

		other := uuid.NewString()
		_, err = x.GetConsent(ctx, c.ID, other)
		wantCode(t, err, "AppNotConsented")
		_, err = x.GetConsent(ctx, f.ID, app.AppID) // consent is per tenant
		wantCode(t, err, "AppNotConsented")
		if l, _ := x.ListConsents(ctx, f.ID); len(l) != 0 {
			t.Fatalf("fabrikam sees %d consents", len(l))
		}
		for _, bad := range []struct{ app, issuer, code string }{
			{"", issuer, "MissingField"},
			{"nope", issuer, "InvalidGuid"},
			{other, "", "InvalidIssuer"},
			{other, "tgt.example/x/v2.0", "InvalidIssuer"},
			{other, "ftp://tgt.example/x/v2.0", "InvalidIssuer"},
			{other, "https://tgt.example/x/v2.0?q=1", "InvalidIssuer"},
		} {
			_, err := x.GrantConsent(ctx, c.ID, bad.app, bad.issuer, nil, "operator")
			wantCode(t, err, bad.code)
		}
		_, err = x.GrantConsent(ctx, c.ID, other, issuer, []string{"Mail.Send"}, "operator")
		wantCode(t, err, "UnknownPermission")

		wantCode(t, x.RevokeConsent(ctx, f.ID, app.AppID), "AppNotConsented")
		must(t, x.RevokeConsent(ctx, c.ID, app.AppID))
		wantCode(t, x.RevokeConsent(ctx, c.ID, app.AppID), "AppNotConsented")
		_, err = x.GetConsent(ctx, c.ID, app.AppID)
		wantCode(t, err, "AppNotConsented")
	})
}

func TestOrgRels(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		app := uuid.NewString()
		yes, no := true, false

		// Target side: Inbound, keyed by the source tenant id.
		in, err := x.CreateOrgRel(ctx, f.ID, directory.OrgRelSpec{Name: "contoso", DomainNames: []string{strings.ToUpper(c.ID)},
			MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{"inbound"}})
		must(t, err)
		if !in.Enabled || !in.MailboxMoveEnabled || !equalStrings(in.DomainNames, []string{c.ID}) || !equalStrings(in.MailboxMoveCapability, []string{"Inbound"}) ||
			in.OAuthApplicationId != "" || len(in.MailboxMovePublishedScopes) != 0 || !in.HasCapability(directory.CapInbound) || in.HasCapability(directory.CapRemoteOutbound) {
			t.Fatalf("inbound orgrel %+v", in)
		}
		if !in.Matches(c.ID) || in.Matches(f.ID) || !in.Matches(uuid.NewString(), "x.example", strings.ToUpper(c.ID)) {
			t.Fatal("Matches")
		}

		// Source side: RemoteOutbound, app id, published scope.
		scope, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "MigrationScope"})
		must(t, err)
		out, err := x.CreateOrgRel(ctx, c.ID, directory.OrgRelSpec{Name: "fabrikam", DomainNames: []string{f.ID + ", fabrikam.example"},
			Enabled: &yes, MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{"RemoteOutbound,Inbound", "remoteoutbound"},
			OAuthApplicationId: &app, MailboxMovePublishedScopes: []string{"migrationscope"}})
		must(t, err)
		got, err := x.GetOrgRel(ctx, c.ID, "FABRIKAM")
		must(t, err)
		byID, err := x.GetOrgRel(ctx, c.ID, out.ID)
		must(t, err)
		for _, o := range []*directory.OrgRel{out, got, byID} {
			if o.ID != out.ID || o.Name != "fabrikam" || !o.Enabled || !o.MailboxMoveEnabled ||
				!equalStrings(o.DomainNames, []string{f.ID, "fabrikam.example"}) ||
				!equalStrings(o.MailboxMoveCapability, []string{"Inbound", "RemoteOutbound"}) ||
				o.OAuthApplicationId != app || !equalStrings(o.MailboxMovePublishedScopes, []string{scope.ID}) {
				t.Fatalf("outbound orgrel %+v", o)
			}
		}
		if !got.Matches(f.ID) || !got.Matches("nope", "FABRIKAM.example") {
			t.Fatal("Matches by domain")
		}

		// Set changes only the given fields.
		u, err := x.UpdateOrgRel(ctx, c.ID, "fabrikam", directory.OrgRelSpec{Enabled: &no, MailboxMoveCapability: []string{"RemoteOutbound"}})
		must(t, err)
		got, _ = x.GetOrgRel(ctx, c.ID, "fabrikam")
		for _, o := range []*directory.OrgRel{u, got} {
			if o.Enabled || !o.MailboxMoveEnabled || !equalStrings(o.MailboxMoveCapability, []string{"RemoteOutbound"}) || o.OAuthApplicationId != app ||
				!equalStrings(o.MailboxMovePublishedScopes, []string{scope.ID}) || !equalStrings(o.DomainNames, []string{f.ID, "fabrikam.example"}) {
				t.Fatalf("after set %+v", o)
			}
		}
		_, err = x.UpdateOrgRel(ctx, c.ID, "fabrikam", directory.OrgRelSpec{MailboxMovePublishedScopes: []string{}})
		must(t, err)
		if got, _ := x.GetOrgRel(ctx, c.ID, "fabrikam"); len(got.MailboxMovePublishedScopes) != 0 {
			t.Fatalf("scopes not cleared: %v", got.MailboxMovePublishedScopes)
		}

		dist, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.DistributionGroup, Alias: "all"})
		must(t, err)
		mustMailbox(t, x, c.ID, "user01")
		fscope, err := x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "fscope"})
		must(t, err)
		bad := "not-a-guid"
		for _, b := range []struct {
			spec directory.OrgRelSpec
			code string
		}{
			{directory.OrgRelSpec{Name: "", DomainNames: []string{f.ID}}, "MissingField"},
			{directory.OrgRelSpec{Name: strings.Repeat("n", 65), DomainNames: []string{f.ID}}, "NameTooLong"},
			{directory.OrgRelSpec{Name: "r"}, "MissingField"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{""}}, "MissingField"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{"not a tenant!"}}, "InvalidDomainNames"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMoveCapability: []string{"Sideways"}}, "InvalidCapability"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMoveCapability: []string{"Inbound,Sideways"}}, "InvalidCapability"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{"RemoteOutbound"}}, "MissingField"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, OAuthApplicationId: &bad}, "InvalidGuid"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMovePublishedScopes: []string{"nosuchgroup"}}, "ScopeGroupNotFound"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMovePublishedScopes: []string{fscope.ID}}, "ScopeGroupNotFound"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMovePublishedScopes: []string{dist.ID}}, "ScopeNotSecurityGroup"},
			{directory.OrgRelSpec{Name: "r", DomainNames: []string{f.ID}, MailboxMovePublishedScopes: []string{"user01"}}, "ScopeNotSecurityGroup"},
			{directory.OrgRelSpec{Name: "Fabrikam", DomainNames: []string{f.ID}}, "OrgRelExists"},
		} {
			_, err := x.CreateOrgRel(ctx, c.ID, b.spec)
			wantCode(t, err, b.code)
		}
		_, err = x.UpdateOrgRel(ctx, c.ID, "fabrikam", directory.OrgRelSpec{MailboxMoveCapability: []string{"Outbound", "Bogus"}})
		wantCode(t, err, "InvalidCapability")
		if got, _ := x.GetOrgRel(ctx, c.ID, "fabrikam"); !equalStrings(got.MailboxMoveCapability, []string{"RemoteOutbound"}) {
			t.Fatalf("refused set changed the capability: %v", got.MailboxMoveCapability)
		}
		if _, err := directory.ParseCapabilities([]string{"Outbound", "RemoteInbound", "inbound"}); err != nil {
			t.Fatal(err)
		}

		// Per tenant; deletion.
		_, err = x.GetOrgRel(ctx, f.ID, "fabrikam")
		wantCode(t, err, "OrgRelNotFound")
		_, err = x.GetOrgRel(ctx, f.ID, out.ID)
		wantCode(t, err, "OrgRelNotFound")
		_, err = x.UpdateOrgRel(ctx, f.ID, out.ID, directory.OrgRelSpec{Enabled: &yes})
		wantCode(t, err, "OrgRelNotFound")
		wantCode(t, x.DeleteOrgRel(ctx, f.ID, "fabrikam"), "OrgRelNotFound")
		ls, err := x.ListOrgRels(ctx, c.ID)
		must(t, err)
		if len(ls) != 1 || ls[0].ID != out.ID {
			t.Fatalf("ListOrgRels %+v", ls)
		}
		must(t, x.DeleteOrgRel(ctx, c.ID, "fabrikam"))
		_, err = x.GetOrgRel(ctx, c.ID, "fabrikam")
		wantCode(t, err, "OrgRelNotFound")
		if ls, _ := x.ListOrgRels(ctx, f.ID); len(ls) != 1 || ls[0].ID != in.ID {
			t.Fatalf("fabrikam's orgrel: %+v", ls)
		}
	})
}

func TestEndpoints(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		app := uuid.NewString()
		const secret = "tfs_ThisIsTheEndpointSecretValue0123456789"
		e, err := x.CreateEndpoint(ctx, f.ID, directory.EndpointSpec{Name: "contoso-ep", RemoteServer: "https://src.example/",
			RemoteTenant: "Contoso.TenantFerry.Test", ApplicationId: strings.ToUpper(app), Secret: secret})
		must(t, err)
		if e.Type != directory.EndpointExchangeRemoteMove || e.RemoteServer != "https://src.example" || e.RemoteTenant != "contoso.tenantferry.test" ||
			e.ApplicationId != app || e.MaxConcurrentMigrations != 100 || e.MaxConcurrentIncrementalSyncs != 20 || e.TenantID != f.ID {
			t.Fatalf("endpoint %+v", e)
		}
		// The secret is sealed: the stored bytes are not (and do not contain)
		// the secret, yet it round-trips with the server key.
		enc := column[[]byte](t, d, `SELECT secret_enc FROM endpoints WHERE id = ?`, e.ID)
		if len(enc) == 0 || bytes.Contains(enc, []byte(secret)) || bytes.Contains(enc, []byte(secret[4:20])) {
			t.Fatalf("stored endpoint secret %q", enc)
		}
		got, err := x.GetEndpoint(ctx, f.ID, "CONTOSO-EP")
		must(t, err)
		if s, err := x.EndpointSecret(got); err != nil || s != secret {
			t.Fatalf("EndpointSecret = %q, %v", s, err)
		}
		// Another server key cannot open it.
		other := newDir(t, d)
		got2, err := other.GetEndpoint(ctx, f.ID, e.ID)
		must(t, err)
		_, err = other.EndpointSecret(got2)
		wantCode(t, err, "InternalError")

		// By tenant id, explicit limits, IMAP endpoints need no app.
		e2, err := x.CreateEndpoint(ctx, f.ID, directory.EndpointSpec{Name: "by-id", RemoteServer: "http://127.0.0.1:8080",
			RemoteTenant: strings.ToUpper(c.ID), ApplicationId: app, Secret: "s", MaxConcurrentMigrations: 300, MaxConcurrentIncrementalSyncs: 50})
		must(t, err)
		if e2.RemoteTenant != c.ID || e2.MaxConcurrentMigrations != 300 || e2.MaxConcurrentIncrementalSyncs != 50 {
			t.Fatalf("endpoint by id %+v", e2)
		}
		e3, err := x.CreateEndpoint(ctx, f.ID, directory.EndpointSpec{Name: "imap", Type: directory.EndpointIMAP, RemoteServer: "imaps://imap.example:993",
			RemoteTenant: "example.org", Secret: "pw"})
		must(t, err)
		if e3.Type != "IMAP" || e3.ApplicationId != "" {
			t.Fatalf("imap endpoint %+v", e3)
		}
		// A small MaxConcurrentMigrations lowers the incremental default with it.
		e4, err := x.CreateEndpoint(ctx, f.ID, directory.EndpointSpec{Name: "small", RemoteServer: "https://src.example", RemoteTenant: c.ID,
			ApplicationId: app, Secret: "s", MaxConcurrentMigrations: 10})
		must(t, err)
		if e4.MaxConcurrentMigrations != 10 || e4.MaxConcurrentIncrementalSyncs != 10 {
			t.Fatalf("small endpoint limits %d/%d", e4.MaxConcurrentMigrations, e4.MaxConcurrentIncrementalSyncs)
		}

		ok := directory.EndpointSpec{Name: "x", RemoteServer: "https://src.example", RemoteTenant: "contoso.tenantferry.test", ApplicationId: app, Secret: "s"}
		for _, b := range []struct {
			mod  func(*directory.EndpointSpec)
			code string
		}{
			{func(s *directory.EndpointSpec) { s.Name = "" }, "MissingField"},
			{func(s *directory.EndpointSpec) { s.Name = strings.Repeat("n", 65) }, "NameTooLong"},
			{func(s *directory.EndpointSpec) { s.Name = "Contoso-EP" }, "EndpointExists"},
			{func(s *directory.EndpointSpec) { s.Type = "POP" }, "InvalidEndpointType"},
			{func(s *directory.EndpointSpec) { s.RemoteServer = "" }, "InvalidRemoteServer"},
			{func(s *directory.EndpointSpec) { s.RemoteServer = "src.example" }, "InvalidRemoteServer"},
			{func(s *directory.EndpointSpec) { s.RemoteServer = "ftp://src.example" }, "InvalidRemoteServer"},
			{func(s *directory.EndpointSpec) { s.RemoteTenant = "" }, "InvalidRemoteTenant"},
			{func(s *directory.EndpointSpec) { s.RemoteTenant = "not a domain" }, "InvalidRemoteTenant"},
			{func(s *directory.EndpointSpec) { s.ApplicationId = "" }, "MissingField"},
			{func(s *directory.EndpointSpec) { s.ApplicationId = "app" }, "InvalidGuid"},
			{func(s *directory.EndpointSpec) { s.Secret = "" }, "MissingField"},
			{func(s *directory.EndpointSpec) { s.Secret = strings.Repeat("s", 4097) }, "MissingField"},
			{func(s *directory.EndpointSpec) { s.MaxConcurrentMigrations = 1001 }, "InvalidConcurrency"},
			{func(s *directory.EndpointSpec) { s.MaxConcurrentMigrations = -1 }, "InvalidConcurrency"},
			{func(s *directory.EndpointSpec) { s.MaxConcurrentMigrations, s.MaxConcurrentIncrementalSyncs = 10, 11 }, "InvalidConcurrency"},
			{func(s *directory.EndpointSpec) { s.MaxConcurrentIncrementalSyncs = 101 }, "InvalidConcurrency"},
		} {
			s := ok
			b.mod(&s)
			_, err := x.CreateEndpoint(ctx, f.ID, s)
			wantCode(t, err, b.code)
		}

		// Per tenant; deletion.
		_, err = x.GetEndpoint(ctx, c.ID, "contoso-ep")
		wantCode(t, err, "EndpointNotFound")
		_, err = x.GetEndpoint(ctx, c.ID, e.ID)
		wantCode(t, err, "EndpointNotFound")
		wantCode(t, x.DeleteEndpoint(ctx, c.ID, e.ID), "EndpointNotFound")
		if l, _ := x.ListEndpoints(ctx, c.ID); len(l) != 0 {
			t.Fatalf("contoso lists %d endpoints", len(l))
		}
		l, err := x.ListEndpoints(ctx, f.ID)
		must(t, err)
		if len(l) != 4 || l[0].Name != "by-id" || l[1].Name != "contoso-ep" {
			t.Fatalf("ListEndpoints %d", len(l))
		}
		if s, err := x.EndpointSecret(l[1]); err != nil || s != secret {
			t.Fatalf("secret of a listed endpoint %q %v", s, err)
		}
		must(t, x.DeleteEndpoint(ctx, f.ID, "contoso-ep"))
		_, err = x.GetEndpoint(ctx, f.ID, "contoso-ep")
		wantCode(t, err, "EndpointNotFound")
	})
}
