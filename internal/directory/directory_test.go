package directory_test

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// The suite runs every test through dbtest.Dialects: SQLite always,
// PostgreSQL when TENANTFERRY_TEST_POSTGRES holds a DSN.

var ctx = context.Background()

// newDir returns a directory over d with a fresh random server key.
func newDir(t testing.TB, d *db.DB) *directory.Directory {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return directory.New(d, "tenantferry.test", key)
}

// wantCode fails unless err carries the coded error code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got success", code)
	}
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("want error %s, got %s (%v)", code, got, err)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// isGUID reports whether s is a canonical lower-case GUID.
func isGUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

func mustTenant(t *testing.T, x *directory.Directory, name string) *directory.Tenant {
	t.Helper()
	tn, err := x.CreateTenant(ctx, name)
	must(t, err)
	return tn
}

func mustMailbox(t *testing.T, x *directory.Directory, tenantID, alias string, mod ...func(*directory.RecipientSpec)) *directory.Recipient {
	t.Helper()
	s := directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias, Password: "pw-" + alias}
	for _, m := range mod {
		m(&s)
	}
	r, err := x.CreateRecipient(ctx, tenantID, s)
	must(t, err)
	return r
}

// column reads one column of one row by id (raw storage checks).
func column[T any](t *testing.T, d *db.DB, query string, args ...any) T {
	t.Helper()
	var v T
	must(t, d.Read().QueryRowContext(ctx, query, args...).Scan(&v))
	return v
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestTenants(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c, err := x.CreateTenant(ctx, " Contoso ")
		must(t, err)
		if c.Name != "contoso" || c.InitialDomain != "contoso.tenantferry.test" || !isGUID(c.ID) {
			t.Fatalf("tenant = %+v", c)
		}
		if !equalStrings(c.Domains, []string{"contoso.tenantferry.test"}) {
			t.Fatalf("domains = %v", c.Domains)
		}
		f := mustTenant(t, x, "fabrikam")
		for _, ref := range []string{c.ID, strings.ToUpper(c.ID), "contoso", "CONTOSO", "contoso.tenantferry.test", "Contoso.TenantFerry.Test"} {
			got, err := x.GetTenant(ctx, ref)
			must(t, err)
			if got.ID != c.ID || got.Name != "contoso" {
				t.Fatalf("GetTenant(%q) = %+v", ref, got)
			}
		}
		_, err = x.GetTenant(ctx, "northwind")
		wantCode(t, err, "TenantNotFound")
		_, err = x.GetTenant(ctx, "")
		wantCode(t, err, "MissingField")

		_, err = x.CreateTenant(ctx, "contoso")
		wantCode(t, err, "TenantExists")
		for name, code := range map[string]string{
			"":                      "MissingField",
			strings.Repeat("a", 64): "NameTooLong",
			"con_toso":              "InvalidTenantName",
			"con.toso":              "InvalidTenantName",
			"-contoso":              "InvalidTenantName",
			"contoso-":              "InvalidTenantName",
			"cöntoso":               "InvalidTenantName",
			c.ID:                    "InvalidTenantName",
		} {
			_, err := x.CreateTenant(ctx, name)
			wantCode(t, err, code)
		}

		ts, err := x.ListTenants(ctx)
		must(t, err)
		if len(ts) != 2 || ts[0].Name != "contoso" || ts[1].Name != "fabrikam" {
			t.Fatalf("ListTenants = %+v", ts)
		}

		// Deleting a tenant removes its objects and frees its names and
		// addresses; the other tenant is untouched.
		mb := mustMailbox(t, x, f.ID, "user01")
		_, err = x.AcceptDomain(ctx, f.ID, "fabrikam.example", directory.VerifiedByOperator)
		must(t, err)
		g, err := x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "scope"})
		must(t, err)
		must(t, x.AddMember(ctx, f.ID, g.ID, mb.ID))
		app, err := x.CreateApp(ctx, f.ID, "app", []string{directory.PermissionMailboxMigration})
		must(t, err)
		_, _, err = x.AddAppSecret(ctx, f.ID, app.AppID, 0)
		must(t, err)
		cMB := mustMailbox(t, x, c.ID, "user01")
		must(t, x.DeleteTenant(ctx, f.ID))
		wantCode(t, x.DeleteTenant(ctx, f.ID), "TenantNotFound")
		_, err = x.GetTenant(ctx, "fabrikam")
		wantCode(t, err, "TenantNotFound")
		for _, table := range []string{"recipients", "proxies", "group_members", "apps", "app_secrets", "domains", "admin_tokens"} {
			if n := column[int](t, d, `SELECT COUNT(*) FROM `+table+` WHERE tenant_id = ?`, f.ID); n != 0 {
				t.Fatalf("%d rows of %s survive the tenant", n, table)
			}
		}
		if r, err := x.ResolveAddress(ctx, "user01@fabrikam.tenantferry.test"); err != nil || r != nil {
			t.Fatalf("address of a deleted tenant resolves: %v %v", r, err)
		}
		if r, err := x.GetRecipient(ctx, c.ID, "user01"); err != nil || r.ID != cMB.ID {
			t.Fatalf("other tenant's mailbox: %v %v", r, err)
		}
		f2 := mustTenant(t, x, "fabrikam")
		mustMailbox(t, x, f2.ID, "user01")
		_, err = x.AcceptDomain(ctx, f2.ID, "fabrikam.example", directory.VerifiedByOperator)
		must(t, err)
	})
}

