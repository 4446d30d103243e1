package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// uiCreateTenant creates tenant name on the operator's Tenants page and
// returns its admin token, read from the once-shown notice.
func (b *browser) uiCreateTenant(ui, name string) string {
	b.t.Helper()
	b.do("create tenant "+name, 30*time.Second,
		chromedp.Navigate(ui+"#/tenants"),
		chromedp.WaitVisible(chromedp.CSS("#new-tenant-name")),
		chromedp.SendKeys(chromedp.CSS("#new-tenant-name"), name),
		chromedp.Click(chromedp.CSS("#create-tenant")),
		chromedp.WaitVisible(chromedp.CSS(`#tenants tr[data-tenant="`+name+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tenant-created .secret")))
	return b.text("#tenant-created .secret")
}

// uiTenantID reads the signed-in tenant's Id from its overview page: what
// an admin tells the other tenant's admin for its organization
// relationship.
func (b *browser) uiTenantID(ui, tenant string) string {
	b.t.Helper()
	b.do("open the overview of "+tenant, 30*time.Second,
		chromedp.Navigate(ui+"#/t/"+tenant),
		chromedp.WaitVisible(chromedp.CSS(`#tenant-props dd[data-field="Id"]`)))
	return b.text(`#tenant-props dd[data-field="Id"]`)
}

// TestWholeScenarioInChromium performs docs/architecture.md §1's fourteen
// steps through the web admin alone, on two servers: the operators create
// the two empty tenants, then the source admin (contoso, server A) and the
// target admin (fabrikam, server B) each sign in with the token their
// operator handed them and do their steps in the pages, from the migration
// app to the removed batch. Only the users' mail is put in place by the
// test (as the users' clients would), and the last step sends a message
// over SMTP to an old address. Every step's result is checked in the
// servers' state, the moved mailboxes byte for byte, and a screenshot of
// each step is saved in the artifacts directory
// (TENANTFERRY_TEST_ARTIFACTS).
func TestWholeScenarioInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	smtpA, smtpB := scenario.FreeAddr(t), scenario.FreeAddr(t)
	a := scenario.Start(t, scenario.Options{SMTP: smtpA, Transports: map[string]string{"fabrikam.tenantferry.test": smtpB}})
	bsrv := scenario.Start(t, scenario.Options{SMTP: smtpB, Transports: map[string]string{"contoso.tenantferry.test": smtpA}})
	uiA, uiB := a.PublicURL+"/ui/", bsrv.PublicURL+"/ui/"
	b := newBrowser(t)
	n := 0
	shot := func(name string) {
		n++
		b.shot(dir, fmt.Sprintf("%02d-%s", n, name))
	}

	// Setup: each operator creates its tenant; the admins sign in with
	// the tokens shown once.
	b.uiSignIn(uiA, operatorToken(t, a))
	contosoToken := b.uiCreateTenant(uiA, "contoso")
	shot("source-operator-creates-contoso")
	b.uiSignIn(uiB, operatorToken(t, bsrv))
	fabrikamToken := b.uiCreateTenant(uiB, "fabrikam")
	shot("target-operator-creates-fabrikam")

	b.uiSignIn(uiA, contosoToken)
	if got := b.text("#whoami"); !strings.Contains(got, "contoso") {
		t.Fatalf("signed in at A as %q", got)
	}
	contosoID := b.uiTenantID(uiA, "contoso")
	srcUsers := []string{"user01", "user02"}
	srcAddr := map[string]string{}
	for _, u := range srcUsers {
		srcAddr[u] = b.uiCreateMailbox(uiA, "contoso", u, "pw-"+u+"-Source1")
	}
	shot("source-admin-creates-mailboxes")
	// The users' mail: user01 gets the corpus (byte-exact oddities),
	// user02 generated business mail in a folder tree.
	guid := map[string]string{}
	for _, u := range srcUsers {
		r, err := a.Dir.GetRecipient(ctx, a.Tenant("contoso").ID, u)
		if err != nil {
			t.Fatal(err)
		}
		guid[u] = r.ExchangeGuid
	}
	scenario.Fill(t, a.Store, a.Content("contoso", guid["user01"]).ID, scenario.CorpusItems(t))
	scenario.Fill(t, a.Store, a.Content("contoso", guid["user02"]).ID,
		scenario.Generated(mailgen.Options{Seed: 21, Count: 120, Owner: srcAddr["user02"], Median: 4096, AttachKB: 40}))

	// Step 1 (target admin): the migration app and its secret.
	b.uiSignIn(uiB, fabrikamToken)
	fabrikamID := b.uiTenantID(uiB, "fabrikam")
	appID, secret := b.uiCreateApp(uiB, "fabrikam", "Contoso migration")
	shot("step01-target-app-and-secret")
	if appID == "" || secret == "" {
		t.Fatalf("app %q secret %q", appID, secret)
	}
	// Step 2 (source admin): the consent URL the target admin built,
	// accepted on the source server.
	consentURL := b.uiConsentURL(uiB, "fabrikam", appID, a.PublicURL, "contoso.tenantferry.test")
	shot("step02a-target-consent-url")
	b.uiSignIn(uiA, contosoToken)
	b.uiAcceptConsent(consentURL)
	shot("step02b-source-consent-granted")

	// Step 3 (target admin): the migration endpoint.
	b.uiSignIn(uiB, fabrikamToken)
	const endpoint = "contoso-ep"
	b.uiCreateEndpoint(uiB, "fabrikam", apitypes.EndpointCreate{Name: endpoint, RemoteServer: a.PublicURL,
		RemoteTenant: "contoso.tenantferry.test", ApplicationId: appID, Secret: secret, MaxConcurrentMigrations: 20, MaxConcurrentIncrementalSyncs: 20})
	shot("step03-target-endpoint")
	// Step 4 (target admin): Inbound organization relationship.
	yes := true
	b.uiCreateOrgRel(uiB, "fabrikam", apitypes.OrgRel{Name: "contoso", DomainNames: []string{contosoID}, MailboxMoveEnabled: &yes,
		MailboxMoveCapability: []string{"Inbound"}})
	shot("step04-target-orgrel-inbound")

	// Steps 5–7 (source admin): scope group, RemoteOutbound, identity.
	b.uiSignIn(uiA, contosoToken)
	const scope = "MigrationScope"
	b.uiCreateGroup(uiA, "contoso", scope)
	b.uiAddGroupMembers(uiA, "contoso", scope, srcAddr["user01"], srcAddr["user02"])
	shot("step05-source-scope-group")
	b.uiCreateOrgRel(uiA, "contoso", apitypes.OrgRel{Name: "fabrikam", DomainNames: []string{fabrikamID}, MailboxMoveEnabled: &yes,
		MailboxMoveCapability: []string{"RemoteOutbound"}, OAuthApplicationId: &appID, MailboxMovePublishedScopes: []string{scope}})
	shot("step06-source-orgrel-remoteoutbound")
	if g := b.uiMailboxIdentity(uiA, "contoso", srcAddr["user01"]); g != guid["user01"] {
		t.Fatalf("step 7: the page shows ExchangeGuid %q, the directory has %q", g, guid["user01"])
	}
	shot("step07-source-mailbox-identity")

	// Step 8 (target admin): MailUsers stamped for the move.
	b.uiSignIn(uiB, fabrikamToken)
	var targets []string
	for _, u := range srcUsers {
		targets = append(targets, u+"@fabrikam.tenantferry.test")
	}
	csv := "EmailAddress\n" + strings.Join(targets, "\n") + "\n"
	if rows := b.uiPrepareMailUsers(uiB, "fabrikam", endpoint, csv, "fabrikam.tenantferry.test"); rows != len(targets) {
		t.Fatalf("step 8: %d rows applied, want %d", rows, len(targets))
	}
	shot("step08-target-mailusers-prepared")
	fab := bsrv.Tenant("fabrikam")
	for _, u := range srcUsers {
		r, err := bsrv.Dir.GetRecipient(ctx, fab.ID, u+"@fabrikam.tenantferry.test")
		if err != nil {
			t.Fatalf("step 8: %v", err)
		}
		if r.Type != directory.MailUser || r.ExchangeGuid != guid[u] {
			t.Fatalf("step 8: %s is %s with ExchangeGuid %s, want a MailUser with %s", u, r.Type, r.ExchangeGuid, guid[u])
		}
	}
	// Step 9: the endpoint test for one mailbox.
	if res := b.uiTestEndpoint(uiB, "fabrikam", endpoint, targets[0]); res != "Success" {
		t.Fatalf("step 9: endpoint test %s", res)
	}
	shot("step09-target-endpoint-test")

	// Steps 10–11: the batch from the wizard, watched until Synced.
	const batch = "wave1"
	b.uiCreateBatch(uiB, "fabrikam", batchWizard{Name: batch, Endpoint: endpoint, TargetDeliveryDomain: "fabrikam.tenantferry.test",
		CSV: csv, NotificationEmails: "admin@fabrikam.tenantferry.test", AutoStart: true})
	shot("step10-target-batch-created")
	b.uiWaitBatch(uiB, "fabrikam", batch, "Synced", 3*time.Minute)
	shot("step11-target-batch-synced")

	// Step 12: complete (typed confirmation), then every user Perfect.
	b.uiCompleteBatch(uiB, "fabrikam", batch)
	b.uiWaitBatch(uiB, "fabrikam", batch, "Completed", 3*time.Minute)
	shot("step12-target-batch-completed")
	us, err := bsrv.Admin.BatchUsers(ctx, bsrv.Op, "fabrikam", batch)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.DataConsistencyScore != migration.ScorePerfect || u.Status != migration.StateCompleted {
			t.Fatalf("step 12: %s %s %s", u.EmailAddress, u.Status, u.DataConsistencyScore)
		}
	}
	for _, u := range srcUsers {
		want := scenario.Take(t, a.Store, a.Content("contoso", guid[u]).ID)
		got := scenario.Take(t, bsrv.Store, bsrv.Content("fabrikam", guid[u]).ID)
		if d := scenario.Diff(want, got); d != "" {
			t.Fatalf("step 12: %s differs:\n%s", u, d)
		}
		s, err := a.Dir.GetRecipient(ctx, a.Tenant("contoso").ID, u)
		if err != nil {
			t.Fatal(err)
		}
		if s.Type != directory.MailUser || s.ExternalEmailAddress != u+"@fabrikam.tenantferry.test" {
			t.Fatalf("step 12: source %s is %s → %q", u, s.Type, s.ExternalEmailAddress)
		}
	}

	// Step 13: remove the batch.
	b.uiRemoveBatch(uiB, "fabrikam", batch)
	shot("step13-target-batch-removed")

	// Step 14: mail to the old address reaches the target mailbox.
	if err := scenario.Send(smtpA, "late@partner.example", []string{srcAddr["user02"]},
		scenario.Message("late@partner.example", srcAddr["user02"], "after-cutover via the web", "hello")); err != nil {
		t.Fatal(err)
	}
	mb := bsrv.Content("fabrikam", guid["user02"]).ID
	scenario.Eventually(t, time.Minute, "step 14: the forwarded message in the target mailbox", func() error {
		inbox, err := bsrv.Store.FolderBySpecialUse(ctx, mb, mailstore.UseInbox)
		if err != nil {
			return err
		}
		st, err := bsrv.Store.Select(ctx, mb, inbox.ID)
		if err != nil {
			return err
		}
		for _, m := range st.Messages {
			if it, _ := bsrv.Store.Fetch(ctx, mb, inbox.ID, mailstore.UIDs(m.UID)); len(it) == 1 && it[0].Subject == "after-cutover via the web" {
				return nil
			}
		}
		return fmt.Errorf("not in the inbox yet")
	})
	b.uiMailboxIdentity(uiB, "fabrikam", targets[1])
	shot("step14-target-mailbox-after-forward")
	b.checkConsole()
}
