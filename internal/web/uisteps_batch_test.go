package web_test

import (
	"context"
	"time"

	"github.com/chromedp/chromedp"
)

// Step helpers of the batch steps (10 to 13) and of admin tokens, for the
// whole-scenario Chromium test: each drives the web admin like a user in a
// browser already signed in at ui (a server's ".../ui/" URL).

// batchWizard is what the scenario enters in the batch wizard.
type batchWizard struct {
	Name, Endpoint, TargetDeliveryDomain string
	CSV                                  string // an EmailAddress CSV (target addresses)
	NotificationEmails                   string // comma-separated, optional
	AutoStart                            bool
}

// poll waits up to timeout until the JavaScript expression is true.
func (b *browser) poll(what, expr string, timeout time.Duration) {
	b.t.Helper()
	b.do(what, timeout+5*time.Second, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout))(ctx, t)
		return err
	}))
}

// wizardFill opens the batch wizard of tenant and fills its first two
// steps: the batch, and the CSV, validated by the server (the preview).
func (b *browser) wizardFill(ui, tenant string, w batchWizard) {
	b.t.Helper()
	b.do("batch wizard: batch", 30*time.Second,
		chromedp.Navigate(ui+"#/t/"+tenant+"/batches"),
		chromedp.WaitVisible(chromedp.CSS("#batch-name")),
		chromedp.SetValue(chromedp.CSS("#batch-name"), w.Name),
		chromedp.SetValue(chromedp.CSS("#batch-endpoint"), w.Endpoint),
		chromedp.SetValue(chromedp.CSS("#batch-tdd"), w.TargetDeliveryDomain),
		chromedp.Click(chromedp.CSS("#wiz-next-1")),
		chromedp.WaitVisible(chromedp.CSS("#batch-csv-text")),
		chromedp.SetValue(chromedp.CSS("#batch-csv-text"), w.CSV),
		chromedp.Click(chromedp.CSS("#batch-validate")))
	b.poll("batch wizard: preview", `!!document.querySelector('#batch-preview-summary') || !!document.querySelector('#wizard-notice .error')`, time.Minute)
}

