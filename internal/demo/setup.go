package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/units"
)

// setupServers starts the source and the target server.
func (d *run) setupServers(ctx context.Context) error {
	d.p.line("tenantferry demo: a cross-tenant mailbox move between two servers, step by step (docs/architecture.md §1).")
	d.p.line("Each step shows what it is in Exchange Online, the tenantferry command that does it, and the result.")
	d.p.line("Data: %s   (server log: %s)", d.dd.path, d.dd.sub(LogFile))
	d.p.setup("Start two tenantferry servers on this machine (embedded SQLite and blob files, loopback listeners)",
		"two Microsoft 365 organizations, each in its own Exchange Online environment")
	src, tgt, err := startPair(ctx, d.dd, d.log, "contoso", "fabrikam")
	if err != nil {
		return err
	}
	d.src, d.tgt = src, tgt
	for _, n := range []*node{src, tgt} {
		d.res.Servers = append(d.res.Servers, ServerInfo{Role: n.role, Tenant: n.tenant, DataDir: n.dir, HTTP: n.PublicURL,
			IMAP: n.Addr("imap"), SMTP: n.Addr("smtp"), Submission: n.Addr("submission")})
	}
	d.p.cmd("tenantferry serve --data %s --http 127.0.0.1:0 --transport %s=%s …", quote(src.dir), tgt.domain, tgt.Addr("smtp"))
	d.p.cmd("tenantferry serve --data %s --http 127.0.0.1:0 --transport %s=%s …", quote(tgt.dir), src.domain, src.Addr("smtp"))
	d.p.result("source server (contoso):  %s", src.describe())
	d.p.result("target server (fabrikam): %s", tgt.describe())
	d.p.detail("Each routes the other's domain to the other's SMTP listener, as MX records would.")
	d.p.detail("The command lines below use SRC=%s and TGT=%s; add --token with that server's", src.PublicURL, tgt.PublicURL)
	d.p.detail("operator token (%s, %s) or the tenant's admin token.", operatorTokenPath(src), operatorTokenPath(tgt))
	return nil
}

// setupTenants creates contoso on the source and fabrikam on the target;
// each tenant's admin token then performs that tenant's steps.
func (d *run) setupTenants(ctx context.Context) error {
	d.p.setup("Create the tenants", "the organizations contoso.onmicrosoft.com and fabrikam.onmicrosoft.com")
	for _, n := range []*node{d.src, d.tgt} {
		d.p.cmd("tenantferry --server $%s tenant create %s", map[string]string{"source": "SRC", "target": "TGT"}[n.role], n.tenant)
		tc, err := n.Admin.CreateTenant(ctx, n.op, n.tenant)
		if err != nil {
			return err
		}
		if tc.InitialDomain != n.domain {
			return errs.New(errs.Internal, "DemoDomainMismatch", "tenant %s got the initial domain %s, but the %s server's transport names %s",
				n.tenant, tc.InitialDomain, n.role, n.domain)
		}
		n.adminToken = tc.AdminToken
		if n.admin, err = n.Admin.Authenticate(ctx, tc.AdminToken); err != nil {
			return err
		}
		n.tenantID = tc.ID
		d.p.result("%-8s Id %s  InitialDomain %s  (on the %s server)", tc.Name, tc.ID, tc.InitialDomain, n.role)
	}
	return nil
}

