package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// trustLayout lists what does not fit the viewport: a page that scrolls
// sideways, and visible buttons, inputs and selects of the view outside it
// (those inside a table frame that scrolls are the frame's business, but
// the row commands stick to its right edge).
const trustLayout = `(() => {
  const out = [];
  const w = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > w + 1) out.push('the page is ' + document.documentElement.scrollWidth + 'px wide in ' + w);
  for (const el of document.querySelectorAll('main button, main input, main select')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -0.5 || r.right > w + 0.5) out.push((el.id || el.dataset.action || el.textContent.trim()) + ' at ' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + w);
  }
  return out.join('; ');
})()`

// refusal checks the coded error shown in sel: CODE: message, with the
// form's field words (want) and no CLI flag.
func (b *browser) refusal(sel, code, want string) {
	b.t.Helper()
	b.waitFor("the error in "+sel, `!!document.querySelector(`+jsq(sel)+`)`)
	e := b.text(sel)
	if !codedError.MatchString(e) || !strings.HasPrefix(e, code+": ") || !strings.Contains(e, want) || strings.Contains(e, "--") {
		b.t.Errorf("refusal shown as %q, want %s naming %q and no CLI flag", e, code, want)
	}
}

// confirmDialog clicks sel, then Cancel (ok false) or OK in the dialog.
func (b *browser) confirmDialog(what, sel string, ok bool) {
	b.t.Helper()
	btn := "#confirm-cancel"
	if ok {
		btn = "#confirm-ok"
	}
	b.do(what, 30*time.Second,
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitVisible(chromedp.CSS(btn)),
		chromedp.Click(chromedp.CSS(btn)),
		chromedp.WaitNotPresent(chromedp.CSS("#confirm")))
}

// TestTrustPagesInChromium drives the trust pages of the web admin
// (docs/architecture.md §1 steps 1–4, 6 and 9) in headless Chromium between
// two real servers, signed in as each tenant's admin: register the
// migration app and add its client secrets (shown once, copied), delete an
// app, build the admin-consent URL and accept it on the source server,
// create, edit, rotate the secret of, test and delete endpoints, and create,
// edit and delete organization relationships on both sides. After each
// action the server's state is read through the admin core; every form is
// refused once with a coded error in the form's words; the layout is
// checked at 1400, 800 and 390 pixels.
func TestTrustPagesInChromium(t *testing.T) {
	browserTest(t)
	r := newTrustRig(t)
	start := time.Now()
	r.apps()
	r.consent()
	r.endpoints()
	r.rotate()
	r.orgRels()
	r.test()
	r.deletes()
	r.layout()
	r.b.checkConsole()
	t.Logf("browser steps took %s; screenshots in %s", time.Since(start).Round(time.Millisecond), r.dir)
}

// trustRig is the two servers of TestTrustPagesInChromium, their admins'
// sign-in, the browser, and what the steps created.
type trustRig struct {
	t                  *testing.T
	b                  *browser
	dir                string
	src, tgt           *scenario.Server
	contoso, fabrikam  *directory.Tenant
	srcToken, tgtToken string
	srcUI, tgtUI       string
	// Created by the steps.
	app            *admin.AppView
	appID, secret1 string
}