func TestAdminTokens(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		has, err := x.HasOperatorToken(ctx)
		must(t, err)
		if has {
			t.Fatal("fresh database has an operator token")
		}
		op, err := x.CreateAdminToken(ctx, "", "operator")
		must(t, err)
		ta, err := x.CreateAdminToken(ctx, c.ID, "initial")
		must(t, err)
		if !strings.HasPrefix(op, "tfo_") || !strings.HasPrefix(ta, "tfa_") || op == ta {
			t.Fatalf("tokens %q %q", op, ta)
		}
		if has, _ := x.HasOperatorToken(ctx); !has {
			t.Fatal("operator token not recorded")
		}
		p, err := x.Authenticate(ctx, op)
		must(t, err)
		if !p.Operator || p.TenantID != "" {
			t.Fatalf("operator principal %+v", p)
		}
		p, err = x.Authenticate(ctx, ta)
		must(t, err)
		if p.Operator || p.TenantID != c.ID || p.Name != "initial" {
			t.Fatalf("tenant principal %+v", p)
		}
		_, err = x.Authenticate(ctx, "")
		wantCode(t, err, "AuthenticationRequired")
		_, err = x.Authenticate(ctx, ta+"x")
		wantCode(t, err, "InvalidToken")
		_, err = x.CreateAdminToken(ctx, c.ID, "bad\x00name")
		wantCode(t, err, "InvalidName")
		_, err = x.CreateAdminToken(ctx, c.ID, "")
		wantCode(t, err, "MissingField")
		// Only hashes are stored.
		rows, err := d.Read().QueryContext(ctx, `SELECT token_hash FROM admin_tokens`)
		must(t, err)
		defer rows.Close()
		n := 0
		for rows.Next() {
			var h string
			must(t, rows.Scan(&h))
			if strings.Contains(h, op) || strings.Contains(h, ta) || !strings.HasPrefix(h, "sha256:") {
				t.Fatalf("stored token hash %q", h)
			}
			n++
		}
		if n != 2 {
			t.Fatalf("%d token rows", n)
		}
	})
}

func TestAcceptedDomains(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		dom, err := x.AcceptDomain(ctx, c.ID, " Contoso.COM. ", directory.VerifiedByOperator)
		must(t, err)
		if dom != "contoso.com" {
			t.Fatalf("AddDomain = %q", dom)
		}
		_, err = x.AcceptDomain(ctx, c.ID, "mail.contoso.com", directory.VerifiedByOperator)
		must(t, err)
		ds, err := x.ListDomains(ctx, c.ID)
		must(t, err)
		if !equalStrings(ds, []string{"contoso.tenantferry.test", "contoso.com", "mail.contoso.com"}) {
			t.Fatalf("ListDomains = %v", ds)
		}
		if tn, _ := x.GetTenant(ctx, "contoso"); !equalStrings(tn.Domains, ds) {
			t.Fatalf("tenant domains %v", tn.Domains)
		}
		if tn, err := x.GetTenant(ctx, "CONTOSO.COM"); err != nil || tn.ID != c.ID {
			t.Fatalf("GetTenant by custom domain: %v %v", tn, err)
		}
		if id, err := x.TenantOfDomain(ctx, nil, "Contoso.Com"); err != nil || id != c.ID {
			t.Fatalf("TenantOfDomain = %q %v", id, err)
		}
		if id, err := x.TenantOfDomain(ctx, nil, "unknown.example"); err != nil || id != "" {
			t.Fatalf("TenantOfDomain(unknown) = %q %v", id, err)
		}

		_, err = x.AcceptDomain(ctx, c.ID, "contoso.com", directory.VerifiedByOperator)
		wantCode(t, err, "DomainExists")
		_, err = x.AcceptDomain(ctx, f.ID, "CONTOSO.com", directory.VerifiedByOperator)
		wantCode(t, err, "DomainExists")
		// The service domain holds initial domains, present and future.
		for _, dom := range []string{"contoso.tenantferry.test", "northwind.tenantferry.test", "TenantFerry.Test", "a.b.tenantferry.test"} {
			_, err = x.AcceptDomain(ctx, f.ID, dom, directory.VerifiedByOperator)
			wantCode(t, err, "ReservedDomain")
		}
		_, err = x.AcceptDomain(ctx, f.ID, "nottenantferry.test", directory.VerifiedByOperator)
		must(t, err)
		for _, bad := range []string{"", "localhost", "-a.example", "a-.example", "a_b.example", "a..example", "a b.example", "ä.example", strings.Repeat("a", 64) + ".example"} {
			_, err := x.AcceptDomain(ctx, c.ID, bad, directory.VerifiedByOperator)
			wantCode(t, err, "InvalidDomain")
		}

		wantCode(t, x.RemoveDomain(ctx, c.ID, "contoso.tenantferry.test"), "DomainInUse")
		mustMailbox(t, x, c.ID, "user01", func(s *directory.RecipientSpec) { s.AddAddresses = []string{"smtp:User01@Contoso.com"} })
		wantCode(t, x.RemoveDomain(ctx, c.ID, "contoso.com"), "DomainInUse")
		wantCode(t, x.RemoveDomain(ctx, c.ID, "unknown.example"), "DomainNotFound")
		// Another tenant's domain is not ours to remove.
		wantCode(t, x.RemoveDomain(ctx, f.ID, "mail.contoso.com"), "DomainNotFound")
		must(t, x.RemoveDomain(ctx, c.ID, "MAIL.contoso.com"))
		ds, _ = x.ListDomains(ctx, c.ID)
		if !equalStrings(ds, []string{"contoso.tenantferry.test", "contoso.com"}) {
			t.Fatalf("after remove: %v", ds)
		}
		// Freed, it can be accepted by another tenant.
		_, err = x.AcceptDomain(ctx, f.ID, "mail.contoso.com", directory.VerifiedByOperator)
		must(t, err)
	})
}

