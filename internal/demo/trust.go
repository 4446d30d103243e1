package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// step3Endpoint creates the migration endpoint in the target.
func (d *run) step3Endpoint(ctx context.Context) error {
	s, t := d.src, d.tgt
	d.p.step(3, "Target admin creates the migration endpoint pointing at the source",
		"New-MigrationEndpoint -Name contoso-ep -ExchangeRemoteMove -RemoteServer outlook.office.com -RemoteTenant contoso.onmicrosoft.com -ApplicationId APPID -AppSecretKeyVaultUrl URL")
	d.p.cmd("tenantferry --server $TGT endpoint create --tenant fabrikam --name %s --remote-server $SRC --remote-tenant %s --app-id %s --secret-file %s",
		d.endpoint, s.domain, d.appID, quote(d.secretFile))
	ep, err := t.Admin.CreateEndpoint(ctx, t.admin, t.tenant, directory.EndpointSpec{Name: d.endpoint, RemoteServer: s.PublicURL,
		RemoteTenant: s.domain, ApplicationId: d.appID, Secret: d.secret})
	if err != nil {
		return err
	}
	d.p.result("%s: %s  RemoteServer %s  RemoteTenant %s  MaxConcurrentMigrations %d  MaxConcurrentIncrementalSyncs %d (secret encrypted at rest)",
		ep.Name, ep.Type, ep.RemoteServer, ep.RemoteTenant, ep.MaxConcurrentMigrations, ep.MaxConcurrentIncrementalSyncs)
	return nil
}

// step4TargetOrgRel creates the target's Inbound organization relationship.
func (d *run) step4TargetOrgRel(ctx context.Context) error {
	s, t := d.src, d.tgt
	d.p.step(4, "Target admin creates the organization relationship (Inbound, keyed by the source tenant ID)",
		"New-OrganizationRelationship -Name contoso -DomainNames SOURCE_TENANT_ID -MailboxMoveEnabled $true -MailboxMoveCapability Inbound")
	d.p.cmd("tenantferry --server $TGT orgrel create --tenant fabrikam --name contoso --domain-names %s --mailbox-move-enabled --mailbox-move-capability Inbound", s.tenantID)
	yes := true
	o, err := t.Admin.CreateOrgRel(ctx, t.admin, t.tenant, directory.OrgRelSpec{Name: s.tenant, DomainNames: []string{s.tenantID},
		MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{directory.CapInbound}})
	if err != nil {
		return err
	}
	d.p.result("%s: DomainNames %s  Enabled %v  MailboxMoveEnabled %v  MailboxMoveCapability %s",
		o.Name, strings.Join(o.DomainNames, ","), o.Enabled, o.MailboxMoveEnabled, strings.Join(o.MailboxMoveCapability, ","))
	return nil
}

// step5Scope creates the published scope group in the source and adds the
// users allowed to move.
func (d *run) step5Scope(ctx context.Context) error {
	s := d.src
	d.p.step(5, "Source admin creates a mail-enabled security group and adds the mailboxes allowed to move",
		"New-DistributionGroup -Type Security -Name MigrationScope; Add-DistributionGroupMember -Identity MigrationScope -Member ALIAS")
	d.p.cmd("tenantferry --server $SRC group create --tenant contoso --name %s --type security", d.scope)
	g, err := s.Admin.CreateRecipient(ctx, s.admin, s.tenant, directory.RecipientSpec{Type: directory.SecurityGroup, Name: d.scope, Alias: d.scope})
	if err != nil {
		return err
	}
	var members []string
	for _, u := range d.users {
		if !u.moved {
			continue
		}
		d.p.cmd("tenantferry --server $SRC group add-member --tenant contoso %s %s", d.scope, u.alias)
		if _, err := s.Admin.AddMember(ctx, s.admin, s.tenant, d.scope, u.alias); err != nil {
			return err
		}
		members = append(members, u.alias)
	}
	d.p.result("%s (%s, %s): members %s; %s stays out of scope, so it cannot be moved",
		g.Name, g.Type, g.PrimarySmtpAddress, strings.Join(members, ", "), d.users[len(d.users)-1].alias)
	return nil
}