// uiCreateBatch creates a batch through the wizard (upload, preview with every row valid, create) and lands on its live page.
func (b *browser) uiCreateBatch(ui, tenant string, w batchWizard) {
	b.t.Helper()
	b.wizardFill(ui, tenant, w)
	if e := eval[string](b, `(document.querySelector('#wizard-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("batch wizard %s: %s", w.Name, e)
	}
	if eval[string](b, `document.querySelector('#batch-preview-summary').dataset.valid`) != "true" {
		b.t.Fatalf("batch wizard %s: rows refused: %s", w.Name, b.text("#batch-preview"))
	}
	b.wizardFinish(w)
}

// wizardFinish goes from a valid preview to the created batch's page,
// setting auto-start and the notification emails of w on the way.
func (b *browser) wizardFinish(w batchWizard) {
	b.t.Helper()
	b.do("batch wizard: schedule", 30*time.Second,
		chromedp.Click(chromedp.CSS("#wiz-next-2")),
		chromedp.WaitVisible(chromedp.CSS("#batch-interval")))
	if eval[bool](b, `document.querySelector('#batch-autostart').checked`) != w.AutoStart {
		b.do("batch wizard: auto-start", 10*time.Second, chromedp.Click(chromedp.CSS("#batch-autostart")))
	}
	b.do("batch wizard: notifications", 30*time.Second,
		chromedp.Click(chromedp.CSS("#wiz-next-3")),
		chromedp.WaitVisible(chromedp.CSS("#batch-notify")))
	if w.NotificationEmails != "" {
		b.do("batch wizard: notification emails", 10*time.Second, chromedp.SetValue(chromedp.CSS("#batch-notify"), w.NotificationEmails))
	}
	b.do("batch wizard: review", 30*time.Second,
		chromedp.Click(chromedp.CSS("#wiz-next-4")),
		chromedp.WaitVisible(chromedp.CSS("#batch-review-props")))
	b.poll("batch wizard: review", `!document.querySelector('#batch-create').disabled || !!document.querySelector('#wizard-notice .error')`, 30*time.Second)
	if e := eval[string](b, `(document.querySelector('#wizard-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("batch wizard %s: %s", w.Name, e)
	}
	b.do("batch wizard: create", 30*time.Second, chromedp.Click(chromedp.CSS("#batch-create")))
	b.poll("batch wizard: created", `location.hash.endsWith('/batches/' + encodeURIComponent(`+jsq(w.Name)+`)) && !!document.querySelector('.batch-actions[data-status]') || !!document.querySelector('#wizard-notice .error')`, 30*time.Second)
	if e := eval[string](b, `(document.querySelector('#wizard-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("batch wizard %s: create: %s", w.Name, e)
	}
}

// openBatch opens the batch's live page.
func (b *browser) openBatch(ui, tenant, batch string) {
	b.t.Helper()
	b.do("open batch "+batch, 30*time.Second,
		chromedp.Navigate(ui+"#/t/"+tenant+"/batches/"+batch),
		chromedp.WaitVisible(chromedp.CSS(`.batch-actions[data-status]`)))
}

// uiWaitBatch opens the batch's live page and waits until its status reads status (e.g. "Synced", "Completed").
func (b *browser) uiWaitBatch(ui, tenant, batch, status string, timeout time.Duration) {
	b.t.Helper()
	b.openBatch(ui, tenant, batch)
	b.poll("batch "+batch+" "+status, `(document.querySelector('#batch-status') || {}).textContent === `+jsq(status), timeout)
}

// batchCommand clicks a command of the batch page and confirms it (typed
// when the dialog asks), then waits for the page's verdict.
func (b *browser) batchCommand(ui, tenant, batch, action, typed string) {
	b.t.Helper()
	b.openBatch(ui, tenant, batch)
	acts := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(`.batch-actions button[data-action="` + action + `"]`)),
		chromedp.Click(chromedp.CSS(`.batch-actions button[data-action="` + action + `"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
	}
	if typed != "" {
		acts = append(acts, chromedp.SendKeys(chromedp.CSS("#confirm-typed"), typed), chromedp.WaitEnabled(chromedp.CSS("#confirm-ok")))
	}
	acts = append(acts, chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.do("batch "+action+" "+batch, 30*time.Second, acts...)
}

// uiCompleteBatch clicks Complete on the batch page, types the batch name in the confirmation and confirms.
func (b *browser) uiCompleteBatch(ui, tenant, batch string) {
	b.t.Helper()
	b.batchCommand(ui, tenant, batch, "complete", batch)
	b.poll("batch "+batch+" completing", `!!document.querySelector('#batch-notice .notice, #batch-notice .error')`, 30*time.Second)
	if e := eval[string](b, `(document.querySelector('#batch-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("complete batch %s: %s", batch, e)
	}
}

// uiRemoveBatch removes the batch with its confirmation.
func (b *browser) uiRemoveBatch(ui, tenant, batch string) {
	b.t.Helper()
	b.batchCommand(ui, tenant, batch, "remove", "")
	b.poll("batch "+batch+" removed", `!!document.querySelector('#batch-notice .error') || (!!document.querySelector('#batches') && /\/batches$/.test(location.hash))`, 30*time.Second)
	if e := eval[string](b, `(document.querySelector('#batch-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("remove batch %s: %s", batch, e)
	}
}

// uiIssueToken issues an admin token named name for tenant on the Tokens page and returns it (read from the once-shown box).
func (b *browser) uiIssueToken(ui, tenant, name string) string {
	b.t.Helper()
	b.do("issue token "+name, 30*time.Second,
		chromedp.Navigate(ui+"#/t/"+tenant+"/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#token-name")),
		chromedp.WaitEnabled(chromedp.CSS("#token-issue")))
	// The page may be the one already open: no earlier token may be read.
	eval[bool](b, `(document.querySelector('#token-notice').replaceChildren(), true)`)
	b.do("issue token "+name+": submit", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#token-name"), name),
		chromedp.Click(chromedp.CSS("#token-issue")))
	b.poll("token "+name+" issued", `!!document.querySelector('#token-created .secret') || !!document.querySelector('#token-notice .error')`, 30*time.Second)
	if e := eval[string](b, `(document.querySelector('#token-notice .error') || {}).textContent || ''`); e != "" {
		b.t.Fatalf("issue token %s: %s", name, e)
	}
	return b.text("#token-created .secret")
}