func TestMailboxCreate(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		r, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "user01",
			FirstName: "Ada", LastName: "Lovelace", DisplayName: "Ada Lovelace", Password: "correct horse"})
		must(t, err)
		if r.Type != directory.UserMailbox || r.Name != "user01" || r.DisplayName != "Ada Lovelace" || r.FirstName != "Ada" || r.LastName != "Lovelace" {
			t.Fatalf("mailbox %+v", r)
		}
		if r.PrimarySmtpAddress != "user01@contoso.tenantferry.test" || r.UserPrincipalName != r.PrimarySmtpAddress {
			t.Fatalf("addresses %q %q", r.PrimarySmtpAddress, r.UserPrincipalName)
		}
		if !equalStrings(r.EmailAddresses(), []string{"SMTP:user01@contoso.tenantferry.test"}) {
			t.Fatalf("EmailAddresses %v", r.EmailAddresses())
		}
		if !isGUID(r.ExchangeGuid) || r.ArchiveGuid != "" {
			t.Fatalf("guids %q %q", r.ExchangeGuid, r.ArchiveGuid)
		}
		if !strings.HasPrefix(r.LegacyExchangeDN, "/o=contoso/") || !strings.Contains(r.LegacyExchangeDN, "/cn=Recipients/cn=") ||
			!strings.HasSuffix(r.LegacyExchangeDN, "-user01") {
			t.Fatalf("LegacyExchangeDN %q", r.LegacyExchangeDN)
		}

		// Defaults: Name = Alias, DisplayName = Name.
		r2 := mustMailbox(t, x, c.ID, "user02", func(s *directory.RecipientSpec) { s.Archive = true })
		if r2.Name != "user02" || r2.DisplayName != "user02" {
			t.Fatalf("defaults %q %q", r2.Name, r2.DisplayName)
		}
		if !isGUID(r2.ArchiveGuid) || r2.ArchiveGuid == r2.ExchangeGuid || r2.ExchangeGuid == r.ExchangeGuid {
			t.Fatalf("archive guid %q exchange %q", r2.ArchiveGuid, r2.ExchangeGuid)
		}
		// The same alias in another tenant gets another ExchangeGuid and
		// LegacyExchangeDN (unique on the server).
		r3 := mustMailbox(t, x, f.ID, "user01")
		if r3.LegacyExchangeDN == r.LegacyExchangeDN || r3.ExchangeGuid == r.ExchangeGuid || !strings.HasPrefix(r3.LegacyExchangeDN, "/o=fabrikam/") {
			t.Fatalf("second tenant's user01: %q %q", r3.LegacyExchangeDN, r3.ExchangeGuid)
		}
		if n := column[int](t, d, `SELECT COUNT(DISTINCT legacy_dn) FROM recipients`); n != 3 {
			t.Fatalf("%d distinct LegacyExchangeDNs for 3 mailboxes", n)
		}

		// The password is stored as an argon2id hash and checks.
		hash := column[string](t, d, `SELECT password_hash FROM recipients WHERE id = ?`, r.ID)
		if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "correct horse") {
			t.Fatalf("stored password %q", hash)
		}
		got, err := x.GetRecipient(ctx, c.ID, r.ID)
		must(t, err)
		if !got.HasPassword || !got.CheckPassword("correct horse") || got.CheckPassword("correct horse ") || got.CheckPassword("") {
			t.Fatal("password check")
		}
		g, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.DistributionGroup, Alias: "all"})
		must(t, err)
		if g.HasPassword || g.CheckPassword("") || g.ExchangeGuid != "" {
			t.Fatalf("group %+v", g)
		}

		// An explicit ExchangeGuid is kept (canonicalised).
		eg := uuid.NewString()
		r4 := mustMailbox(t, x, c.ID, "user04", func(s *directory.RecipientSpec) { s.ExchangeGuid = "{" + strings.ToUpper(eg) + "}" })
		if r4.ExchangeGuid != eg {
			t.Fatalf("ExchangeGuid %q, want %q", r4.ExchangeGuid, eg)
		}
		_, err = x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "user05", Password: "x", ExchangeGuid: eg})
		wantCode(t, err, "GuidInUse")
		_, err = x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "user05", Password: "x", ExchangeGuid: r2.ArchiveGuid})
		wantCode(t, err, "GuidInUse")

		// Explicit primary address in an accepted domain.
		_, err = x.AcceptDomain(ctx, c.ID, "contoso.com", directory.VerifiedByOperator)
		must(t, err)
		r6 := mustMailbox(t, x, c.ID, "user06", func(s *directory.RecipientSpec) { s.PrimarySmtp = "Ada.L@CONTOSO.com" })
		if r6.PrimarySmtpAddress != "Ada.L@contoso.com" {
			t.Fatalf("primary %q", r6.PrimarySmtpAddress)
		}

		bad := []struct {
			spec directory.RecipientSpec
			code string
		}{
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "nopw"}, "MissingField"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Password: "x"}, "MissingField"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "USER01", Password: "x"}, "RecipientExists"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "other", Name: "User02", Password: "x"}, "RecipientExists"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: strings.Repeat("a", 65), Password: "x"}, "NameTooLong"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Name: strings.Repeat("n", 65), Password: "x"}, "NameTooLong"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", DisplayName: strings.Repeat("d", 257), Password: "x"}, "NameTooLong"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "a b", Password: "x"}, "InvalidAlias"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: ".ab", Password: "x"}, "InvalidAlias"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "a..b", Password: "x"}, "InvalidAlias"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Name: "bad\x01name", Password: "x"}, "InvalidName"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: "x", PrimarySmtp: "ok@fabrikam.tenantferry.test"}, "NotAcceptedDomain"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: "x", PrimarySmtp: "ok@nowhere.example"}, "NotAcceptedDomain"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: "x", PrimarySmtp: "not an address"}, "InvalidSmtpAddress"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: "x", PrimarySmtp: "a@b@contoso.com"}, "InvalidSmtpAddress"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: "x", ExchangeGuid: "not-a-guid"}, "InvalidGuid"},
			{directory.RecipientSpec{Type: directory.UserMailbox, Alias: "ok", Password: strings.Repeat("p", 257)}, "InvalidPassword"},
			{directory.RecipientSpec{Type: "Contact", Alias: "ok"}, "InvalidRecipientType"},
		}
		before := column[int](t, d, `SELECT COUNT(*) FROM recipients`)
		for _, b := range bad {
			_, err := x.CreateRecipient(ctx, c.ID, b.spec)
			wantCode(t, err, b.code)
		}
		if n := column[int](t, d, `SELECT COUNT(*) FROM recipients`); n != before {
			t.Fatalf("failed creations left %d rows", n-before)
		}
	})
}

