package web_test

import (
	"net/url"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// The directory's steps of the seed scenario through the web admin
// (docs/architecture.md §1 steps 5, 7 and 8, and the mailboxes they need):
// each opens its page on ui (a server's "/ui/", signed in as the tenant's
// admin), fills the form like a user and waits for the change to show.

// setVal sets the value of the element sel (an input, select or
// textarea; "" too, which chromedp.SetValue refuses) and fires its input
// and change events.
func setVal(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`(() => { const el = document.querySelector(` + jsq(sel) + `);
		if (!el) throw new Error('no ' + ` + jsq(sel) + `);
		el.value = ` + jsq(v) + `; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); })()`)
}

// openTenantPage shows the page path (below "#/t/") of the web admin at
// ui and waits for sel. Within the app it first drops the page shown, so
// that sel can only match the new page, and renders even when the route
// is the one already shown (a second call of a step on the same page);
// from elsewhere it loads the app.
func (b *browser) openTenantPage(ui, path, sel string) {
	b.t.Helper()
	hash := "#/t/" + path
	if eval[string](b, `location.origin + location.pathname`) != ui {
		b.do("open "+path, time.Minute, chromedp.Navigate(ui+hash), chromedp.WaitVisible(chromedp.CSS(sel)))
		return
	}
	b.do("open "+path, time.Minute,
		chromedp.Evaluate[chromedp.Void](`(() => {
			document.querySelectorAll('main.view').forEach((m) => m.remove());
			const before = location.hash;
			location.hash = `+jsq(hash)+`;
			if (location.hash === before) window.dispatchEvent(new HashChangeEvent('hashchange'));
		})()`),
		chromedp.WaitVisible(chromedp.CSS(sel)))
}