// step6SourceOrgRel creates the source's RemoteOutbound relationship.
func (d *run) step6SourceOrgRel(ctx context.Context) error {
	s, t := d.src, d.tgt
	d.p.step(6, "Source admin creates its organization relationship (RemoteOutbound, the app, the published scope)",
		"New-OrganizationRelationship -Name fabrikam -DomainNames TARGET_TENANT_ID -MailboxMoveEnabled $true -MailboxMoveCapability RemoteOutbound -OAuthApplicationId APPID -MailboxMovePublishedScopes MigrationScope")
	d.p.cmd("tenantferry --server $SRC orgrel create --tenant contoso --name fabrikam --domain-names %s --mailbox-move-enabled --mailbox-move-capability RemoteOutbound --oauth-app-id %s --published-scopes %s",
		t.tenantID, d.appID, d.scope)
	yes, app := true, d.appID
	o, err := s.Admin.CreateOrgRel(ctx, s.admin, s.tenant, directory.OrgRelSpec{Name: t.tenant, DomainNames: []string{t.tenantID},
		MailboxMoveEnabled: &yes, MailboxMoveCapability: []string{directory.CapRemoteOutbound}, OAuthApplicationId: &app,
		MailboxMovePublishedScopes: []string{d.scope}})
	if err != nil {
		return err
	}
	d.p.result("%s: DomainNames %s  MailboxMoveCapability %s  OAuthApplicationId %s  MailboxMovePublishedScopes %s",
		o.Name, strings.Join(o.DomainNames, ","), strings.Join(o.MailboxMoveCapability, ","), o.OAuthApplicationId, strings.Join(o.PublishedScopeNames, ","))
	return nil
}

// identityFields are a recipient's Get-Mailbox / Get-MailUser fields.
func identityFields(r *directory.Recipient) []string {
	kv := []string{"RecipientType", string(r.Type), "PrimarySmtpAddress", r.PrimarySmtpAddress, "Alias", r.Alias, "Name", r.Name,
		"DisplayName", r.DisplayName, "FirstName", r.FirstName, "LastName", r.LastName, "ExchangeGuid", orZero(r.ExchangeGuid),
		"ArchiveGuid", orZero(r.ArchiveGuid), "LegacyExchangeDN", r.LegacyExchangeDN}
	for i, a := range r.EmailAddresses() {
		name := ""
		if i == 0 {
			name = "EmailAddresses"
		}
		kv = append(kv, name, a)
	}
	if r.Type == directory.MailUser {
		kv = append(kv, "ExternalEmailAddress", "SMTP:"+r.ExternalEmailAddress)
	}
	return kv
}

// orZero prints an absent GUID as Exchange does.
func orZero(g string) string {
	if g == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return g
}

// step7MailboxShow reads the first user's identity on the source.
func (d *run) step7MailboxShow(ctx context.Context) error {
	s, u := d.src, d.users[0]
	d.p.step(7, "Source admin reads the mailbox identity and hands it to the target admin",
		"Get-Mailbox "+u.alias+" | Format-List PrimarySmtpAddress,Alias,Name,DisplayName,FirstName,LastName,ExchangeGuid,ArchiveGuid,LegacyExchangeDN,EmailAddresses")
	d.p.cmd("tenantferry --server $SRC mailbox show --tenant contoso %s", u.alias)
	r, err := s.Admin.GetRecipient(ctx, s.admin, s.tenant, u.alias, directory.UserMailbox)
	if err != nil {
		return err
	}
	d.p.result("%s on contoso:", r.PrimarySmtpAddress)
	d.p.fields(identityFields(r)...)
	d.p.detail("(step 8 reads these for every CSV user through the endpoint; no copying by hand)")
	return nil
}

