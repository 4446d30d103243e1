package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// browser is a headless Chromium tab driven by chromedp for one test.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// chromium returns the Chromium binary (TENANTFERRY_CHROMIUM, default
// /usr/bin/chromium) or skips the test.
func chromium(t *testing.T) string {
	p := os.Getenv("TENANTFERRY_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		t.Skipf("Chromium not found at %s (install Debian's chromium package or set TENANTFERRY_CHROMIUM): %v", p, err)
	}
	return p
}

// browserTest skips a browser test under -short and where Chromium is
// not installed.
func browserTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium(t)
}

// newBrowser starts headless Chromium with a fresh profile and records the
// page's console.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx}
	// Start the browser without a deadline (a deadline on the first run
	// would end the browser with it), then follow the console.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// do runs actions with a timeout; on failure it saves a screenshot.
func (b *browser) do(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitText polls the text of sel until it is want or timeout passes, and
// returns the last text read.
func (b *browser) waitText(sel, want string, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := b.text(sel)
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// uiSignIn loads ui (a server's "/ui/" URL) afresh and signs in with token
// through the sign-in link (/ui/#token=TOKEN), replacing the session this
// tab had with that server; it returns once the header shows who is signed
// in. Each server's origin keeps its own session, so a test can switch
// between the admins of two servers in one browser.
func (b *browser) uiSignIn(ui, token string) {
	b.t.Helper()
	b.do("sign in at "+ui, 30*time.Second,
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(ui+"#token="+url.PathEscape(token)),
		chromedp.WaitVisible(chromedp.CSS("#whoami")))
}

// text returns the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves a PNG of the page in the test's temp dir (and in
// TENANTFERRY_WEB_SCREENSHOTS when set) and returns its path.
func (b *browser) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	dirs := []string{b.t.TempDir()}
	if d := os.Getenv("TENANTFERRY_WEB_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	var p string
	for _, d := range dirs {
		p = filepath.Join(d, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			b.t.Logf("screenshot %s: %v", name, err)
		}
	}
	b.t.Logf("screenshot: %s", p)
	return p
}

// checkConsole fails on uncaught exceptions and on browser errors other
// than failed requests (which the API's coded errors produce on purpose):
// a CSP or Trusted Types violation is such an error.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
			b.t.Errorf("browser console: %s (%s:%d)", m, m.URL, m.Line)
		}
	}
}

// codedError is how the pages show an API error.
var codedError = regexp.MustCompile(`^[A-Z][A-Za-z0-9]+: \S`)