func TestRecipientLookupUpdateDelete(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		r := mustMailbox(t, x, c.ID, "User01", func(s *directory.RecipientSpec) { s.Name = "Ada Lovelace" })
		for _, ref := range []string{r.ID, "user01", "USER01", "ada lovelace", r.ExchangeGuid, strings.ToUpper(r.ExchangeGuid),
			"User01@contoso.tenantferry.test", "USER01@CONTOSO.TENANTFERRY.TEST", "SMTP:user01@contoso.tenantferry.test",
			r.LegacyExchangeDN, strings.ToUpper(r.LegacyExchangeDN)} {
			got, err := x.GetRecipient(ctx, c.ID, ref)
			if err != nil || got.ID != r.ID {
				t.Fatalf("GetRecipient(%q) = %v, %v", ref, got, err)
			}
		}
		// Another tenant never sees it, by any reference.
		for _, ref := range []string{r.ID, "user01", r.ExchangeGuid, r.PrimarySmtpAddress, r.LegacyExchangeDN} {
			_, err := x.GetRecipient(ctx, f.ID, ref)
			wantCode(t, err, "RecipientNotFound")
		}
		_, err := x.GetRecipient(ctx, c.ID, r.ID, directory.MailUser)
		wantCode(t, err, "RecipientNotFound")
		_, err = x.GetRecipient(ctx, c.ID, " ")
		wantCode(t, err, "MissingField")
		// References no object can have (PostgreSQL refuses NUL and invalid
		// UTF-8 in text) find nothing rather than failing.
		for _, ref := range []string{"user\x0001", "\xff", "a\xc3\x28@contoso.tenantferry.test", "/o=x\x00"} {
			_, err = x.GetRecipient(ctx, c.ID, ref)
			wantCode(t, err, "RecipientNotFound")
			if r, err := x.ResolveAddress(ctx, ref); r != nil || err != nil {
				t.Fatalf("ResolveAddress(%q) = %v %v", ref, r, err)
			}
			_, err = x.GetTenant(ctx, ref)
			wantCode(t, err, "TenantNotFound")
			_, err = x.GetOrgRel(ctx, c.ID, ref)
			wantCode(t, err, "OrgRelNotFound")
			_, err = x.GetEndpoint(ctx, c.ID, ref)
			wantCode(t, err, "EndpointNotFound")
			_, err = x.ByExchangeGuid(ctx, nil, c.ID, ref)
			wantCode(t, err, "RecipientNotFound")
			wantCode(t, x.RemoveDomain(ctx, c.ID, ref), "DomainNotFound")
			wantCode(t, x.AddMember(ctx, c.ID, ref, "user01"), "RecipientNotFound")
		}
		if got, err := x.ByExchangeGuid(ctx, nil, c.ID, strings.ToUpper(r.ExchangeGuid)); err != nil || got.ID != r.ID {
			t.Fatalf("ByExchangeGuid: %v %v", got, err)
		}
		if got, err := x.ResolveAddress(ctx, "USER01@contoso.tenantferry.test"); err != nil || got == nil || got.ID != r.ID {
			t.Fatalf("ResolveAddress: %v %v", got, err)
		}

		mustMailbox(t, x, c.ID, "user02")
		_, err = x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "grp"})
		must(t, err)
		all, err := x.ListRecipients(ctx, c.ID)
		must(t, err)
		mbs, err := x.ListRecipients(ctx, c.ID, directory.UserMailbox)
		must(t, err)
		if len(all) != 3 || len(mbs) != 2 || mbs[0].Name != "Ada Lovelace" || len(mbs[0].Proxies) != 1 {
			t.Fatalf("ListRecipients: %d all, %d mailboxes", len(all), len(mbs))
		}
		if others, _ := x.ListRecipients(ctx, f.ID); len(others) != 0 {
			t.Fatalf("fabrikam lists %d contoso recipients", len(others))
		}

		// Set: names and password.
		dn, pw := "Ada L.", "new password"
		u, err := x.UpdateRecipient(ctx, c.ID, "user01", directory.RecipientUpdate{DisplayName: &dn, Password: &pw})
		must(t, err)
		if u.DisplayName != "Ada L." || !u.CheckPassword(pw) || u.CheckPassword("pw-User01") {
			t.Fatalf("update: %q", u.DisplayName)
		}
		empty, long := "", strings.Repeat("x", 257)
		_, err = x.UpdateRecipient(ctx, c.ID, "user01", directory.RecipientUpdate{Password: &empty})
		wantCode(t, err, "InvalidPassword")
		_, err = x.UpdateRecipient(ctx, c.ID, "user01", directory.RecipientUpdate{DisplayName: &long})
		wantCode(t, err, "NameTooLong")
		g := uuid.NewString()
		_, err = x.UpdateRecipient(ctx, c.ID, "user01", directory.RecipientUpdate{ExchangeGuid: &g})
		wantCode(t, err, "InvalidForRecipientType")
		_, err = x.UpdateRecipient(ctx, f.ID, "user01", directory.RecipientUpdate{DisplayName: &dn})
		wantCode(t, err, "RecipientNotFound")
		_, err = x.UpdateRecipient(ctx, c.ID, "user01", directory.RecipientUpdate{DisplayName: &dn}, directory.MailUser)
		wantCode(t, err, "RecipientNotFound")

		// Delete: gone, address and alias free again; not from another tenant.
		_, err = x.DeleteRecipient(ctx, f.ID, "user01")
		wantCode(t, err, "RecipientNotFound")
		_, err = x.DeleteRecipient(ctx, c.ID, "user01", directory.SecurityGroup)
		wantCode(t, err, "RecipientNotFound")
		del, err := x.DeleteRecipient(ctx, c.ID, "user01")
		must(t, err)
		if del.ID != r.ID {
			t.Fatalf("deleted %s", del.ID)
		}
		_, err = x.GetRecipient(ctx, c.ID, r.ID)
		wantCode(t, err, "RecipientNotFound")
		if n := column[int](t, d, `SELECT COUNT(*) FROM proxies WHERE recipient_id = ?`, r.ID); n != 0 {
			t.Fatalf("%d proxies survive", n)
		}
		mustMailbox(t, x, c.ID, "user01")
	})
}

