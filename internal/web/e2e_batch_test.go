package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// artifacts is the directory the browser tests save their screenshots and
// downloads in: TENANTFERRY_TEST_ARTIFACTS when set, else a temp dir.
func artifacts(t *testing.T) string {
	t.Helper()
	d := os.Getenv("TENANTFERRY_TEST_ARTIFACTS")
	if d == "" {
		return t.TempDir()
	}
	d = filepath.Join(d, t.Name())
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// shot saves a full-page screenshot of the current step in dir.
func (b *browser) shot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

// buttons returns the data-action values of the buttons under sel, sorted.
func (b *browser) buttons(sel string) string {
	b.t.Helper()
	return eval[string](b, `[...document.querySelectorAll('`+sel+` button[data-action]')].map((x) => x.dataset.action).sort().join(',')`)
}

// waitFor waits until the JavaScript expression is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	b.do(what, time.Minute, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Minute))(ctx, t)
		return err
	}))
}

// layoutProblems lists the visible buttons and menus of the page that are
// not inside the viewport, and the table rows (with no menu open) taller
// than 80 pixels.
const layoutProblems = `(() => {
  const out = [];
  const w = document.documentElement.clientWidth;
  for (const el of document.querySelectorAll('main button, main summary')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue; // inside a closed menu
    if (r.left < 0 || r.right > w + 0.5) out.push((el.dataset.action || el.id || el.textContent.trim()) + ' at ' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + w);
  }
  for (const tr of document.querySelectorAll('main tbody tr')) {
    if (tr.querySelector('details[open]')) continue; // a menu opened on purpose
    const r = tr.getBoundingClientRect();
    if (r.height > 80) out.push('row ' + (tr.dataset.user || tr.dataset.batch || '?') + ' is ' + Math.round(r.height) + 'px high');
  }
  return out.join('; ');
})()`