// TestWebAdminInChromium drives the web admin in headless Chromium against
// a real in-process server: sign in with the operator token, create a
// tenant, accept an admin-consent URL as the source tenant's admin (after a
// refused attempt with another tenant's token), look at a mailbox, test an
// endpoint, upload a bad CSV, watch a real migration reach Synced on the
// live batch page and open the user's report, create a batch from an
// uploaded CSV and start and complete it with the page's buttons, and sign
// in as a tenant admin.
func TestWebAdminInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium(t)
	ctx := context.Background()
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	// More tenants than an API page holds: the tenants page follows the
	// list's cursor to show the last of them.
	for i := 0; i < 100; i++ {
		if _, err := s.Dir.CreateTenant(ctx, fmt.Sprintf("zz-paged-%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Names that would be markup if anything rendered them as HTML.
	const hostile = `<img src=x onerror="window.__pwned=1">`
	u := s.Mailbox("contoso", "user01", "pw-user01", false)
	dn := "User " + hostile
	if _, err := s.Admin.UpdateRecipient(ctx, s.Op, "contoso", "user01", directory.RecipientUpdate{DisplayName: &dn}); err != nil {
		t.Fatal(err)
	}
	scenario.Fill(t, s.Store, s.Content("contoso", u.ExchangeGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 7, Count: 150, Owner: u.PrimarySmtpAddress, Median: 2048, AttachKB: 16}))
	u2 := s.Mailbox("contoso", "user02", "pw-user02", false)
	scenario.Fill(t, s.Store, s.Content("contoso", u2.ExchangeGuid).ID,
		scenario.Generated(mailgen.Options{Seed: 8, Count: 40, Owner: u2.PrimarySmtpAddress, Median: 2048, AttachKB: 16}))
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01", "user02")
	const target, target2 = "user01@fabrikam.tenantferry.test", "user02@fabrikam.tenantferry.test"
	csv := "EmailAddress\n" + target + "\n"
	csv2 := "EmailAddress\n" + target2 + "\n"
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, []byte(csv+target2+"\n"), tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	opToken := operatorToken(t, s)

	b := newBrowser(t)
	ui := s.PublicURL + "/ui/"
	start := time.Now()

	// Sign in with the operator token; the tenants page lists the tenants.
	b.do("sign in", 30*time.Second,
		chromedp.Navigate(ui),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), opToken),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`#tenants tr[data-tenant="contoso"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tenants tr[data-tenant="zz-paged-099"]`)))
	if got := b.text("#whoami"); got != "Operator" {
		t.Errorf("signed in as %q", got)
	}

	// Create a tenant; it is listed, and its admin token is shown once.
	b.do("create tenant", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#new-tenant-name"), "northwind"),
		chromedp.Click(chromedp.CSS("#create-tenant")),
		chromedp.WaitVisible(chromedp.CSS(`#tenants tr[data-tenant="northwind"]`)),
		chromedp.WaitVisible(chromedp.CSS("#tenant-created .secret")))
	northwindToken := b.text("#tenant-created .secret")
	b.screenshot("tenants")
	if _, err := s.Dir.GetTenant(ctx, "northwind"); err != nil || northwindToken == "" {
		t.Fatalf("tenant northwind: %v (token %q)", err, northwindToken)
	}
	// Creating it again shows the API's coded error: the problem's Code
	// and detail (not a bare HTTP status).
	b.do("create tenant twice", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#new-tenant-name"), "northwind"),
		chromedp.Click(chromedp.CSS("#create-tenant")),
		chromedp.WaitVisible(chromedp.CSS("#tenant-notice .error")))
	if e := b.text("#tenant-notice .error"); !codedError.MatchString(e) || !strings.HasPrefix(e, "TenantExists: ") || !strings.Contains(e, "northwind") {
		t.Errorf("duplicate tenant error shown as %q", e)
	}

	// Admin consent: tailspin's admin accepts an app of fabrikam whose name
	// is hostile markup.
	tc, err := s.Admin.CreateTenant(ctx, s.Op, "tailspin")
	if err != nil {
		t.Fatal(err)
	}
	app, err := s.Admin.CreateApp(ctx, s.Op, "fabrikam", "Mover "+hostile, []string{directory.PermissionMailboxMigration})
	if err != nil {
		t.Fatal(err)
	}
	consentURL, err := s.Admin.ConsentURL(ctx, s.Op, "fabrikam", app.AppID, s.PublicURL, tc.Tenant.InitialDomain)
	if err != nil {
		t.Fatal(err)
	}
	b.do("open consent URL", 30*time.Second,
		chromedp.Navigate(consentURL),
		chromedp.WaitVisible(chromedp.CSS("#c-accept")),
		chromedp.WaitVisible(chromedp.CSS("#c-signed-in")))
	for sel, want := range map[string]string{"#c-app-name": app.Name, "#c-app-id": app.AppID, "#c-issuer": app.Issuer,
		"#c-tenant": tc.Tenant.InitialDomain, "#c-permissions": directory.PermissionMailboxMigration} {
		if got := b.text(sel); got != want {
			t.Errorf("consent page %s = %q, want %q", sel, got, want)
		}
	}
	// Another tenant's admin is refused with the API's coded error.
	b.do("consent with another tenant's token", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#c-token"), northwindToken),
		chromedp.Click(chromedp.CSS("#c-accept")),
		chromedp.WaitVisible(chromedp.CSS("#c-result .error")))
	if e := b.text("#c-result .error"); !strings.HasPrefix(e, "TenantAccessDenied: ") {
		t.Errorf("refused consent shown as %q", e)
	}
	b.do("consent as tailspin's admin", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#c-token"), tc.AdminToken),
		chromedp.Click(chromedp.CSS("#c-accept")),
		chromedp.WaitVisible(chromedp.CSS("#c-granted")))
	cs, err := s.Admin.ListConsents(ctx, s.Op, "tailspin")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].AppID != app.AppID || cs[0].Issuer != app.Issuer || !strings.HasPrefix(cs[0].GrantedBy, "tenant-admin:") ||
		strings.Join(cs[0].Permissions, ",") != directory.PermissionMailboxMigration {
		t.Fatalf("consents of tailspin after Accept: %+v", cs)
	}
	b.screenshot("consent")

	// A mailbox's details show the Get-Mailbox fields, the hostile display
	// name as text.
	b.do("mailbox details", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes/"+u.PrimarySmtpAddress),
		chromedp.WaitVisible(chromedp.CSS(`#recipient dd[data-field="ExchangeGuid"] code`)))
	if got := b.text(`#recipient dd[data-field="ExchangeGuid"] code`); got != u.ExchangeGuid {
		t.Errorf("ExchangeGuid shown %q, want %q", got, u.ExchangeGuid)
	}
	if got := b.text(`#recipient dd[data-field="DisplayName"]`); got != dn {
		t.Errorf("DisplayName shown %q, want %q", got, dn)
	}

	// The endpoint test shows one line per check.
	b.do("endpoint test", time.Minute,
		chromedp.Navigate(ui+"#/t/fabrikam/endpoints"),
		chromedp.WaitVisible(chromedp.CSS(`#endpoints tr[data-name="`+tr.Endpoint+`"] button.test`)),
		chromedp.SendKeys(chromedp.CSS("#test-mailbox"), target),
		chromedp.Click(chromedp.CSS(`#endpoints tr[data-name="`+tr.Endpoint+`"] button.test`)),
		chromedp.WaitVisible(chromedp.CSS(`#checks tr[data-result]`)))
	rows := eval[int](b, `document.querySelectorAll('#checks tr[data-result]').length`)
	failed := eval[int](b, `document.querySelectorAll('#checks tr[data-result="Failed"]').length`)
	if rows < 3 || failed != 0 || !strings.Contains(b.text(".endpoint-test p"), "Success") {
		t.Errorf("endpoint test: %d checks, %d failed: %s", rows, failed, b.text(".endpoint-test"))
	}
	b.screenshot("endpoint-test")

	// A CSV without an EmailAddress column is refused with a coded error
	// by the wizard's preview.
	b.wizardFill(ui, "fabrikam", batchWizard{Name: "bad", Endpoint: tr.Endpoint, TargetDeliveryDomain: tr.TargetDelivery, CSV: "Address\n" + target + "\n"})
	if e := b.text("#wizard-notice .error"); !strings.HasPrefix(e, "InvalidCsv: ") {
		t.Errorf("bad CSV shown as %q", e)
	}

	// A real migration: the live batch page shows the user reach Synced.
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "wave1", Endpoint: tr.Endpoint, CSV: []byte(csv),
		TargetDeliveryDomain: tr.TargetDelivery, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	row := `#batch-users tr[data-user="` + target + `"]`
	b.do("open batch page", 30*time.Second,
		chromedp.Navigate(ui+"#/t/fabrikam/batches/wave1"),
		chromedp.WaitVisible(chromedp.CSS(row)))
	b.do("user reaches Synced", 3*time.Minute, chromedp.WaitVisible(chromedp.CSS(row+`[data-status="Synced"]`)))
	us, err := s.Admin.BatchUsers(ctx, s.Op, "fabrikam", "wave1")
	if err != nil || len(us) != 1 {
		t.Fatalf("batch users: %v %+v", err, us)
	}
	// The page polls: wait until it shows the state read above (a Synced
	// move's figures no longer change).
	want := fmt.Sprintf("%d / %d", us[0].ItemsSynced, us[0].ItemsTotal)
	if got := b.waitText(row+" td.items", want, 30*time.Second); got != want || us[0].ItemsTotal == 0 {
		t.Errorf("items shown %q, want %q", got, want)
	}
	// PercentComplete as the API reports it (a Synced move stops at 95%:
	// the rest is the completion).
	if got, want := b.text(row+" .pct"), fmt.Sprintf("%d%%", us[0].PercentComplete); got != want || us[0].PercentComplete < 90 {
		t.Errorf("progress shown %q, want %q", got, want)
	}
	if got := eval[float64](b, `document.querySelector('`+row+` progress').value`); got != float64(us[0].PercentComplete) {
		t.Errorf("progress bar value %v, want %d", got, us[0].PercentComplete)
	}
	shot := b.screenshot("batch")
	t.Logf("batch page: %s; %s", b.text(row), shot)

	// The per-user report lists the move's log.
	b.do("user report", 30*time.Second,
		chromedp.Click(chromedp.CSS(row+" a")),
		chromedp.WaitVisible(chromedp.CSS("#report-log tbody tr")),
		chromedp.WaitVisible(chromedp.CSS("#skipped")))
	if n := eval[int](b, `document.querySelectorAll('#report-log tbody tr').length`); n < 2 {
		t.Errorf("report log has %d lines", n)
	}
	b.screenshot("report")

	// A batch created in the page from an uploaded CSV, without auto-start:
	// the Start button starts it, Complete (with approve skipped items)
	// completes it, and the target becomes a mailbox.
	goodCSV := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(goodCSV, []byte(csv2), 0o600); err != nil {
		t.Fatal(err)
	}
	row2 := `#batch-users tr[data-user="` + target2 + `"]`
	b.do("create batch from a CSV", 30*time.Second,
		chromedp.Navigate(ui+"#/t/fabrikam/batches"),
		chromedp.WaitVisible(chromedp.CSS(`#batches tr[data-batch="wave1"]`)),
		chromedp.SetValue(chromedp.CSS("#batch-name"), "wave2"),
		chromedp.SetValue(chromedp.CSS("#batch-tdd"), tr.TargetDelivery),
		chromedp.Click(chromedp.CSS("#wiz-next-1")),
		chromedp.WaitVisible(chromedp.CSS("#batch-csv")),
		chromedp.SetUploadFiles(chromedp.CSS("#batch-csv"), []string{goodCSV}),
		chromedp.WaitVisible(chromedp.CSS(`#batch-preview-rows tr[data-status="OK"]`)))
	b.wizardFinish(batchWizard{Name: "wave2"})
	b.do("wave2 page", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(row2)))
	if st := b.text("#batch-status"); st != "Created" {
		t.Errorf("new batch without auto-start is %q", st)
	}
	bv, err := s.Admin.GetBatch(ctx, s.Op, "fabrikam", "wave2")
	if err != nil || bv.AutoStart || bv.Endpoint != tr.Endpoint || bv.TargetDeliveryDomain != tr.TargetDelivery || bv.TotalCount != 1 {
		t.Fatalf("batch wave2 as created in the page: %v %+v", err, bv)
	}
	b.do("start", 3*time.Minute,
		chromedp.Click(chromedp.CSS(`.batch-actions button[data-action="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(row2+`[data-status="Synced"]`)))
	// Complete asks for the batch's name to be typed (approve skipped
	// items is in the same dialog).
	b.do("complete", 3*time.Minute,
		chromedp.Click(chromedp.CSS(`.batch-actions button[data-action="complete"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-typed")),
		chromedp.SendKeys(chromedp.CSS("#confirm-typed"), "wave2"),
		chromedp.Click(chromedp.CSS("#confirm-approve")),
		chromedp.WaitEnabled(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(row2+`[data-status="Completed"]`)))
	if got := b.text(row2 + " .pct"); got != "100%" {
		t.Errorf("completed user's progress shown %q", got)
	}
	if r, err := s.Admin.GetRecipient(ctx, s.Op, "fabrikam", target2); err != nil || r.Type != directory.UserMailbox || r.ExchangeGuid != u2.ExchangeGuid {
		t.Errorf("target after completion in the page: %v %+v", err, r)
	}
	b.screenshot("completed")

	// A tenant admin lands on their own tenant.
	b.do("tenant admin sign in", 30*time.Second,
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), tc.AdminToken),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#tenant-props")))
	if got := b.text("#whoami"); got != "Tenant admin · tailspin" {
		t.Errorf("tenant admin signed in as %q", got)
	}
	b.do("tenant admin consents", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#tabs a[data-section="consents"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#consents tr[data-app="`+app.AppID+`"]`)))

	if eval[bool](b, `window.__pwned === 1`) {
		t.Errorf("hostile markup ran")
	}
	b.checkConsole()
	t.Logf("browser steps took %s", time.Since(start).Round(time.Millisecond))
}