func TestMailUser(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		_, err := x.AcceptDomain(ctx, f.ID, "fabrikam.example", directory.VerifiedByOperator)
		must(t, err)
		src := mustMailbox(t, x, c.ID, "user01", func(s *directory.RecipientSpec) { s.Archive = true })

		// Stamped for a move: the source's GUIDs (same GUIDs in another
		// tenant are fine), its LegacyExchangeDN as X500, an address in the
		// target delivery domain, ExternalEmailAddress = the source address.
		mu, err := x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.MailUser, Name: "User 01", Alias: "user01",
			PrimarySmtp: "user01@fabrikam.example", ExternalEmail: "SMTP:" + src.PrimarySmtpAddress,
			ExchangeGuid: strings.ToUpper(src.ExchangeGuid), ArchiveGuid: src.ArchiveGuid,
			AddAddresses: []string{"X500:" + src.LegacyExchangeDN, "smtp:user01@fabrikam.tenantferry.test"}})
		must(t, err)
		if mu.Type != directory.MailUser || mu.ExchangeGuid != src.ExchangeGuid || mu.ArchiveGuid != src.ArchiveGuid ||
			mu.ExternalEmailAddress != src.PrimarySmtpAddress || mu.HasPassword {
			t.Fatalf("mail user %+v", mu)
		}
		want := []string{"SMTP:user01@fabrikam.example", "smtp:user01@fabrikam.tenantferry.test", "X500:" + src.LegacyExchangeDN}
		if !equalStrings(mu.EmailAddresses(), want) {
			t.Fatalf("EmailAddresses %v, want %v", mu.EmailAddresses(), want)
		}
		if !equalStrings(mu.X500(), []string{src.LegacyExchangeDN}) || !equalStrings(mu.SMTPAddresses(), []string{"user01@fabrikam.example", "user01@fabrikam.tenantferry.test"}) {
			t.Fatalf("X500 %v SMTP %v", mu.X500(), mu.SMTPAddresses())
		}
		got, err := x.GetRecipient(ctx, f.ID, "X500:"+src.LegacyExchangeDN)
		must(t, err)
		if got.ID != mu.ID || !equalStrings(got.EmailAddresses(), want) {
			t.Fatalf("lookup by X500: %+v", got)
		}
		if got, err := x.ByExchangeGuid(ctx, nil, f.ID, src.ArchiveGuid); err != nil || got.ID != mu.ID {
			t.Fatalf("ByExchangeGuid(archive): %v %v", got, err)
		}

		// Set: GUIDs, external address, proxies.
		eg, ag, ext := uuid.NewString(), uuid.NewString(), "user01@contoso.com"
		u, err := x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{ExchangeGuid: &eg, ArchiveGuid: &ag, ExternalEmail: &ext,
			AddAddresses: []string{"x500:/o=contoso/ou=Other/cn=Recipients/cn=old", "user.one@fabrikam.example"}}, directory.MailUser)
		must(t, err)
		if u.ExchangeGuid != eg || u.ArchiveGuid != ag || u.ExternalEmailAddress != ext {
			t.Fatalf("after set %+v", u)
		}
		want = []string{"SMTP:user01@fabrikam.example", "smtp:user.one@fabrikam.example", "smtp:user01@fabrikam.tenantferry.test",
			"X500:" + src.LegacyExchangeDN, "X500:/o=contoso/ou=Other/cn=Recipients/cn=old"}
		if !equalStrings(u.EmailAddresses(), want) {
			t.Fatalf("EmailAddresses %v, want %v", u.EmailAddresses(), want)
		}
		// Making an existing address primary demotes the old primary.
		u, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{AddAddresses: []string{"SMTP:User01@Fabrikam.TenantFerry.Test"}})
		must(t, err)
		if u.PrimarySmtpAddress != "user01@fabrikam.tenantferry.test" || u.EmailAddresses()[0] != "SMTP:user01@fabrikam.tenantferry.test" ||
			!strings.Contains(strings.Join(u.EmailAddresses(), ","), "smtp:user01@fabrikam.example") {
			t.Fatalf("after making primary: %q %v", u.PrimarySmtpAddress, u.EmailAddresses())
		}
		// A new address given as SMTP: becomes primary.
		u, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{AddAddresses: []string{"SMTP:ada@fabrikam.example"}})
		must(t, err)
		if u.PrimarySmtpAddress != "ada@fabrikam.example" {
			t.Fatalf("primary %q", u.PrimarySmtpAddress)
		}
		if got, _ := x.GetRecipient(ctx, f.ID, mu.ID); got.PrimarySmtpAddress != "ada@fabrikam.example" || len(got.SMTPAddresses()) != 4 {
			t.Fatalf("stored primary %q %v", got.PrimarySmtpAddress, got.SMTPAddresses())
		}
		// Remove an X500 and a secondary; the primary cannot be removed.
		u, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{RemoveAddresses: []string{"X500:/o=contoso/ou=Other/cn=Recipients/cn=old", "user.one@fabrikam.example"}})
		must(t, err)
		if len(u.X500()) != 1 || len(u.SMTPAddresses()) != 3 {
			t.Fatalf("after remove %v", u.EmailAddresses())
		}
		_, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{RemoveAddresses: []string{"ada@fabrikam.example"}})
		wantCode(t, err, "CannotRemovePrimaryAddress")
		_, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{RemoveAddresses: []string{"nobody@fabrikam.example"}})
		wantCode(t, err, "ProxyAddressNotFound")
		// Clearing the stamped GUIDs.
		none := ""
		u, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{ExchangeGuid: &none, ArchiveGuid: &none})
		must(t, err)
		if u.ExchangeGuid != "" || u.ArchiveGuid != "" {
			t.Fatalf("cleared guids %q %q", u.ExchangeGuid, u.ArchiveGuid)
		}

		// Rules.
		bad := []struct {
			spec directory.RecipientSpec
			code string
		}{
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example"}, "MissingField"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "nope"}, "InvalidSmtpAddress"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", ExchangeGuid: "123"}, "InvalidGuid"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", ArchiveGuid: "urn:uuid:" + uuid.NewString()}, "InvalidGuid"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", AddAddresses: []string{"X500:" + src.LegacyExchangeDN}}, "ProxyAddressExists"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", AddAddresses: []string{"X500:o=missing-slash"}}, "InvalidProxyAddress"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", AddAddresses: []string{"SIP:m1@fabrikam.example"}}, "InvalidProxyAddress"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", AddAddresses: []string{"smtp:m1@contoso.tenantferry.test"}}, "NotAcceptedDomain"},
			{directory.RecipientSpec{Type: directory.MailUser, Alias: "m1", PrimarySmtp: "m1@fabrikam.example", ExternalEmail: "a@contoso.com", AddAddresses: []string{"smtp:ADA@fabrikam.example"}}, "ProxyAddressExists"},
		}
		for _, b := range bad {
			_, err := x.CreateRecipient(ctx, f.ID, b.spec)
			wantCode(t, err, b.code)
		}
		badGUID := "not-a-guid"
		_, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{ArchiveGuid: &badGUID})
		wantCode(t, err, "InvalidGuid")
		// The source mailbox's X500 may be stamped in another tenant only once
		// per tenant, but the same GUID may live in both tenants.
		_, err = x.UpdateRecipient(ctx, f.ID, mu.ID, directory.RecipientUpdate{ExchangeGuid: &src.ExchangeGuid})
		must(t, err)
		m2, err := x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.MailUser, Alias: "m2", PrimarySmtp: "m2@fabrikam.example", ExternalEmail: "m2@contoso.com"})
		must(t, err)
		_, err = x.UpdateRecipient(ctx, f.ID, m2.ID, directory.RecipientUpdate{ExchangeGuid: &src.ExchangeGuid})
		wantCode(t, err, "GuidInUse")
		_, err = x.UpdateRecipient(ctx, f.ID, m2.ID, directory.RecipientUpdate{AddAddresses: []string{"X500:" + src.LegacyExchangeDN}})
		wantCode(t, err, "ProxyAddressExists")
		_, err = x.UpdateRecipient(ctx, f.ID, m2.ID, directory.RecipientUpdate{AddAddresses: []string{"smtp:m2@contoso.com"}})
		wantCode(t, err, "NotAcceptedDomain")
		if got, _ := x.GetRecipient(ctx, f.ID, m2.ID); got.ExchangeGuid != "" || len(got.Proxies) != 1 {
			t.Fatalf("refused updates changed m2: %+v", got)
		}
	})
}

