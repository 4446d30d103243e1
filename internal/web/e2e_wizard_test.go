package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestBatchWizardInChromium drives the "New migration batch" wizard in
// headless Chromium against a real server: a CSV with good and bad rows
// shows each bad row's problem with its code (checked by the server) and
// Create stays out of reach, creating nothing; an empty CSV's error names
// the form's field; the fixed CSV creates a batch with the schedule,
// notification and limit values entered (read back through the core); and
// the step helpers of the batch steps (create, wait, complete, remove) run
// a real move. Screenshots at 1400, 800 and 390 pixels wide.
func TestBatchWizardInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	for i, a := range []string{"user01", "user02", "user03"} {
		u := s.Mailbox("contoso", a, "pw-"+a, false)
		scenario.Fill(t, s.Store, s.Content("contoso", u.ExchangeGuid).ID,
			scenario.Generated(mailgen.Options{Seed: int64(20 + i), Count: 6, Owner: u.PrimarySmtpAddress, Median: 1024}))
	}
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01", "user02", "user03")
	addr := func(a string) string { return a + "@fabrikam.tenantferry.test" }
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, []byte("EmailAddress\n"+addr("user01")+"\n"+addr("user02")+"\n"),
		tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	// user02 is in another batch; user03 is not prepared (no MailUser).
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "busy", Endpoint: tr.Endpoint,
		CSV: []byte("EmailAddress\n" + addr("user02") + "\n"), TargetDeliveryDomain: tr.TargetDelivery}); err != nil {
		t.Fatal(err)
	}
	countBatches := func() int {
		bs, err := s.Admin.ListBatches(ctx, s.Op, "fabrikam")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range bs {
			if v.Status != "Removed" {
				n++
			}
		}
		return n
	}
	b := newBrowser(t)
	ui := s.PublicURL + "/ui/"
	b.uiSignIn(ui, operatorToken(t, s))

	// Good and bad rows: each bad row shows its problem and code.
	bad := "EmailAddress\n" + strings.Join([]string{addr("user01"), "not-an-address", addr("user01"), addr("user02"), addr("user03")}, "\n") + "\n"
	b.wizardFill(ui, "fabrikam", batchWizard{Name: "wave1", Endpoint: tr.Endpoint, TargetDeliveryDomain: tr.TargetDelivery, CSV: bad})
	got := eval[string](b, `[...document.querySelectorAll('#batch-preview-rows tr[data-line]')].map((r) => r.dataset.line + ' ' + r.dataset.status + ' ' + r.dataset.code).join('; ')`)
	if want := "2 OK ; 3 Error InvalidCsv; 4 Error InvalidCsv; 5 Error UserInAnotherBatch; 6 Error RecipientNotFound"; got != want {
		t.Errorf("preview rows %q, want %q", got, want)
	}
	for line, words := range map[int]string{3: "not a valid SMTP address", 4: "listed twice", 5: "busy", 6: "no recipient"} {
		if txt := b.text(fmt.Sprintf(`#batch-preview-rows tr[data-line="%d"] td.detail`, line)); !strings.Contains(txt, words) {
			t.Errorf("line %d's problem shown as %q, want %q in it", line, txt, words)
		}
	}
	if v := b.text("#batch-preview-summary"); !strings.Contains(v, "4 with a problem") {
		t.Errorf("preview summary %q", v)
	}
	for _, w := range []int64{1400, 800, 390} {
		b.do(fmt.Sprintf("layout %d", w), 30*time.Second, chromedp.EmulateViewport(w, 900), chromedp.WaitVisible(chromedp.CSS("#batch-preview-rows")))
		// The problems wrap in their column (rows grow): only buttons out
		// of the viewport count here.
		if probs := eval[string](b, layoutProblems+`.split('; ').filter((p) => p && !/px high$/.test(p)).join('; ')`); probs != "" {
			t.Errorf("preview at %d px: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("preview-bad-rows-%d", w))
	}
	b.do("reset viewport", 10*time.Second, chromedp.EmulateViewport(1400, 1000))
	// Next does not leave a preview with bad rows; Create is not reachable.
	b.do("next with bad rows", 30*time.Second, chromedp.Click(chromedp.CSS("#wiz-next-2")), chromedp.WaitVisible(chromedp.CSS("#batch-preview-rows")))
	if eval[bool](b, `!document.querySelector('#wiz-step-3').hidden || !document.querySelector('#wiz-step-5').hidden`) {
		t.Errorf("the wizard went past a preview with bad rows")
	}
	if !eval[bool](b, `document.querySelector('#batch-create').disabled || document.querySelector('#wiz-step-5').hidden`) {
		t.Errorf("Create is usable while rows fail")
	}
	// An empty CSV: the error names the form's field, not a CLI flag.
	eval[bool](b, `(document.querySelector('#batch-csv-text').value = '') === ''`)
	b.do("empty CSV", 30*time.Second, chromedp.Click(chromedp.CSS("#batch-validate")),
		chromedp.WaitVisible(chromedp.CSS("#wizard-notice .error")))
	if e := b.text("#wizard-notice .error"); !strings.HasPrefix(e, "InvalidCsv: ") || strings.Contains(e, "--") || !strings.Contains(e, "CSV file") {
		t.Errorf("empty CSV error shown as %q", e)
	}
	if n := countBatches(); n != 1 {
		t.Fatalf("%d batches after refused previews, want 1", n)
	}

	// The other batch is removed (its confirmation); then the fixed CSV
	// with a schedule, notifications and limits creates the batch.
	b.uiRemoveBatch(ui, "fabrikam", "busy")
	if n := countBatches(); n != 0 {
		t.Fatalf("%d batches after removing busy", n)
	}
	good := "EmailAddress\n" + addr("user01") + "\n"
	b.wizardFill(ui, "fabrikam", batchWizard{Name: "wave1", Endpoint: tr.Endpoint, TargetDeliveryDomain: tr.TargetDelivery, CSV: good})
	if v := eval[string](b, `document.querySelector('#batch-preview-summary').dataset.valid`); v != "true" {
		t.Fatalf("fixed CSV: %s", b.text("#batch-preview"))
	}
	const startAt, completeAt = "2031-03-04T05:06", "2031-03-05T07:08"
	b.do("schedule and limits", 30*time.Second,
		chromedp.Click(chromedp.CSS("#wiz-next-2")),
		chromedp.WaitVisible(chromedp.CSS("#batch-start-after")),
		chromedp.SetValue(chromedp.CSS("#batch-start-after"), startAt),
		chromedp.SetValue(chromedp.CSS("#batch-complete-after"), completeAt),
		chromedp.SetValue(chromedp.CSS("#batch-interval"), "2h"),
		chromedp.Click(chromedp.CSS("#wiz-next-3")),
		chromedp.WaitVisible(chromedp.CSS("#batch-notify")),
		chromedp.SetValue(chromedp.CSS("#batch-notify"), "it@fabrikam.example, ops@fabrikam.example"),
		chromedp.SetValue(chromedp.CSS("#batch-report-interval"), "6h"),
		chromedp.SetValue(chromedp.CSS("#batch-large-limit"), "5"),
		chromedp.SetValue(chromedp.CSS("#batch-bad-limit"), "3"),
		chromedp.SetValue(chromedp.CSS("#batch-max-size"), "64"),
		chromedp.Click(chromedp.CSS("#wiz-next-4")),
		chromedp.WaitVisible(chromedp.CSS("#batch-review-props")),
		chromedp.WaitEnabled(chromedp.CSS("#batch-create")))
	for _, w := range []int64{1400, 800, 390} {
		b.do(fmt.Sprintf("review %d", w), 30*time.Second, chromedp.EmulateViewport(w, 900), chromedp.WaitVisible(chromedp.CSS("#batch-create")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("review at %d px: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("review-%d", w))
	}
	b.do("create", 30*time.Second, chromedp.EmulateViewport(1400, 1000), chromedp.Click(chromedp.CSS("#batch-create")),
		chromedp.WaitVisible(chromedp.CSS(`#batch-users tr[data-user="`+addr("user01")+`"]`)))
	b.shot(dir, "created")
	wantStart := eval[string](b, `new Date('`+startAt+`').toISOString()`)
	wantComplete := eval[string](b, `new Date('`+completeAt+`').toISOString()`)
	v, err := s.Admin.GetBatch(ctx, s.Op, "fabrikam", "wave1")
	if err != nil {
		t.Fatal(err)
	}
	if v.StartAfter == nil || v.StartAfter.UTC().Format("2006-01-02T15:04:05.000Z") != wantStart ||
		v.CompleteAfter == nil || v.CompleteAfter.UTC().Format("2006-01-02T15:04:05.000Z") != wantComplete ||
		v.IncrementalSyncInterval != "2h0m0s" || v.NotificationEmails != "it@fabrikam.example, ops@fabrikam.example" || v.ReportInterval != "6h0m0s" ||
		v.LargeItemLimit != 5 || v.BadItemLimit != 3 || v.MaxItemSize != 64<<20 || !v.AutoStart || v.AutoComplete || v.TotalCount != 1 ||
		v.Endpoint != tr.Endpoint || v.TargetDeliveryDomain != tr.TargetDelivery {
		t.Errorf("batch as created in the wizard (start %s, complete %s): %+v", wantStart, wantComplete, v)
	}

	// The step helpers run a real move: create, synced, complete, removed.
	b.uiCreateBatch(ui, "fabrikam", batchWizard{Name: "wave2", Endpoint: tr.Endpoint, TargetDeliveryDomain: tr.TargetDelivery,
		CSV: "EmailAddress\n" + addr("user02") + "\n", NotificationEmails: "it@fabrikam.example", AutoStart: true})
	b.uiWaitBatch(ui, "fabrikam", "wave2", "Synced", 3*time.Minute)
	b.uiCompleteBatch(ui, "fabrikam", "wave2")
	b.uiWaitBatch(ui, "fabrikam", "wave2", "Completed", 3*time.Minute)
	b.shot(dir, "wave2-completed")
	if v, err := s.Admin.GetBatch(ctx, s.Op, "fabrikam", "wave2"); err != nil || v.NotificationEmails != "it@fabrikam.example" || !v.AutoStart {
		t.Errorf("wave2: %v %+v", err, v)
	}
	b.uiRemoveBatch(ui, "fabrikam", "wave2")
	b.checkConsole()
}