// uiCreateMailbox creates a user mailbox alias@(the tenant's default domain) with password on the Mailboxes page and returns its primary address.
func (b *browser) uiCreateMailbox(ui, tenant, alias, password string) (address string) {
	b.t.Helper()
	b.openTenantPage(ui, tenant+"/mailboxes", "#mb-new summary")
	b.do("create mailbox "+alias, time.Minute,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#mb-new').open = true`),
		chromedp.WaitVisible(chromedp.CSS("#mb-alias")),
		chromedp.SetValue(chromedp.CSS("#mb-alias"), alias),
		chromedp.SetValue(chromedp.CSS("#mb-password"), password),
		chromedp.SetValue(chromedp.CSS("#mb-type"), "user"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#mb-domain').value = document.querySelector('#mb-domain option[data-default]').value`),
		chromedp.Click(chromedp.CSS("#mb-create")))
	b.waitFor("mailbox "+alias+" created", `(() => { const n = document.querySelector('#mb-create-notice');
		return !!n && ((n.dataset.created || '').toLowerCase().startsWith(`+jsq(strings.ToLower(alias)+"@")+`) || !!n.querySelector('.error')); })()`)
	if e := eval[string](b, `(document.querySelector('#mb-create-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("create mailbox %s: %s", alias, e)
	}
	return eval[string](b, `document.querySelector('#mb-create-notice').dataset.created`)
}

// uiCreateGroup creates a mail-enabled security group name on the Groups page.
func (b *browser) uiCreateGroup(ui, tenant, name string) {
	b.t.Helper()
	b.openTenantPage(ui, tenant+"/groups", "#grp-new summary")
	b.do("create group "+name, time.Minute,
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#grp-new').open = true`),
		chromedp.WaitVisible(chromedp.CSS("#grp-name")),
		chromedp.SetValue(chromedp.CSS("#grp-name"), name),
		setVal("#grp-alias", ""),
		chromedp.SetValue(chromedp.CSS("#grp-type"), "security"),
		chromedp.Click(chromedp.CSS("#grp-create")))
	b.waitFor("group "+name+" created", `(() => { const n = document.querySelector('#grp-notice');
		return !!n && (n.dataset.created === `+jsq(name)+` || !!n.querySelector('.error')); })()`)
	if e := eval[string](b, `(document.querySelector('#grp-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("create group %s: %s", name, e)
	}
}

// uiAddGroupMembers adds members (addresses) to group on its page, one by one, waiting for each change.
func (b *browser) uiAddGroupMembers(ui, tenant, group string, members ...string) {
	b.t.Helper()
	b.openTenantPage(ui, tenant+"/groups/"+url.PathEscape(group), "#members-pager")
	for _, m := range members {
		b.do("add member "+m, 30*time.Second,
			chromedp.SetValue(chromedp.CSS("#member-add"), m),
			chromedp.Click(chromedp.CSS("#member-add-btn")))
		b.waitFor("member "+m+" added", `(() => { const n = document.querySelector('#member-notice');
			return (n.dataset.change === 'Added' && n.dataset.member === `+jsq(strings.ToLower(m))+`) || !!n.querySelector('.error'); })()`)
		if e := eval[string](b, `(document.querySelector('#member-notice .error') || {}).textContent || ''`); e != "" {
			b.t.Fatalf("add member %s to %s: %s", m, group, e)
		}
	}
}

// uiMailboxIdentity opens the mailbox's page and returns its ExchangeGuid as shown.
func (b *browser) uiMailboxIdentity(ui, tenant, address string) (exchangeGuid string) {
	b.t.Helper()
	sel := `#recipient dd[data-field="ExchangeGuid"] code`
	b.openTenantPage(ui, tenant+"/mailboxes/"+url.PathEscape(address), sel)
	return b.text(sel)
}

// uiPrepareMailUsers previews then applies mailuser prepare for csv (an EmailAddress CSV) through endpoint, and returns the number of rows applied.
func (b *browser) uiPrepareMailUsers(ui, tenant, endpoint, csv, targetDeliveryDomain string) (rows int) {
	b.t.Helper()
	b.openTenantPage(ui, tenant+"/prepare", "#prep-preview")
	b.fillPrepare(endpoint, csv, targetDeliveryDomain)
	b.do("preview", 2*time.Minute,
		chromedp.Click(chromedp.CSS("#prep-preview")))
	b.waitFor("preview shown", `document.querySelector('#prep-result').dataset.mode === 'preview' || !!document.querySelector('#prep-notice .error')`)
	if e := eval[string](b, `(document.querySelector('#prep-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("prepare preview: %s", e)
	}
	b.do("apply", 2*time.Minute,
		chromedp.WaitEnabled(chromedp.CSS("#prep-apply")),
		chromedp.Click(chromedp.CSS("#prep-apply")))
	b.waitFor("prepare applied", `document.querySelector('#prep-result').dataset.mode === 'applied' || !!document.querySelector('#prep-notice .error')`)
	if e := eval[string](b, `(document.querySelector('#prep-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("prepare apply: %s", e)
	}
	return eval[int](b, `document.querySelectorAll('#prepare-rows tbody tr[data-action]:not([data-action="Failed"])').length`)
}

// fillPrepare fills the Prepare mail users form (the endpoint and domain
// must be among the choices) and fires the fields' change events.
func (b *browser) fillPrepare(endpoint, csv, targetDeliveryDomain string) {
	b.t.Helper()
	ok := eval[bool](b, `(() => {
		const set = (sel, v) => { const el = document.querySelector(sel); el.value = v; el.dispatchEvent(new Event('change')); return el.value === v; };
		return set('#prep-endpoint', `+jsq(endpoint)+`) && set('#prep-csv', `+jsq(csv)+`) && set('#prep-tdd', `+jsq(targetDeliveryDomain)+`);
	})()`)
	if !ok {
		b.t.Fatalf("prepare form: endpoint %q or target delivery domain %q is not among the choices", endpoint, targetDeliveryDomain)
	}
}