func TestAddressRules(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		_, err := x.AcceptDomain(ctx, c.ID, "contoso.com", directory.VerifiedByOperator)
		must(t, err)
		a := mustMailbox(t, x, c.ID, "alice", func(s *directory.RecipientSpec) {
			s.PrimarySmtp = "alice@contoso.com"
			// An SMTP: in the additions does not override the given primary.
			s.AddAddresses = []string{"SMTP:alice.smith@contoso.com", "smtp:alice@contoso.tenantferry.test"}
		})
		want := []string{"SMTP:alice@contoso.com", "smtp:alice.smith@contoso.com", "smtp:alice@contoso.tenantferry.test"}
		if a.PrimarySmtpAddress != "alice@contoso.com" || !equalStrings(a.EmailAddresses(), want) {
			t.Fatalf("alice %q %v", a.PrimarySmtpAddress, a.EmailAddresses())
		}
		// Unique on the whole server, case-insensitively, for every kind.
		for _, spec := range []directory.RecipientSpec{
			{Type: directory.UserMailbox, Alias: "bob", Password: "x", PrimarySmtp: "ALICE@contoso.com"},
			{Type: directory.UserMailbox, Alias: "bob", Password: "x", AddAddresses: []string{"Alice.Smith@contoso.com"}},
			{Type: directory.MailUser, Alias: "bob", PrimarySmtp: "bob@contoso.com", ExternalEmail: "b@x.example", AddAddresses: []string{"smtp:alice@CONTOSO.tenantferry.test"}},
			{Type: directory.SecurityGroup, Alias: "bob", PrimarySmtp: "alice.smith@contoso.com"},
		} {
			_, err := x.CreateRecipient(ctx, c.ID, spec)
			wantCode(t, err, "ProxyAddressExists")
		}
		// Only accepted domains of the tenant itself.
		for _, addr := range []string{"bob@fabrikam.tenantferry.test", "bob@example.org", "bob@sub.contoso.com"} {
			_, err := x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "bob", Password: "x", AddAddresses: []string{addr}})
			wantCode(t, err, "NotAcceptedDomain")
		}
		_, err = x.CreateRecipient(ctx, f.ID, directory.RecipientSpec{Type: directory.UserMailbox, Alias: "alice", Password: "x", PrimarySmtp: "alice2@contoso.com"})
		wantCode(t, err, "NotAcceptedDomain")
		// Moving an address from one recipient to another: remove, then add.
		b := mustMailbox(t, x, c.ID, "bob")
		_, err = x.UpdateRecipient(ctx, c.ID, b.ID, directory.RecipientUpdate{AddAddresses: []string{"alice.smith@contoso.com"}})
		wantCode(t, err, "ProxyAddressExists")
		_, err = x.UpdateRecipient(ctx, c.ID, a.ID, directory.RecipientUpdate{RemoveAddresses: []string{"smtp:Alice.Smith@contoso.com"}})
		must(t, err)
		b, err = x.UpdateRecipient(ctx, c.ID, b.ID, directory.RecipientUpdate{AddAddresses: []string{"alice.smith@contoso.com"}})
		must(t, err)
		if r, _ := x.ResolveAddress(ctx, "Alice.Smith@Contoso.com"); r == nil || r.ID != b.ID {
			t.Fatalf("moved address resolves to %v", r)
		}
		// A secondary address added later in a newly accepted domain.
		_, err = x.AcceptDomain(ctx, c.ID, "contoso.org", directory.VerifiedByOperator)
		must(t, err)
		b, err = x.UpdateRecipient(ctx, c.ID, b.ID, directory.RecipientUpdate{AddAddresses: []string{"smtp:bob@contoso.org"}})
		must(t, err)
		if b.PrimarySmtpAddress != "bob@contoso.tenantferry.test" || len(b.SMTPAddresses()) != 3 {
			t.Fatalf("bob %q %v", b.PrimarySmtpAddress, b.EmailAddresses())
		}
		if r, err := x.ResolveAddress(ctx, "nobody@contoso.com"); err != nil || r != nil {
			t.Fatalf("unknown address resolves: %v %v", r, err)
		}
	})
}