// setupMailboxes creates the source mailboxes and fills them with generated
// mail: the moved users (the first with an archive) and one user who stays.
func (d *run) setupMailboxes(ctx context.Context) error {
	d.p.setup(fmt.Sprintf("Create %d source mailboxes and fill them with generated mail (folder trees, threads, flags, attachments), calendars, tasks and contacts", d.o.Users+1),
		"New-Mailbox / user licences in contoso; mail accumulated over the years")
	for i := 0; i < d.o.Users; i++ {
		p := personAt(i)
		d.users = append(d.users, &user{person: p, alias: p.alias(), moved: true, archive: i == 0})
	}
	d.users = append(d.users, &user{person: stayer, alias: stayer.alias()})
	start := time.Now()
	var items, size int64
	for i, u := range d.users {
		arch := ""
		if u.archive {
			arch = " --archive"
		}
		d.p.cmd("tenantferry --server $SRC mailbox create --tenant contoso --alias %s --first-name %s --last-name %s --password %s%s",
			u.alias, u.first, u.last, SourcePassword, arch)
		if err := d.generate(ctx, u, int64(i+1)); err != nil {
			return fmt.Errorf("mailbox %s: %w", u.alias, err)
		}
		items += u.items
		size += u.bytes
		note := ""
		switch {
		case u.archive:
			note = fmt.Sprintf(", with an archive of %s items", count(int64(max(1, d.o.Items/5))))
		case !u.moved:
			note = " (stays on the source)"
		}
		if u.moved {
			note += fmt.Sprintf("; %d events, %d tasks, %d contacts", u.events, u.tasks, u.contacts)
		}
		d.p.result("%-36s %s items in %d folders, %s%s", u.src.PrimarySmtpAddress, count(u.items), u.folders, units.Bytes(u.bytes), note)
	}
	el := time.Since(start)
	d.p.detail("%s items, %s generated and stored in %s (content from internal/mailgen; real mail loads with", count(items), units.Bytes(size), dur(el))
	d.p.detail("'tenantferry mailbox import --tenant contoso ID --mbox FILE')")
	return nil
}

// step1App registers the migration app in the target tenant with a secret.
func (d *run) step1App(ctx context.Context) error {
	t := d.tgt
	d.p.step(1, "Target admin registers the migration app with the Mailbox.Migration permission and adds a client secret",
		"app registration in Microsoft Entra ID (fabrikam) with Office 365 Exchange Online › Mailbox.Migration; Certificates & secrets › New client secret")
	d.p.cmd(`tenantferry --server $TGT app create --tenant fabrikam --name "Mailbox migration" --permission Mailbox.Migration`)
	app, err := t.Admin.CreateApp(ctx, t.admin, t.tenant, "Mailbox migration", []string{"Mailbox.Migration"})
	if err != nil {
		return err
	}
	d.appID, d.issuer = app.AppID, app.Issuer
	d.p.result("AppId %s  Issuer %s", app.AppID, app.Issuer)
	d.p.cmd("tenantferry --server $TGT app secret add --tenant fabrikam --app %s", app.AppID)
	sec, err := t.Admin.AddAppSecret(ctx, t.admin, t.tenant, app.AppID, 0)
	if err != nil {
		return err
	}
	d.secret = sec.SecretText
	if d.secretFile, err = d.dd.writeFile("app-secret.txt", []byte(sec.SecretText+"\n")); err != nil {
		return err
	}
	d.p.result("SecretText %s (shown once, stored hashed; saved to %s for the command lines)  Expires %s",
		short(sec.SecretText), d.secretFile, sec.Expires.Format("2006-01-02"))
	return nil
}

// step2Consent shows the admin-consent URL and grants consent in the source.
func (d *run) step2Consent(ctx context.Context) error {
	s, t := d.src, d.tgt
	d.p.step(2, "Source admin consents to the app (admin-consent URL)",
		"the contoso admin opens https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=APPID and accepts")
	d.p.cmd("tenantferry --server $TGT app consent-url --tenant fabrikam --app %s --source-server $SRC --source-tenant %s", d.appID, s.domain)
	u, err := t.Admin.ConsentURL(ctx, t.admin, t.tenant, d.appID, s.PublicURL, s.domain)
	if err != nil {
		return err
	}
	d.p.result("%s", u)
	d.p.detail("(the contoso admin opens it on the source server's web UI and accepts, or runs:)")
	d.p.cmd("tenantferry --server $SRC consent grant --tenant contoso --app-id %s --issuer %s", d.appID, d.issuer)
	cs, err := s.Admin.GrantConsent(ctx, s.admin, s.tenant, d.appID, d.issuer, nil)
	if err != nil {
		return err
	}
	d.p.result("service principal in contoso: AppId %s  Permissions %s  Issuer %s", cs.AppID, strings.Join(cs.Permissions, ","), cs.Issuer)
	return nil
}

// operatorTokenPath is where a demo server keeps its operator token.
func operatorTokenPath(n *node) string { return n.dir + "/" + server.OperatorTokenFile }
