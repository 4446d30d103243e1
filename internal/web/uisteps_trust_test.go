package web_test

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/apitypes"
)

// Step helpers of the trust side of the scenario (docs/architecture.md §1
// steps 1, 2, 3, 4, 6 and 9) for the whole-scenario browser test: each
// opens its page afresh, fills the form and clicks like an admin, waits
// until the result shows and fails the test (with the page's coded error)
// when the page shows an error instead.

// jsq quotes s as a JavaScript (and CSS) string literal; every step
// helper of the UI scenario quotes with it.
func jsq(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// attrIs is a CSS attribute selector [name="value"].
func attrIs(name, value string) string {
	return "[" + name + "=" + jsq(value) + "]"
}

// openPage loads ui#/t/TENANT/PATH in a fresh document (the tab's sign-in
// stays) and waits until sel is visible.
func (b *browser) openPage(ui, tenant, path, sel string) {
	b.t.Helper()
	b.do("open "+tenant+" "+strings.ReplaceAll(path, "/", " "), 30*time.Second,
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(ui+"#/t/"+url.PathEscape(tenant)+"/"+path),
		chromedp.WaitVisible(chromedp.CSS(sel)))
}

// setValue sets the value of the input or select sel as a user's choice
// does (input and change events follow).
func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	if !eval[bool](b, `(() => { const el = document.querySelector(`+jsq(sel)+`); if (!el) return false; el.value = `+jsq(v)+`;
		el.dispatchEvent(new Event('input', { bubbles: true })); el.dispatchEvent(new Event('change', { bubbles: true })); return el.value === `+jsq(v)+`; })()`) {
		b.t.Fatalf("cannot set %s to %q", sel, v)
	}
}