func TestGroups(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		x := newDir(t, d)
		c := mustTenant(t, x, "contoso")
		f := mustTenant(t, x, "fabrikam")
		for in, want := range map[string]directory.RecipientType{"security": directory.SecurityGroup, "Security": directory.SecurityGroup,
			"distribution": directory.DistributionGroup, "MailUniversalDistributionGroup": directory.DistributionGroup} {
			got, err := directory.GroupTypeOf(in)
			if err != nil || got != want {
				t.Fatalf("GroupTypeOf(%q) = %v %v", in, got, err)
			}
		}
		_, err := directory.GroupTypeOf("dynamic")
		wantCode(t, err, "InvalidGroupType")
		// Nobody logs in as a group.
		_, err = x.CreateRecipient(ctx, c.ID, directory.RecipientSpec{Type: directory.SecurityGroup, Alias: "pw", Password: "secret"})
		wantCode(t, err, "InvalidForRecipientType")

		group := func(tenantID, alias string, typ directory.RecipientType) *directory.Recipient {
			t.Helper()
			g, err := x.CreateRecipient(ctx, tenantID, directory.RecipientSpec{Type: typ, Alias: alias})
			must(t, err)
			return g
		}
		scope := group(c.ID, "MigrationScope", directory.SecurityGroup)
		if scope.Type != directory.SecurityGroup || scope.PrimarySmtpAddress != "MigrationScope@contoso.tenantferry.test" {
			t.Fatalf("group %+v", scope)
		}
		wave := group(c.ID, "wave1", directory.SecurityGroup)
		sub := group(c.ID, "wave1-sub", directory.DistributionGroup)
		u1 := mustMailbox(t, x, c.ID, "user01")
		u2 := mustMailbox(t, x, c.ID, "user02")
		u3 := mustMailbox(t, x, c.ID, "user03")
		must(t, x.AddMember(ctx, c.ID, "MigrationScope", "user01"))
		must(t, x.AddMember(ctx, c.ID, scope.ID, wave.PrimarySmtpAddress))
		must(t, x.AddMember(ctx, c.ID, "wave1", "user02"))
		must(t, x.AddMember(ctx, c.ID, "wave1", "wave1-sub"))
		must(t, x.AddMember(ctx, c.ID, "wave1-sub", "user03"))
		must(t, x.AddMember(ctx, c.ID, "wave1-sub", "user01")) // reachable twice

		ms, err := x.Members(ctx, c.ID, scope.ID)
		must(t, err)
		if len(ms) != 2 {
			t.Fatalf("direct members %d", len(ms))
		}
		exp, err := x.ExpandGroup(ctx, c.ID, scope.ID)
		must(t, err)
		ids := map[string]bool{}
		for _, m := range exp {
			ids[m.ID] = true
		}
		if len(exp) != 3 || !ids[u1.ID] || !ids[u2.ID] || !ids[u3.ID] {
			t.Fatalf("ExpandGroup = %d members", len(exp))
		}
		for _, m := range []*directory.Recipient{u1, u2, u3, wave, sub} {
			if in, err := x.IsMember(ctx, nil, scope.ID, m.ID); err != nil || !in {
				t.Fatalf("IsMember(scope, %s) = %v %v", m.Alias, in, err)
			}
		}
		if in, _ := x.IsMember(ctx, nil, sub.ID, u2.ID); in {
			t.Fatal("user02 is not in wave1-sub")
		}

		// Cycles are refused, at any depth.
		wantCode(t, x.AddMember(ctx, c.ID, "wave1", "MigrationScope"), "GroupCycle")
		wantCode(t, x.AddMember(ctx, c.ID, "wave1-sub", "MigrationScope"), "GroupCycle")
		wantCode(t, x.AddMember(ctx, c.ID, "wave1", "wave1"), "GroupCycle")
		wantCode(t, x.AddMember(ctx, c.ID, "MigrationScope", "user01"), "AlreadyMember")
		wantCode(t, x.AddMember(ctx, c.ID, "user02", "user01"), "RecipientNotFound")
		wantCode(t, x.AddMember(ctx, c.ID, "MigrationScope", "nobody"), "RecipientNotFound")
		// Members and groups of another tenant are invisible.
		fu := mustMailbox(t, x, f.ID, "user09")
		fg := group(f.ID, "fgroup", directory.SecurityGroup)
		wantCode(t, x.AddMember(ctx, c.ID, "MigrationScope", fu.ID), "RecipientNotFound")
		wantCode(t, x.AddMember(ctx, c.ID, fg.ID, "user01"), "RecipientNotFound")
		wantCode(t, x.AddMember(ctx, f.ID, fg.ID, u1.ID), "RecipientNotFound")
		wantCode(t, x.RemoveMember(ctx, f.ID, scope.ID, u1.ID), "RecipientNotFound")
		if ms, _ := x.Members(ctx, f.ID, scope.ID); len(ms) != 0 {
			t.Fatalf("fabrikam sees %d members of a contoso group", len(ms))
		}

		wantCode(t, x.RemoveMember(ctx, c.ID, "MigrationScope", "user02"), "NotAMember")
		pw := "secret"
		_, err = x.UpdateRecipient(ctx, c.ID, "MigrationScope", directory.RecipientUpdate{Password: &pw})
		wantCode(t, err, "InvalidForRecipientType")
		if g, _ := x.GetRecipient(ctx, c.ID, "MigrationScope"); g.HasPassword {
			t.Fatal("group got a password")
		}
		must(t, x.RemoveMember(ctx, c.ID, "wave1-sub", "user01"))
		// Deleting a member removes its memberships.
		_, err = x.DeleteRecipient(ctx, c.ID, "user03")
		must(t, err)
		exp, _ = x.ExpandGroup(ctx, c.ID, scope.ID)
		if len(exp) != 2 {
			t.Fatalf("after delete: %d members", len(exp))
		}
		if n := column[int](t, d, `SELECT COUNT(*) FROM group_members WHERE member_id = ?`, u3.ID); n != 0 {
			t.Fatalf("%d memberships of a deleted recipient", n)
		}
	})
}