// TestBatchPagesInChromium drives the batch pages in headless Chromium
// against a real server: the commands shown follow each batch's state
// (Created, Stopped, Synced, Completed, Removed), Complete needs the
// batch's name typed, per-user commands (stop, remove with a confirmation,
// complete with the address typed), the CSV report download, throughput,
// the page stops refreshing a Completed batch, an unknown tenant's single
// error, errors naming form fields instead of CLI flags, the layout at 800
// and 390 pixels wide, and the ETA while a batch syncs (under a bandwidth
// cap). Screenshots of each step go to the artifacts directory.
func TestBatchPagesInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	aliases := []string{"user01", "user02", "user03", "user04"}
	for i, a := range aliases {
		u := s.Mailbox("contoso", a, "pw-"+a, false)
		o := mailgen.Options{Seed: int64(10 + i), Count: 12, Owner: u.PrimarySmtpAddress, Median: 1024, AttachKB: 1}
		if a == "user03" {
			// ~240 KiB, synced under a bandwidth cap below: well past
			// the cap's 64 KiB burst (replication.ThrottleBurst).
			o.Count, o.Median = 40, 6<<10
		}
		scenario.Fill(t, s.Store, s.Content("contoso", u.ExchangeGuid).ID, scenario.Generated(o))
	}
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, aliases...)
	addr := func(a string) string { return a + "@fabrikam.tenantferry.test" }
	all := "EmailAddress\n"
	for _, a := range aliases {
		all += addr(a) + "\n"
	}
	if _, err := s.Admin.PrepareMailUsers(ctx, s.Op, "fabrikam", tr.Endpoint, []byte(all), tr.TargetDelivery, false); err != nil {
		t.Fatal(err)
	}
	batch := func(name string, autoStart bool, users ...string) {
		t.Helper()
		c := "EmailAddress\n"
		for _, u := range users {
			c += addr(u) + "\n"
		}
		if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: name, Endpoint: tr.Endpoint, CSV: []byte(c),
			TargetDeliveryDomain: tr.TargetDelivery, AutoStart: autoStart}); err != nil {
			t.Fatal(err)
		}
	}
	batch("wave-live", true, "user01", "user02")
	batch("wave-new", false, "user03")
	batch("wave-stop", false, "user04")
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "wave-stop", admin.BatchStop, false); err != nil {
		t.Fatal(err)
	}
	opToken := operatorToken(t, s)

	b := newBrowser(t)
	ui := s.PublicURL + "/ui/"
	page := ui + "#/t/fabrikam/batches/"
	bar := ".batch-actions"
	b.do("sign in", 30*time.Second,
		chromedp.Navigate(ui),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), opToken),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS(`#tenants tr[data-tenant="fabrikam"]`)))

	// Created and Stopped batches offer Start and Remove only.
	for name, want := range map[string]string{"wave-new": "remove,start", "wave-stop": "remove,start"} {
		b.do("open "+name, 30*time.Second,
			chromedp.Navigate(page+name),
			chromedp.WaitVisible(chromedp.CSS(`#batch-users tr[data-user]`)),
			chromedp.WaitVisible(chromedp.CSS(bar+`[data-status]`)))
		if got := b.buttons(bar); got != want {
			t.Errorf("%s (%s) offers %q, want %q", name, b.text("#batch-status"), got, want)
		}
		b.shot(dir, "state-"+name)
	}

	// A Synced batch: stop, sync now, complete and remove; the users'
	// menus; the throughput shows, the ETA only while syncing.
	live := `#batch-users tr[data-user="` + addr("user01") + `"]`
	live2 := `#batch-users tr[data-user="` + addr("user02") + `"]`
	b.do("open wave-live", 30*time.Second, chromedp.Navigate(page+"wave-live"), chromedp.WaitVisible(chromedp.CSS(live)))
	b.do("wave-live synced", 3*time.Minute,
		chromedp.WaitVisible(chromedp.CSS(live+`[data-status="Synced"]`)),
		chromedp.WaitVisible(chromedp.CSS(live2+`[data-status="Synced"]`)),
		chromedp.WaitVisible(chromedp.CSS(bar+`[data-status="Synced"]`)))
	if got := b.buttons(bar); got != "complete,remove,stop,sync-now" {
		t.Errorf("Synced batch offers %q", got)
	}
	b.waitFor("throughput shown", `!!document.querySelector('#batch-throughput') && /\/s/.test(document.querySelector('#batch-throughput').textContent)`)
	if eval[bool](b, `!!document.querySelector('#batch-eta')`) {
		t.Errorf("ETA shown for a batch not syncing: %s", b.text("#batch-summary"))
	}
	t.Logf("summary: %s", b.text("#batch-summary"))
	b.shot(dir, "synced")

	// The report as CSV: the CLI's columns, one row per user.
	dl := filepath.Join(t.TempDir(), "downloads")
	b.do("download report", 30*time.Second,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl})
			return err
		}),
		chromedp.Click(chromedp.CSS("#batch-report-csv")))
	var rows [][]string
	scenario.Eventually(t, 30*time.Second, "report download", func() error {
		raw, err := os.ReadFile(filepath.Join(dl, "wave-live-report.csv"))
		if err != nil {
			return err
		}
		rows, err = csv.NewReader(strings.NewReader(string(raw))).ReadAll()
		return err
	})
	if len(rows) != 3 {
		t.Fatalf("CSV report has %d lines, want a header and 2 users: %q", len(rows), rows)
	}
	head := strings.Join(rows[0], ",")
	if !strings.HasPrefix(head, "EmailAddress,") || !strings.HasSuffix(head, ",SkippedItemCount,SkippedItemList,LastLogLine") ||
		!strings.Contains(head, ",Status,") || !strings.Contains(head, ",BytesTransferred,") || strings.Contains(head, "SkippedItems,") {
		t.Errorf("CSV header %q", head)
	}
	var users []string
	for _, r := range rows[1:] {
		if len(r) != len(rows[0]) {
			t.Errorf("CSV row has %d cells, header %d: %q", len(r), len(rows[0]), r)
		}
		users = append(users, r[0]+"="+r[1])
	}
	sort.Strings(users)
	if want := addr("user01") + "=Synced," + addr("user02") + "=Synced"; strings.Join(users, ",") != want {
		t.Errorf("CSV users %q, want %q", users, want)
	}

	// Per-user commands: a Synced user may be stopped, started, completed,
	// resynced or removed; stop user02, then remove it (confirmed).
	b.do("open user02's menu", 30*time.Second, chromedp.Click(chromedp.CSS(live2+" details.menu summary")),
		chromedp.WaitVisible(chromedp.CSS(live2+` button[data-action="stop"]`)))
	if got := b.buttons(live2); got != "complete,remove,resync,start,stop" {
		t.Errorf("Synced user offers %q", got)
	}
	b.shot(dir, "user-menu")
	b.do("stop user02", time.Minute,
		chromedp.Click(chromedp.CSS(live2+` button[data-action="stop"]`)),
		chromedp.WaitVisible(chromedp.CSS(live2+`[data-status="Stopped"]`)))
	if mu, err := s.Admin.MigrationUser(ctx, s.Op, "fabrikam", addr("user02")); err != nil || mu.Status != migration.StateStopped {
		t.Fatalf("user02 after Stop in the page: %v %+v", err, mu)
	}
	b.do("open user02's menu again", 30*time.Second, chromedp.Click(chromedp.CSS(live2+" details.menu summary")),
		chromedp.WaitVisible(chromedp.CSS(live2+` button[data-action="remove"]`)))
	if got := b.buttons(live2); got != "remove,resync,start" {
		t.Errorf("Stopped user offers %q", got)
	}
	b.do("remove user02: cancel", 30*time.Second,
		chromedp.Click(chromedp.CSS(live2+` button[data-action="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-cancel")),
		chromedp.Click(chromedp.CSS("#confirm-cancel")),
		chromedp.WaitNotPresent(chromedp.CSS("#confirm")))
	if mu, err := s.Admin.MigrationUser(ctx, s.Op, "fabrikam", addr("user02")); err != nil || mu.Batch != "wave-live" {
		t.Fatalf("user02 after a cancelled Remove: %v %+v", err, mu)
	}
	b.do("remove user02", time.Minute,
		chromedp.WaitVisible(chromedp.CSS(live2+` button[data-action="remove"]`)),
		chromedp.Click(chromedp.CSS(live2+` button[data-action="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitNotPresent(chromedp.CSS(live2)))
	if us, err := s.Admin.BatchUsers(ctx, s.Op, "fabrikam", "wave-live"); err != nil || len(us) != 1 {
		t.Fatalf("wave-live users after removing user02: %v %+v", err, us)
	}

	// Complete: the button enables only once the batch's name is typed;
	// Cancel does nothing.
	b.do("complete: open", 30*time.Second,
		chromedp.Click(chromedp.CSS(bar+` button[data-action="complete"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-typed")))
	if !eval[bool](b, `document.querySelector('#confirm-ok').disabled`) {
		t.Errorf("Complete enabled before the name is typed")
	}
	b.do("complete: wrong name", 30*time.Second, chromedp.SendKeys(chromedp.CSS("#confirm-typed"), "wave-lie"))
	if !eval[bool](b, `document.querySelector('#confirm-ok').disabled`) {
		t.Errorf("Complete enabled with a wrong name")
	}
	b.shot(dir, "complete-dialog")
	b.do("complete: cancel", 30*time.Second, chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotPresent(chromedp.CSS("#confirm")))
	if bv, err := s.Admin.GetBatch(ctx, s.Op, "fabrikam", "wave-live"); err != nil || bv.CompletionRequested != nil {
		t.Fatalf("wave-live after a cancelled Complete: %v %+v", err, bv)
	}
	b.do("complete", 3*time.Minute,
		chromedp.Click(chromedp.CSS(bar+` button[data-action="complete"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-typed")),
		chromedp.SendKeys(chromedp.CSS("#confirm-typed"), "wave-live"),
		chromedp.WaitEnabled(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(live+`[data-status="Completed"]`)),
		chromedp.WaitVisible(chromedp.CSS(bar+`[data-status="Completed"]`)),
		chromedp.WaitVisible(chromedp.CSS("#batch-updated.stopped")))
	if got := b.buttons(bar); got != "remove" {
		t.Errorf("Completed batch offers %q", got)
	}
	if got := b.buttons(live); got != "remove" {
		t.Errorf("Completed user offers %q", got)
	}
	b.shot(dir, "completed")

	// Remove (confirmed) returns to the list; the Removed batch's page
	// offers no command but the report, and does not refresh.
	b.do("remove batch", time.Minute,
		chromedp.Click(chromedp.CSS(bar+` button[data-action="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(`#batches tr[data-batch="wave-live"][data-status="Removed"]`)))
	b.do("open removed batch", 30*time.Second,
		chromedp.Navigate(page+"wave-live"),
		chromedp.WaitVisible(chromedp.CSS(bar+`[data-status="Removed"]`)),
		chromedp.WaitVisible(chromedp.CSS("#batch-updated.stopped")))
	if got := b.buttons(bar); got != "" {
		t.Errorf("Removed batch offers %q", got)
	}
	if got := eval[int](b, `document.querySelectorAll('main button').length`); got != 1 || !eval[bool](b, `!!document.querySelector('#batch-report-csv')`) {
		t.Errorf("Removed batch page has %d buttons (want the report download only)", got)
	}
	b.shot(dir, "removed")

	// An unknown tenant: one error, no form.
	b.do("unknown tenant", 30*time.Second,
		chromedp.Navigate(ui+"#/t/nowhere/batches"),
		chromedp.WaitVisible(chromedp.CSS("main .error")))
	if n := eval[int](b, `document.querySelectorAll('.error').length`); n != 1 || eval[bool](b, `!!document.querySelector('#batch-wizard')`) {
		t.Errorf("unknown tenant: %d errors, wizard shown %v: %s", n, eval[bool](b, `!!document.querySelector('#batch-wizard')`), b.text("main"))
	}
	b.shot(dir, "unknown-tenant")

	// Errors speak of the form's fields, not of CLI flags.
	good := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(good, []byte("EmailAddress\n"+addr("user02")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.do("create without a CSV", 30*time.Second,
		chromedp.Navigate(ui+"#/t/fabrikam/batches"),
		chromedp.WaitVisible(chromedp.CSS("#batch-name")),
		chromedp.SendKeys(chromedp.CSS("#batch-name"), "wave-bad"),
		chromedp.Click(chromedp.CSS("#wiz-next-1")),
		chromedp.WaitVisible(chromedp.CSS("#batch-validate")),
		chromedp.Click(chromedp.CSS("#batch-validate")),
		chromedp.WaitVisible(chromedp.CSS("#wizard-notice .error")))
	if e := b.text("#wizard-notice .error"); strings.Contains(e, "--") || !strings.Contains(e, "Fill in CSV file") {
		t.Errorf("missing CSV shown as %q", e)
	}
	// No delivery domain chosen (the select emptied): the error names the
	// field.
	eval[bool](b, `(document.querySelector('#batch-tdd').value = '', true)`)
	b.do("create without a target delivery domain", 30*time.Second,
		chromedp.SetUploadFiles(chromedp.CSS("#batch-csv"), []string{good}))
	b.waitFor("the delivery domain error", `!!document.querySelector('#wizard-notice .error .hint') && /Target delivery domain/.test(document.querySelector('#wizard-notice .error').textContent)`)
	if e := b.text("#wizard-notice .error"); strings.Contains(e, "--") || b.text("#wizard-notice .error .hint") != "Fill in Target delivery domain" {
		t.Errorf("missing target delivery domain shown as %q", e)
	}
	b.shot(dir, "field-error")

	// Narrow screens: every command stays in view and rows stay compact,
	// on the list and on a batch's page, at 800 and 390 pixels.
	for _, w := range []int64{800, 390} {
		for _, p := range []struct{ name, url, wait string }{
			{"list", ui + "#/t/fabrikam/batches", `#batches tr[data-batch="wave-stop"]`},
			{"batch", page + "wave-stop", `#batch-users tr[data-user]`},
		} {
			what := fmt.Sprintf("%s at %dpx", p.name, w)
			b.do(what, 30*time.Second,
				chromedp.EmulateViewport(w, 844),
				chromedp.Navigate(p.url),
				chromedp.WaitVisible(chromedp.CSS(p.wait)))
			if probs := eval[string](b, layoutProblems); probs != "" {
				t.Errorf("%s: %s", what, probs)
			}
			if p.name == "batch" {
				b.do(what+": open a user's menu", 30*time.Second, chromedp.Click(chromedp.CSS(`#batch-users tr[data-user] details.menu summary`)),
					chromedp.WaitVisible(chromedp.CSS(`#batch-users tr[data-user] button[data-action="remove"]`)))
			} else {
				b.do(what+": open a batch's menu", 30*time.Second, chromedp.Click(chromedp.CSS(`#batches tr[data-batch="wave-stop"] details.menu summary`)),
					chromedp.WaitVisible(chromedp.CSS(`#batches tr[data-batch="wave-stop"] button[data-action="start"]`)))
			}
			if probs := eval[string](b, layoutProblems); probs != "" {
				t.Errorf("%s: %s", what, probs)
			}
			b.shot(dir, fmt.Sprintf("layout-%s-%d", p.name, w))
		}
	}

	// The ETA shows while a batch syncs: a bandwidth cap on the endpoint
	// keeps wave-new's user Syncing until the page has shown it.
	capBps, noCap := int64(16<<10), int64(0)
	if _, err := s.Admin.UpdateEndpoint(ctx, s.Op, "fabrikam", tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &capBps}); err != nil {
		t.Fatal(err)
	}
	b.do("start wave-new", time.Minute,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Navigate(page+"wave-new"),
		chromedp.WaitVisible(chromedp.CSS(bar+`[data-status="Created"]`)),
		chromedp.Click(chromedp.CSS(bar+` button[data-action="start"]`)),
		chromedp.WaitVisible(chromedp.CSS("#batch-eta")))
	// (It reads "estimating…" until the pass reports bytes and a rate: a
	// pass of this size reports its progress only at its end.)
	t.Logf("while syncing: ETA %s, %s", b.text("#batch-eta .v"), b.text("#batch-throughput"))
	b.shot(dir, "syncing-eta")
	if _, err := s.Admin.UpdateEndpoint(ctx, s.Op, "fabrikam", tr.Endpoint, directory.EndpointUpdate{MaxBytesPerSecond: &noCap}); err != nil {
		t.Fatal(err)
	}
	b.do("wave-new synced", 3*time.Minute,
		chromedp.WaitVisible(chromedp.CSS(`#batch-users tr[data-status="Synced"]`)),
		chromedp.WaitNotPresent(chromedp.CSS("#batch-eta")))

	// A user's Complete needs its address typed too.
	u3 := `#batch-users tr[data-user="` + addr("user03") + `"]`
	b.do("complete user03", 3*time.Minute,
		chromedp.Click(chromedp.CSS(u3+" details.menu summary")),
		chromedp.WaitVisible(chromedp.CSS(u3+` button[data-action="complete"]`)),
		chromedp.Click(chromedp.CSS(u3+` button[data-action="complete"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-typed")))
	if !eval[bool](b, `document.querySelector('#confirm-ok').disabled`) {
		t.Errorf("a user's Complete enabled before the address is typed")
	}
	b.do("complete user03: confirm", 3*time.Minute,
		chromedp.SendKeys(chromedp.CSS("#confirm-typed"), addr("user03")),
		chromedp.WaitEnabled(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS(u3+`[data-status="Completed"]`)))
	b.shot(dir, "user-completed")

	b.checkConsole()
	t.Logf("screenshots in %s", dir)
}