// typeText replaces the text of the input sel with v, typed (the field
// is emptied first, as select-all and delete would).
func (b *browser) typeText(sel, v string) {
	b.t.Helper()
	b.setValue(sel, "")
	if v != "" {
		b.do("type into "+sel, 30*time.Second, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
}

// setChecked clicks the checkbox sel when its state is not want.
func (b *browser) setChecked(sel string, want bool) {
	b.t.Helper()
	if eval[bool](b, `document.querySelector(`+jsq(sel)+`).checked`) != want {
		b.do("click "+sel, 30*time.Second, chromedp.Click(chromedp.CSS(sel)))
	}
}

// outcome waits until ok or failed (selectors) is on the page and fails
// the test with the page's error when failed shows.
func (b *browser) outcome(what, ok, failed string) {
	b.t.Helper()
	b.waitFor(what, `!!document.querySelector(`+jsq(ok)+`) || !!document.querySelector(`+jsq(failed)+`)`)
	if eval[bool](b, `!!document.querySelector(`+jsq(failed)+`)`) {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: the page shows %q", what, b.text(failed))
	}
}

// uiCreateApp registers app name on the Apps page and adds a client secret, read from the once-shown box.
func (b *browser) uiCreateApp(ui, tenant, name string) (appID, secret string) {
	b.t.Helper()
	b.openPage(ui, tenant, "apps", "#app-create")
	b.typeText("#app-name", name)
	b.do("register app "+name, 30*time.Second, chromedp.Click(chromedp.CSS("#app-create")))
	b.outcome("register app "+name, "#app-created", "#apps-notice .error")
	appID = eval[string](b, `document.querySelector('#app-created').dataset.app`)
	row := "#apps tr" + attrIs("data-app", appID)
	b.do("add a client secret to "+name, 30*time.Second,
		chromedp.Click(chromedp.CSS(row+` button[data-action="add-secret"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.outcome("add a client secret to "+name, "#secret-once"+attrIs("data-app", appID), "#apps-notice .error")
	secret = eval[string](b, `document.querySelector('#secret-text').textContent`)
	if appID == "" || secret == "" {
		b.t.Fatalf("app %s: AppId %q, secret %q", name, appID, secret)
	}
	return appID, secret
}

// uiConsentURL builds the admin-consent URL for (sourceServer, sourceTenant) on the Apps page and returns it.
func (b *browser) uiConsentURL(ui, tenant, appID, sourceServer, sourceTenant string) string {
	b.t.Helper()
	b.openPage(ui, tenant, "apps", "#cu-build")
	b.waitFor("app "+appID+" offered", `!!document.querySelector(`+jsq("#cu-app option"+attrIs("value", appID))+`)`)
	b.setValue("#cu-app", appID)
	b.typeText("#cu-server", sourceServer)
	b.typeText("#cu-tenant", sourceTenant)
	b.do("get the consent URL", 30*time.Second, chromedp.Click(chromedp.CSS("#cu-build")))
	b.outcome("get the consent URL", "#consent-url-text", "#consent-url .error")
	return eval[string](b, `document.querySelector('#consent-url-text').textContent`)
}

// uiAcceptConsent opens consentURL (the browser is signed in on that server as the source tenant's admin), clicks Accept and waits for the granted notice.
func (b *browser) uiAcceptConsent(consentURL string) {
	b.t.Helper()
	b.do("open the consent URL", 30*time.Second,
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(consentURL),
		chromedp.WaitVisible(chromedp.CSS("#c-accept")))
	// The page says who is signed in once it has asked the server.
	b.waitFor("the consent page's sign-in", `!document.querySelector('#c-signed-in').hidden`)
	if m := eval[string](b, `document.querySelector('#c-signed-in').dataset.match || ''`); m != "yes" {
		b.t.Fatalf("consent page: %s", b.text("#c-signed-in"))
	}
	b.do("accept the consent", 30*time.Second, chromedp.Click(chromedp.CSS("#c-accept")))
	b.outcome("accept the consent", "#c-granted", "#c-result .error")
}

// uiCreateEndpoint creates a migration endpoint (native when e.Type is "") with the form.
func (b *browser) uiCreateEndpoint(ui, tenant string, e apitypes.EndpointCreate) {
	b.t.Helper()
	b.openPage(ui, tenant, "endpoints", "#ep-create")
	imap := strings.EqualFold(e.Type, "IMAP")
	if imap {
		b.setValue("#ep-type", "IMAP")
	} else if e.Type != "" && e.Type != "ExchangeRemoteMove" {
		b.t.Fatalf("endpoint %s: the form has no type %q", e.Name, e.Type)
	}
	b.typeText("#ep-name", e.Name)
	b.typeText("#ep-server", e.RemoteServer)
	b.typeText("#ep-app", e.ApplicationId)
	b.typeText("#ep-secret", e.Secret)
	if imap {
		b.setValue("#ep-security", e.Security)
		b.typeText("#ep-caldav", e.CalDAVURL)
		b.typeText("#ep-carddav", e.CardDAVURL)
		b.typeText("#ep-oauth-url", e.OAuthTokenURL)
		b.typeText("#ep-oauth-scope", e.OAuthScope)
		if e.OAuthGrant != "" {
			b.setValue("#ep-oauth-grant", strings.ToLower(e.OAuthGrant))
		}
		if e.OAuthMechanism != "" {
			b.setValue("#ep-oauth-mechanism", strings.ToUpper(e.OAuthMechanism))
		}
	} else {
		b.typeText("#ep-tenant", e.RemoteTenant)
	}
	for sel, n := range map[string]int64{"#ep-max-mig": int64(e.MaxConcurrentMigrations), "#ep-max-inc": int64(e.MaxConcurrentIncrementalSyncs),
		"#ep-max-bps": e.MaxBytesPerSecond} {
		if n != 0 {
			b.typeText(sel, strconv.FormatInt(n, 10))
		}
	}
	b.do("create endpoint "+e.Name, 30*time.Second, chromedp.Click(chromedp.CSS("#ep-create")))
	b.outcome("create endpoint "+e.Name, "#endpoint-created"+attrIs("data-name", e.Name), "#endpoint-notice .error")
}

// uiTestEndpoint tests endpoint for mailbox ("" for none) and returns the overall Result ("Success", "Failed", ...).
func (b *browser) uiTestEndpoint(ui, tenant, endpoint, mailbox string) string {
	b.t.Helper()
	b.openPage(ui, tenant, "endpoints/"+url.PathEscape(endpoint), "#endpoint-test-run")
	b.typeText("#test-mailbox", mailbox)
	b.do("test endpoint "+endpoint, 30*time.Second, chromedp.Click(chromedp.CSS("#endpoint-test-run")))
	b.outcome("test endpoint "+endpoint, "#endpoint-test .endpoint-test[data-result]", "#endpoint-test .error")
	return eval[string](b, `document.querySelector('#endpoint-test .endpoint-test').dataset.result`)
}

// uiCreateOrgRel creates an organization relationship with the form.
// Absent (nil) settings are the API's defaults: Enabled true,
// MailboxMoveEnabled and FreeBusyAccessEnabled false. The form offers the
// Inbound and RemoteOutbound capabilities, and the tenant's security groups
// as published scopes (named by name, alias or address).
func (b *browser) uiCreateOrgRel(ui, tenant string, o apitypes.OrgRel) {
	b.t.Helper()
	b.openPage(ui, tenant, "orgrels", "#orgrel-create")
	b.typeText("#or-name", o.Name)
	b.typeText("#or-domains", strings.Join(o.DomainNames, ", "))
	flag := func(p *bool, def bool) bool {
		if p == nil {
			return def
		}
		return *p
	}
	b.setChecked("#or-enabled", flag(o.Enabled, true))
	b.setChecked("#or-move-enabled", flag(o.MailboxMoveEnabled, false))
	b.setChecked("#or-freebusy", flag(o.FreeBusyAccessEnabled, false))
	want := map[string]bool{}
	for _, c := range o.MailboxMoveCapability {
		for _, p := range strings.Split(c, ",") {
			want[strings.ToLower(strings.TrimSpace(p))] = true
		}
	}
	for c, sel := range map[string]string{"inbound": "#or-cap-inbound", "remoteoutbound": "#or-cap-remoteoutbound"} {
		b.setChecked(sel, want[c])
		delete(want, c)
	}
	for c := range want {
		b.t.Fatalf("orgrel %s: the form offers Inbound and RemoteOutbound, not %q", o.Name, c)
	}
	if o.OAuthApplicationId != nil {
		b.typeText("#or-app", *o.OAuthApplicationId)
	}
	for _, s := range o.MailboxMovePublishedScopes {
		id := eval[string](b, `(() => { const s = `+jsq(strings.ToLower(s))+`;
			const x = [...document.querySelectorAll('#or-scopes input[type=checkbox]')].find((c) => [c.value, c.dataset.alias, c.dataset.address].some((v) => (v || '').toLowerCase() === s));
			return x ? x.id : ''; })()`)
		if id == "" {
			b.t.Fatalf("orgrel %s: no security group %q among the published scopes offered: %s", o.Name, s, b.text("#or-scopes"))
		}
		b.setChecked("#"+id, true)
	}
	b.do("create orgrel "+o.Name, 30*time.Second, chromedp.Click(chromedp.CSS("#orgrel-create")))
	b.outcome("create orgrel "+o.Name, "#orgrel-created"+attrIs("data-name", o.Name), "#orgrel-notice .error")
}