// step8Prepare stamps the target MailUsers from the source identities.
func (d *run) step8Prepare(ctx context.Context) error {
	t := d.tgt
	d.p.step(8, "Target admin creates MailUsers stamped for the move (same ExchangeGuid/ArchiveGuid, X500 proxies, delivery-domain address)",
		"New-MailUser …; Set-MailUser -ExchangeGuid G -ArchiveGuid A -EmailAddresses @{Add=\"X500:<source LegacyExchangeDN>\",…} per user")
	var b strings.Builder
	b.WriteString("EmailAddress\n")
	for _, u := range d.users {
		if u.moved {
			fmt.Fprintf(&b, "%s@%s\n", u.alias, t.domain)
		}
	}
	d.csv = []byte(b.String())
	var err error
	if d.csvFile, err = d.dd.writeFile("users.csv", d.csv); err != nil {
		return err
	}
	d.p.cmd("tenantferry --server $TGT mailuser prepare --tenant fabrikam --endpoint %s --csv %s --target-delivery-domain %s", d.endpoint, quote(d.csvFile), t.domain)
	rows, err := t.Admin.PrepareMailUsers(ctx, t.admin, t.tenant, d.endpoint, d.csv, t.domain, false)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.Error != nil {
			return errs.New(errs.Invalid, r.Error.Code, "mailuser prepare, CSV line %d (%s): %s", r.Line, r.EmailAddress, r.Error.Message)
		}
		d.p.result("CSV line %d  %-34s %s from %s: %s", r.Line, r.EmailAddress, r.Action, r.SourceEmailAddress, changeNames(r.Changes))
	}
	u := d.users[0]
	d.p.cmd("tenantferry --server $TGT mailuser show --tenant fabrikam %s", u.alias)
	mu, err := t.Admin.GetRecipient(ctx, t.admin, t.tenant, u.alias, directory.MailUser)
	if err != nil {
		return err
	}
	d.p.result("%s on fabrikam:", mu.PrimarySmtpAddress)
	d.p.fields(identityFields(mu)...)
	if mu.ExchangeGuid != u.src.ExchangeGuid || mu.ArchiveGuid != u.src.ArchiveGuid {
		return errs.New(errs.Internal, "ExchangeGuidMismatch", "the stamped MailUser %s has ExchangeGuid %s, the source mailbox %s",
			mu.PrimarySmtpAddress, mu.ExchangeGuid, u.src.ExchangeGuid)
	}
	d.p.detail("(ExchangeGuid and ArchiveGuid are the source's; the source LegacyExchangeDN is an X500 proxy)")
	return nil
}

// changeNames shortens prepare's change list to the attribute names
// ("ExchangeGuid 0f1e…" → "ExchangeGuid").
func changeNames(changes []string) string {
	var out []string
	for _, c := range changes {
		name, _, _ := strings.Cut(c, " ")
		if strings.HasPrefix(name, "X500:") {
			name = "X500"
		}
		if name != "create" {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return "nothing to change"
	}
	return strings.Join(out, ", ")
}

// step9Test runs the endpoint checks for the first user.
func (d *run) step9Test(ctx context.Context) error {
	t := d.tgt
	addr := d.users[0].alias + "@" + t.domain
	d.p.step(9, "Target admin tests the endpoint for one mailbox (every validation rule, one line per check)",
		"Test-MigrationServerAvailability -Endpoint contoso-ep -TestMailbox "+addr)
	d.p.cmd("tenantferry --server $TGT endpoint test --tenant fabrikam %s --test-mailbox %s", d.endpoint, addr)
	res, err := t.Admin.TestEndpoint(ctx, t.admin, t.tenant, d.endpoint, addr, t.domain)
	if err != nil {
		return err
	}
	w := 0
	for _, c := range res.Checks {
		w = max(w, len(c.Name))
	}
	for _, c := range res.Checks {
		code := ""
		if c.Code != "" {
			code = c.Code + ": "
		}
		d.p.detail("%-7s %-*s  %s%s", c.Result, w, c.Name, code, c.Message)
	}
	d.p.result("Result %s: %s", res.Result, res.Message)
	if res.Result != "Success" {
		return errs.New(errs.Invalid, "EndpointTestFailed", "endpoint %s failed its test for %s: %s", d.endpoint, addr, res.Message)
	}
	return nil
}

// step10Batch creates and auto-starts the migration batch.
func (d *run) step10Batch(ctx context.Context) error {
	t := d.tgt
	d.p.step(10, "Target admin creates the migration batch from the CSV and starts it",
		"New-MigrationBatch -Name wave1 -SourceEndpoint contoso-ep -CSVData ([IO.File]::ReadAllBytes('users.csv')) -TargetDeliveryDomain fabrikam.onmicrosoft.com -AutoStart")
	d.p.cmd("tenantferry --server $TGT batch create --tenant fabrikam --name %s --endpoint %s --csv %s --target-delivery-domain %s --auto-start",
		d.batch, d.endpoint, quote(d.csvFile), t.domain)
	d.initialStart = time.Now()
	b, err := t.Admin.CreateBatch(ctx, t.admin, t.tenant, migration.BatchSpec{Name: d.batch, Endpoint: d.endpoint, CSV: d.csv,
		TargetDeliveryDomain: t.domain, AutoStart: true})
	if err != nil {
		return err
	}
	d.p.result("%s: Status %s  TotalCount %d  TargetDeliveryDomain %s  IncrementalSyncInterval %s",
		b.Name, b.Status, b.TotalCount, b.TargetDeliveryDomain, b.IncrementalSyncInterval)
	return nil
}