// newTrustRig starts the source server (contoso, its mailbox user01 in
// the security group MigrationScope) and the target (fabrikam), and issues
// each tenant an admin token.
func newTrustRig(t *testing.T) *trustRig {
	t.Helper()
	ctx := context.Background()
	dir := artifacts(t)
	src := scenario.Start(t, scenario.Options{})
	tgt := scenario.Start(t, scenario.Options{})
	contoso, fabrikam := src.Tenant("contoso"), tgt.Tenant("fabrikam")
	src.Mailbox("contoso", "user01", "pw-user01", false)
	if _, err := src.Admin.CreateRecipient(ctx, src.Op, "contoso", directory.RecipientSpec{Type: directory.SecurityGroup, Name: "MigrationScope", Alias: "MigrationScope"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Admin.AddMember(ctx, src.Op, "contoso", "MigrationScope", "user01"); err != nil {
		t.Fatal(err)
	}
	srcToken, _, _, err := src.Admin.IssueAdminToken(ctx, src.Op, "contoso", "web-test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	tgtToken, _, _, err := tgt.Admin.IssueAdminToken(ctx, tgt.Op, "fabrikam", "web-test", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	srcUI, tgtUI := src.PublicURL+"/ui/", tgt.PublicURL+"/ui/"
	return &trustRig{t: t, b: newBrowser(t), dir: dir, src: src, tgt: tgt, contoso: contoso, fabrikam: fabrikam,
		srcToken: srcToken, tgtToken: tgtToken, srcUI: srcUI, tgtUI: tgtUI}
}

// apps registers the migration app (refused once), adds a client secret
// shown once and copied, and deletes a spare app (step 1).
func (r *trustRig) apps() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Step 1: the app. A nameless app is refused, nothing is registered.
	b.uiSignIn(r.tgtUI, r.tgtToken)
	b.openPage(r.tgtUI, "fabrikam", "apps", "#app-create")
	b.do("register a nameless app", 30*time.Second, chromedp.Click(chromedp.CSS("#app-create")))
	b.refusal("#apps-notice .error", "MissingField", "Name")
	if as, err := r.tgt.Admin.ListApps(ctx, r.tgt.Op, "fabrikam"); err != nil || len(as) != 0 {
		t.Fatalf("apps after a refused registration: %v %+v", err, as)
	}
	appID, secret1 := b.uiCreateApp(r.tgtUI, "fabrikam", "Mailbox migration")
	app, err := r.tgt.Admin.GetApp(ctx, r.tgt.Op, "fabrikam", appID)
	if err != nil || app.Name != "Mailbox migration" || strings.Join(app.Permissions, ",") != directory.PermissionMailboxMigration ||
		len(app.Secrets) != 1 || !strings.HasPrefix(secret1, app.Secrets[0].Hint) || len(secret1) <= len(app.Secrets[0].Hint) {
		t.Fatalf("app after the page registered it: %v %+v (secret %d chars)", err, app, len(secret1))
	}
	// The consent-URL builder offers the new app first.
	if got := eval[string](b, `document.querySelector('#cu-app').value`); got != appID {
		t.Errorf("consent-URL builder preselects %q, want the new app %s", got, appID)
	}
	if got := b.text("#secret-once .warn-text"); !strings.Contains(got, "not shown again") {
		t.Errorf("secret box warning: %q", got)
	}
	// Copy: to the clipboard (which the test may read back), or (without
	// one) the text is selected.
	b.do("let the page read the clipboard", 30*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "clipboard-read"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: r.tgt.PublicURL})
		return err
	}))
	b.do("copy the secret", 30*time.Second, chromedp.Click(chromedp.CSS("#secret-text-copy")))
	b.waitFor("copied", `!!document.querySelector('#secret-text-status').dataset.copied`)
	switch how := eval[string](b, `document.querySelector('#secret-text-status').dataset.copied`); how {
	case "selected":
		if got := eval[string](b, `window.getSelection().toString()`); got != secret1 {
			t.Errorf("selected %q, want the secret", got)
		}
	case "clipboard":
		rctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		got, err := chromedp.Run(rctx, chromedp.Evaluate[string](`navigator.clipboard.readText().catch((e) => 'unreadable: ' + e.message)`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil || got != secret1 {
			t.Errorf("the clipboard holds %q (%v), want the secret", got, err)
		}
	default:
		t.Errorf("copy: %q", how)
	}
	// Where the clipboard is missing, Copy selects the text.
	if !eval[bool](b, `Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true }) && navigator.clipboard === undefined`) {
		t.Fatal("cannot take the clipboard away")
	}
	b.do("copy without a clipboard", 30*time.Second, chromedp.Click(chromedp.CSS("#secret-text-copy")))
	b.waitFor("selected", `document.querySelector('#secret-text-status').dataset.copied === 'selected'`)
	if got := eval[string](b, `window.getSelection().toString()`); got != secret1 {
		t.Errorf("fallback selected %q, want the secret", got)
	}
	b.shot(r.dir, "app-secret")
	// Shown once: the page, loaded again, has it no more.
	b.openPage(r.tgtUI, "fabrikam", "apps", "#apps tr"+attrIs("data-app", appID))
	if eval[bool](b, `!!document.querySelector('#secret-text')`) || strings.Contains(b.text("main"), secret1) {
		t.Errorf("the secret is shown again")
	}
	// Delete an app: Cancel keeps it, OK deletes it.
	spareID, _ := b.uiCreateApp(r.tgtUI, "fabrikam", "Spare app")
	spareRow := "#apps tr" + attrIs("data-app", spareID)
	b.confirmDialog("delete spare app: cancel", spareRow+` button[data-action="delete"]`, false)
	if _, err := r.tgt.Admin.GetApp(ctx, r.tgt.Op, "fabrikam", spareID); err != nil {
		t.Fatalf("spare app after a cancelled delete: %v", err)
	}
	b.confirmDialog("delete spare app", spareRow+` button[data-action="delete"]`, true)
	b.do("spare app gone", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#app-deleted")), chromedp.WaitNotPresent(chromedp.CSS(spareRow)))
	if as, err := r.tgt.Admin.ListApps(ctx, r.tgt.Op, "fabrikam"); err != nil || len(as) != 1 || as[0].AppID != appID {
		t.Fatalf("apps after deleting the spare one: %v %+v", err, as)
	}
	r.app, r.appID, r.secret1 = app, appID, secret1
}

// consent builds the consent URL (refused once) and accepts it on the source
// server as its admin (step 2).
func (r *trustRig) consent() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Step 2: the consent URL (refused without a source tenant), accepted
	// on the source server by its signed-in admin.
	b.openPage(r.tgtUI, "fabrikam", "apps", "#cu-build")
	b.typeText("#cu-server", r.src.PublicURL)
	b.do("consent URL without a source tenant", 30*time.Second, chromedp.Click(chromedp.CSS("#cu-build")))
	b.refusal("#consent-url .error", "MissingField", "Source tenant")
	consentURL := b.uiConsentURL(r.tgtUI, "fabrikam", r.appID, r.src.PublicURL, r.contoso.InitialDomain)
	if want, err := r.tgt.Admin.ConsentURL(ctx, r.tgt.Op, "fabrikam", r.appID, r.src.PublicURL, r.contoso.InitialDomain); err != nil || consentURL != want {
		t.Fatalf("consent URL %q, want %q (%v)", consentURL, want, err)
	}
	b.shot(r.dir, "consent-url")
	b.uiSignIn(r.srcUI, r.srcToken)
	// The source admin pastes the URL on their Consents page; one of
	// another server is refused there.
	b.openPage(r.srcUI, "contoso", "consents", "#consent-open")
	b.typeText("#consent-open-url", strings.Replace(consentURL, r.src.PublicURL, r.tgt.PublicURL, 1))
	b.do("open another server's consent URL", 30*time.Second, chromedp.Click(chromedp.CSS("#consent-open")))
	b.refusal("main .error", "OtherServer", r.tgt.PublicURL)
	b.typeText("#consent-open-url", consentURL)
	b.do("open the consent URL from the Consents page", 30*time.Second,
		chromedp.Click(chromedp.CSS("#consent-open")),
		chromedp.WaitVisible(chromedp.CSS("#c-signed-in")))
	if got := b.text("#c-app-id"); got != r.appID {
		t.Errorf("consent page shows app %q", got)
	}
	b.shot(r.dir, "consent-page")
	b.uiAcceptConsent(consentURL)
	cs, err := r.src.Admin.ListConsents(ctx, r.src.Op, "contoso")
	if err != nil || len(cs) != 1 || cs[0].AppID != r.appID || cs[0].Issuer != r.app.Issuer || !strings.HasPrefix(cs[0].GrantedBy, "tenant-admin:") {
		t.Fatalf("consents of contoso after Accept: %v %+v", err, cs)
	}
	b.shot(r.dir, "consent-granted")
	b.do("the granted page links to the consents", 30*time.Second,
		chromedp.Click(chromedp.CSS("#c-consents-link")),
		chromedp.WaitVisible(chromedp.CSS("#consents tr"+attrIs("data-app", r.appID))))
}

// endpoints creates endpoints (refused once) and edits one (refused once)
// (step 3).
func (r *trustRig) endpoints() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Step 3: the endpoint. Without an app id it is refused in the form's
	// words; then created, a second (IMAP) one too.
	b.uiSignIn(r.tgtUI, r.tgtToken)
	b.openPage(r.tgtUI, "fabrikam", "endpoints", "#ep-create")
	b.typeText("#ep-name", "contoso-ep")
	b.typeText("#ep-server", r.src.PublicURL)
	b.typeText("#ep-tenant", r.contoso.InitialDomain)
	b.typeText("#ep-secret", r.secret1)
	if got := eval[string](b, `document.querySelector('#ep-app').value`); got != r.appID {
		t.Errorf("the tenant's one app is not the endpoint's by default: %q", got)
	}
	b.typeText("#ep-app", "")
	b.do("create an endpoint without an app", 30*time.Second, chromedp.Click(chromedp.CSS("#ep-create")))
	b.refusal("#endpoint-notice .error", "MissingField", "Fill in Application (client) ID")
	if es, err := r.tgt.Admin.ListEndpoints(ctx, r.tgt.Op, "fabrikam"); err != nil || len(es) != 0 {
		t.Fatalf("endpoints after a refusal: %v %+v", err, es)
	}
	// A hint naming the secret's two flags names the one field.
	if got := jsCall[string](b, `dom.webText('pass --secret or --secret-file', document.querySelector('#endpoint-form'))`); got != "Fill in Client secret" {
		t.Errorf("the secret hint reads %q in the form", got)
	}
	if n := eval[int](b, `document.querySelectorAll('#ep-app-list option[value="`+r.appID+`"]').length`); n != 1 {
		t.Errorf("the app is offered %d times for Application (client) ID", n)
	}
	b.uiCreateEndpoint(r.tgtUI, "fabrikam", apitypes.EndpointCreate{Name: "contoso-ep", RemoteServer: r.src.PublicURL, RemoteTenant: r.contoso.InitialDomain,
		ApplicationId: r.appID, Secret: r.secret1, MaxConcurrentMigrations: 50, MaxConcurrentIncrementalSyncs: 10, MaxBytesPerSecond: 1 << 20})
	ep := endpoint(t, r.tgt, "contoso-ep")
	if ep.Type != directory.EndpointExchangeRemoteMove || ep.RemoteServer != r.src.PublicURL || ep.RemoteTenant != r.contoso.InitialDomain || ep.ApplicationId != r.appID ||
		ep.MaxConcurrentMigrations != 50 || ep.MaxConcurrentIncrementalSyncs != 10 || ep.MaxBytesPerSecond != 1<<20 || endpointSecret(t, r.tgt, ep) != r.secret1 {
		t.Fatalf("endpoint as the page created it: %+v", ep)
	}
	if !eval[bool](b, `document.querySelector('#ep-name').value === '' && document.querySelector('#ep-app').value === `+jsq(r.appID)) {
		t.Errorf("the create form does not start afresh after a creation")
	}
	b.uiCreateEndpoint(r.tgtUI, "fabrikam", apitypes.EndpointCreate{Name: "legacy-imap", Type: "IMAP", RemoteServer: "imaps://127.0.0.1:9993",
		Security: "Ssl", CalDAVURL: "https://127.0.0.1:9443/dav/", OAuthTokenURL: "https://127.0.0.1:9444/token", OAuthGrant: "client_credentials",
		ApplicationId: "imap-client", Secret: "imap-client-secret"})
	imapEP := endpoint(t, r.tgt, "legacy-imap")
	if e := imapEP; e.Type != directory.EndpointIMAP || e.Security != "Ssl" || !strings.HasPrefix(e.CalDAVURL, "https://127.0.0.1:9443/dav") || e.RemoteTenant != "" ||
		e.OAuth == nil || e.OAuth.TokenURL != "https://127.0.0.1:9444/token" || e.OAuth.Grant != "client_credentials" || e.OAuth.Mechanism != "XOAUTH2" ||
		e.ApplicationId != "imap-client" || endpointSecret(t, r.tgt, e) != "imap-client-secret" {
		t.Fatalf("IMAP endpoint as the page created it: %+v %+v", e, e.OAuth)
	}
	// Its edit form: a CardDAV server added, the OAuth sign-in removed.
	b.openPage(r.tgtUI, "fabrikam", "endpoints/legacy-imap", "#endpoint-save")
	b.typeText("#ee-carddav", "https://127.0.0.1:9443/card/")
	b.typeText("#ee-oauth-url", "")
	b.do("save the IMAP endpoint", 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-save")),
		chromedp.WaitVisible(chromedp.CSS(`#endpoint-saved[data-verb="edit"]`)))
	if e := endpoint(t, r.tgt, "legacy-imap"); e.OAuth != nil || !strings.HasPrefix(e.CardDAVURL, "https://127.0.0.1:9443/card") || e.CalDAVURL != imapEP.CalDAVURL ||
		e.Security != "Ssl" || e.ApplicationId != "imap-client" {
		t.Fatalf("IMAP endpoint after the edit: %+v %+v", e, e.OAuth)
	}
	b.shot(r.dir, "endpoints")

	// Edit: a refused change leaves it as it was, a good one is stored.
	epPage := "endpoints/contoso-ep"
	b.openPage(r.tgtUI, "fabrikam", epPage, "#endpoint-save")
	b.typeText("#ee-max-inc", "500")
	b.do("save too many incremental syncs", 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-save")))
	b.refusal("#endpoint-notice .error", "InvalidConcurrency", "MaxConcurrentIncrementalSyncs")
	if e := endpoint(t, r.tgt, "contoso-ep"); e.MaxConcurrentIncrementalSyncs != 10 {
		t.Fatalf("endpoint after a refused change: %+v", e)
	}
	b.typeText("#ee-max-inc", "10")
	b.typeText("#ee-max-mig", "40")
	b.typeText("#ee-max-bps", "0")
	b.do("save the endpoint", 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-save")),
		chromedp.WaitVisible(chromedp.CSS(`#endpoint-saved[data-verb="edit"]`)))
	if e := endpoint(t, r.tgt, "contoso-ep"); e.MaxConcurrentMigrations != 40 || e.MaxConcurrentIncrementalSyncs != 10 || e.MaxBytesPerSecond != 0 ||
		e.ApplicationId != r.appID || endpointSecret(t, r.tgt, e) != r.secret1 {
		t.Fatalf("endpoint after the edit: %+v", e)
	}
	if got := b.text(`#endpoint-props dd[data-field="MaxConcurrentMigrations"]`); got != "40" {
		t.Errorf("the page shows MaxConcurrentMigrations %q after the edit", got)
	}
}

// rotate adds a second client secret and rotates the endpoint to it (refused
// once when empty); the endpoint test fails without relationships (step 9).
func (r *trustRig) rotate() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Rotate: a second client secret of the app (Apps page) replaces the
	// stored one; an empty one is refused.
	b.openPage(r.tgtUI, "fabrikam", "apps", "#apps tr"+attrIs("data-app", r.appID))
	b.do("add a second secret", 30*time.Second,
		chromedp.Click(chromedp.CSS("#apps tr"+attrIs("data-app", r.appID)+` button[data-action="add-secret"]`)),
		chromedp.WaitVisible(chromedp.CSS("#secret-expires")))
	b.setValue("#secret-expires", "2160h")
	b.do("add a second secret: OK", 30*time.Second, chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#secret-once")))
	secret2 := eval[string](b, `document.querySelector('#secret-text').textContent`)
	if a, err := r.tgt.Admin.GetApp(ctx, r.tgt.Op, "fabrikam", r.appID); err != nil || len(a.Secrets) != 2 || secret2 == r.secret1 || secret2 == "" {
		t.Fatalf("app after adding a second secret: %v %+v", err, a)
	} else if life := a.Secrets[1].Expires.Sub(a.Secrets[1].CreatedAt); life < 89*24*time.Hour || life > 91*24*time.Hour {
		t.Errorf("second secret lives %s, want 90 days", life)
	}
	b.openPage(r.tgtUI, "fabrikam", "endpoints/contoso-ep", "#endpoint-rotate")
	b.do("rotate to an empty secret", 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-rotate")))
	b.refusal("#endpoint-notice .error", "MissingField", "New client secret")
	b.typeText("#ee-secret", secret2)
	b.do("rotate: cancel", 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-rotate")), chromedp.WaitVisible(chromedp.CSS("#confirm-cancel")))
	if got := b.text("#confirm p"); !strings.Contains(got, "replaces the one stored") {
		t.Errorf("rotate dialog says %q", got)
	}
	b.do("rotate: cancelled", 30*time.Second, chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#confirm")))
	if s := endpointSecret(t, r.tgt, endpoint(t, r.tgt, "contoso-ep")); s != r.secret1 {
		t.Fatalf("the secret changed on Cancel")
	}
	b.confirmDialog("rotate the secret", "#endpoint-rotate", true)
	b.do("rotated", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`#endpoint-saved[data-verb="rotate"]`)))
	if e := endpoint(t, r.tgt, "contoso-ep"); endpointSecret(t, r.tgt, e) != secret2 || e.MaxConcurrentMigrations != 40 || e.RemoteServer != r.src.PublicURL {
		t.Fatalf("endpoint after the rotation: %+v", e)
	}
	b.shot(r.dir, "endpoint-page")

	// Step 9 before the relationships: the test fails, as the API says.
	res := b.uiTestEndpoint(r.tgtUI, "fabrikam", "contoso-ep", "")
	if want, err := r.tgt.Admin.TestEndpoint(ctx, r.tgt.Op, "fabrikam", "contoso-ep", "", ""); err != nil || res != "Failed" || want.Result != res {
		t.Fatalf("endpoint test without relationships: page %q, API %v %+v", res, err, want)
	}
	b.shot(r.dir, "endpoint-test-failed")
}

// orgRels creates the two relationships (each refused once) and edits the
// source one (steps 4 and 6).
func (r *trustRig) orgRels() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Step 4: the target's Inbound relationship (refused without the
	// partner tenant).
	b.openPage(r.tgtUI, "fabrikam", "orgrels", "#orgrel-create")
	b.typeText("#or-name", "contoso")
	b.do("orgrel without a partner", 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-create")))
	b.refusal("#orgrel-notice .error", "MissingField", "Fill in Partner tenant (DomainNames)")
	if os, err := r.tgt.Admin.ListOrgRels(ctx, r.tgt.Op, "fabrikam"); err != nil || len(os) != 0 {
		t.Fatalf("orgrels after a refusal: %v %+v", err, os)
	}
	if n := eval[int](b, `document.querySelectorAll('#or-domains-list option[value="`+r.contoso.InitialDomain+`"]').length`); n != 1 {
		t.Errorf("the endpoint's source tenant is offered %d times as partner", n)
	}
	yes := true
	b.uiCreateOrgRel(r.tgtUI, "fabrikam", apitypes.OrgRel{Name: "contoso", DomainNames: []string{r.contoso.ID}, MailboxMoveEnabled: &yes,
		MailboxMoveCapability: []string{directory.CapInbound}})
	if o := orgRel(t, r.tgt, "fabrikam", "contoso"); strings.Join(o.DomainNames, ",") != r.contoso.ID || !o.Enabled || !o.MailboxMoveEnabled ||
		strings.Join(o.MailboxMoveCapability, ",") != directory.CapInbound || o.OAuthApplicationId != "" {
		t.Fatalf("target orgrel as the page created it: %+v", o)
	}
	if !eval[bool](b, `(() => { const q = (s) => document.querySelector(s); return q('#or-name').value === '' && q('#or-enabled').checked && q('#or-move-enabled').checked && !q('#or-cap-inbound').checked; })()`) {
		t.Errorf("the create form does not start afresh after a creation")
	}

	// Step 6: the source's RemoteOutbound relationship (refused without the
	// app), offered the target tenant's id from the consent.
	b.uiSignIn(r.srcUI, r.srcToken)
	b.openPage(r.srcUI, "contoso", "orgrels", "#orgrel-create")
	if n := eval[int](b, `document.querySelectorAll('#or-domains-list option[value="`+r.fabrikam.ID+`"]').length`); n != 1 {
		t.Errorf("the consented app's tenant is offered %d times as partner", n)
	}
	b.typeText("#or-name", "fabrikam")
	b.typeText("#or-domains", r.fabrikam.ID)
	b.setChecked("#or-cap-remoteoutbound", true)
	b.do("RemoteOutbound without an app", 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-create")))
	b.refusal("#orgrel-notice .error", "MissingField", "Fill in OAuth application ID (OAuthApplicationId)")
	if os, err := r.src.Admin.ListOrgRels(ctx, r.src.Op, "contoso"); err != nil || len(os) != 0 {
		t.Fatalf("source orgrels after a refusal: %v %+v", err, os)
	}
	b.uiCreateOrgRel(r.srcUI, "contoso", apitypes.OrgRel{Name: "fabrikam", DomainNames: []string{r.fabrikam.ID}, MailboxMoveEnabled: &yes,
		MailboxMoveCapability: []string{directory.CapRemoteOutbound}, OAuthApplicationId: &r.appID, MailboxMovePublishedScopes: []string{"MigrationScope"}})
	if o := orgRel(t, r.src, "contoso", "fabrikam"); strings.Join(o.DomainNames, ",") != r.fabrikam.ID || !o.Enabled || !o.MailboxMoveEnabled ||
		strings.Join(o.MailboxMoveCapability, ",") != directory.CapRemoteOutbound || o.OAuthApplicationId != r.appID ||
		strings.Join(o.PublishedScopeNames, ",") != "MigrationScope" || o.FreeBusyAccessEnabled {
		t.Fatalf("source orgrel as the page created it: %+v", o)
	}
	// Edit on the source: free/busy sharing on, the rest kept.
	b.openPage(r.srcUI, "contoso", "orgrels/fabrikam", "#orgrel-save")
	if !eval[bool](b, `document.querySelector('#oe-cap-remoteoutbound').checked && [...document.querySelectorAll('#oe-scopes input:checked')].map((c) => c.value).join() === 'MigrationScope'`) {
		t.Errorf("the edit form does not show the relationship's capability and scope")
	}
	b.setChecked("#oe-freebusy", true)
	b.do("save the source orgrel", 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-save")), chromedp.WaitVisible(chromedp.CSS("#orgrel-saved")))
	if o := orgRel(t, r.src, "contoso", "fabrikam"); !o.FreeBusyAccessEnabled || o.OAuthApplicationId != r.appID || strings.Join(o.PublishedScopeNames, ",") != "MigrationScope" ||
		strings.Join(o.MailboxMoveCapability, ",") != directory.CapRemoteOutbound {
		t.Fatalf("source orgrel after the edit: %+v", o)
	}
	b.shot(r.dir, "orgrel-source")
}

// test passes step 9 for a mailbox in scope, then edits the target
// relationship (disabled, enabled, refused).
func (r *trustRig) test() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Step 8 (another page's business) through the core, then step 9: a
	// mailbox in scope passes every check.
	target := "user01@" + r.fabrikam.InitialDomain
	if _, err := r.tgt.Admin.PrepareMailUsers(ctx, r.tgt.Op, "fabrikam", "contoso-ep", []byte("EmailAddress\n"+target+"\n"), r.fabrikam.InitialDomain, false); err != nil {
		t.Fatal(err)
	}
	b.uiSignIn(r.tgtUI, r.tgtToken)
	if res := b.uiTestEndpoint(r.tgtUI, "fabrikam", "contoso-ep", target); res != "Success" {
		t.Fatalf("endpoint test for %s: %s", target, b.text("#endpoint-test"))
	}
	if n := eval[int](b, `document.querySelectorAll('#checks tr[data-result="Failed"]').length`); n != 0 || eval[int](b, `document.querySelectorAll('#checks tr[data-result]').length`) < 5 {
		t.Errorf("endpoint test checks: %s", b.text("#checks"))
	}
	b.shot(r.dir, "endpoint-test-success")

	// Edit on the target: disabled, the test fails at InboundAuthorization;
	// enabled again, it passes.
	for _, on := range []bool{false, true} {
		b.openPage(r.tgtUI, "fabrikam", "orgrels/contoso", "#orgrel-save")
		b.setChecked("#oe-enabled", on)
		b.do("save the target orgrel", 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-save")), chromedp.WaitVisible(chromedp.CSS("#orgrel-saved")))
		if o := orgRel(t, r.tgt, "fabrikam", "contoso"); o.Enabled != on || strings.Join(o.MailboxMoveCapability, ",") != directory.CapInbound || !o.MailboxMoveEnabled {
			t.Fatalf("target orgrel after setting Enabled %v: %+v", on, o)
		}
		want := map[bool]string{false: "Failed", true: "Success"}[on]
		if res := b.uiTestEndpoint(r.tgtUI, "fabrikam", "contoso-ep", target); res != want {
			t.Fatalf("endpoint test with the Inbound relationship Enabled %v: %s", on, b.text("#endpoint-test"))
		}
		if !on {
			if r := eval[string](b, `(document.querySelector('#checks tr[data-check="InboundAuthorization"]') || {dataset: {}}).dataset.result || ''`); r != "Failed" {
				t.Errorf("InboundAuthorization with the relationship disabled: %q", r)
			}
		}
	}

	// Edit refused: no partner tenant; nothing changes.
	b.openPage(r.tgtUI, "fabrikam", "orgrels/contoso", "#orgrel-save")
	b.typeText("#oe-domains", "")
	b.do("save without a partner", 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-save")))
	b.refusal("#orgrel-notice .error", "MissingField", "Fill in Partner tenant (DomainNames)")
	if o := orgRel(t, r.tgt, "fabrikam", "contoso"); strings.Join(o.DomainNames, ",") != r.contoso.ID {
		t.Fatalf("target orgrel after a refused edit: %+v", o)
	}
	b.shot(r.dir, "orgrel-target")
}

// deletes deletes a relationship and an endpoint, Cancel first.
func (r *trustRig) deletes() {
	t := r.t
	b := r.b
	ctx := context.Background()
	// Delete a relationship and an endpoint (Cancel keeps them).
	b.uiCreateOrgRel(r.tgtUI, "fabrikam", apitypes.OrgRel{Name: "spare", DomainNames: []string{"spare.example"}})
	b.openPage(r.tgtUI, "fabrikam", "orgrels/spare", "#orgrel-delete")
	b.confirmDialog("delete orgrel: cancel", "#orgrel-delete", false)
	orgRel(t, r.tgt, "fabrikam", "spare")
	b.confirmDialog("delete orgrel", "#orgrel-delete", true)
	b.do("orgrel deleted", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`#orgrels tr[data-name="contoso"]`)), chromedp.WaitNotPresent(chromedp.CSS(`#orgrels tr[data-name="spare"]`)))
	if os, err := r.tgt.Admin.ListOrgRels(ctx, r.tgt.Op, "fabrikam"); err != nil || len(os) != 1 || os[0].Name != "contoso" {
		t.Fatalf("orgrels after deleting spare: %v %+v", err, os)
	}
	b.openPage(r.tgtUI, "fabrikam", "endpoints/legacy-imap", "#endpoint-delete")
	b.confirmDialog("delete endpoint: cancel", "#endpoint-delete", false)
	endpoint(t, r.tgt, "legacy-imap")
	b.confirmDialog("delete endpoint", "#endpoint-delete", true)
	b.do("endpoint deleted", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(`#endpoints tr[data-name="contoso-ep"]`)), chromedp.WaitNotPresent(chromedp.CSS(`#endpoints tr[data-name="legacy-imap"]`)))
	if es, err := r.tgt.Admin.ListEndpoints(ctx, r.tgt.Op, "fabrikam"); err != nil || len(es) != 1 || es[0].Name != "contoso-ep" {
		t.Fatalf("endpoints after deleting legacy-imap: %v %+v", err, es)
	}
}

// layout checks the pages at 1400, 800 and 390 pixels.
func (r *trustRig) layout() {
	t := r.t
	b := r.b
	// The pages at 1400, 800 and 390 pixels.
	pages := []struct{ name, path, wait string }{
		{"apps", "apps", "#cu-build"},
		{"endpoints", "endpoints", "#ep-create"},
		{"endpoint", "endpoints/contoso-ep", "#endpoint-rotate"},
		{"orgrels", "orgrels", "#orgrel-create"},
		{"orgrel", "orgrels/contoso", "#orgrel-save"},
	}
	for _, w := range []int64{1400, 800, 390} {
		b.do(fmt.Sprintf("viewport %d", w), 30*time.Second, chromedp.EmulateViewport(w, 900))
		for _, p := range pages {
			b.openPage(r.tgtUI, "fabrikam", p.path, p.wait)
			if probs := eval[string](b, trustLayout); probs != "" {
				t.Errorf("%s at %dpx: %s", p.name, w, probs)
			}
			b.shot(r.dir, fmt.Sprintf("layout-%s-%d", p.name, w))
		}
	}
}

// endpoint reads an endpoint of fabrikam through the admin core.
func endpoint(t *testing.T, s *scenario.Server, name string) *directory.Endpoint {
	t.Helper()
	e, err := s.Admin.GetEndpoint(context.Background(), s.Op, "fabrikam", name)
	if err != nil {
		t.Fatalf("endpoint %s: %v", name, err)
	}
	return e
}

// endpointSecret is the secret stored (sealed) for e.
func endpointSecret(t *testing.T, s *scenario.Server, e *directory.Endpoint) string {
	t.Helper()
	sec, err := s.Dir.EndpointSecret(e)
	if err != nil {
		t.Fatal(err)
	}
	return sec
}

// orgRel reads an organization relationship through the admin core.
func orgRel(t *testing.T, s *scenario.Server, tenant, name string) *admin.OrgRelView {
	t.Helper()
	o, err := s.Admin.GetOrgRel(context.Background(), s.Op, tenant, name)
	if err != nil {
		t.Fatalf("orgrel %s of %s: %v", name, tenant, err)
	}
	return o
}
