package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestTokensPageInChromium drives the Tokens page in headless Chromium
// against a real server, signed in as a tenant admin: a token issued with
// an expiry is shown once and listed with it (the server agrees), it
// works until it is revoked after a confirmation, then the API refuses it
// with 401; the admin cannot see another tenant's tokens. Screenshots at
// 1400, 800 and 390 pixels wide.
func TestTokensPageInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	s := scenario.Start(t, scenario.Options{})
	contoso := s.Tenant("contoso")
	s.Tenant("fabrikam")
	admin, _, _, err := s.Admin.IssueAdminToken(ctx, s.Op, "contoso", "contoso-admin", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	whoami := func(tok string) *http.Response {
		req, _ := http.NewRequest("GET", s.PublicURL+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	b := newBrowser(t)
	ui := s.PublicURL + "/ui/"
	b.uiSignIn(ui, admin)

	// Issue "ci" expiring in 7 days: shown once, listed with its expiry.
	b.do("issue ci", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/tokens"),
		chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-name="contoso-admin"]`)),
		chromedp.SetValue(chromedp.CSS("#token-name"), "ci"),
		chromedp.SetValue(chromedp.CSS("#token-expires"), "168h"),
		chromedp.Click(chromedp.CSS("#token-issue")),
		chromedp.WaitVisible(chromedp.CSS("#token-created .secret")),
		chromedp.WaitVisible(chromedp.CSS("#token-copy")),
		chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-name="ci"]`)))
	ci := b.text("#token-created .secret")
	if !strings.HasPrefix(ci, "tfa_") {
		t.Fatalf("issued token shown as %q", ci)
	}
	if body := b.text("#tokens"); strings.Contains(body, "tfa_") {
		t.Errorf("the list shows a token: %s", body)
	}
	if e := b.text(`#tokens tr[data-name="ci"] td.expires`); e == "never" || e == "" {
		t.Errorf("ci's expiry shown as %q", e)
	}
	ts, err := s.Dir.ListAdminTokens(ctx, contoso.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range ts {
		names = append(names, x.Name)
		if x.Name == "ci" {
			if d := time.Until(x.ExpiresAt); d < 167*time.Hour || d > 169*time.Hour {
				t.Errorf("ci expires in %s, want 7 days", d)
			}
			if !strings.HasPrefix(x.ID, b.text(`#tokens tr[data-name="ci"] code`)) {
				t.Errorf("ci's short id %q is not a prefix of %s", b.text(`#tokens tr[data-name="ci"] code`), x.ID)
			}
		}
	}
	if got := strings.Join(names, ","); got != "initial,contoso-admin,ci" {
		t.Errorf("contoso's tokens: %s", got)
	}
	if r := whoami(ci); r.StatusCode != http.StatusOK {
		t.Fatalf("the new token: %d", r.StatusCode)
	}
	// The step helper issues one too (default expiry).
	if tok := b.uiIssueToken(ui, "contoso", "scenario"); !strings.HasPrefix(tok, "tfa_") || whoami(tok).StatusCode != http.StatusOK {
		t.Errorf("uiIssueToken: %q", tok)
	}
	// A refused issue shows its coded error.
	b.do("issue with a bad name", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#token-name"), strings.Repeat("x", 300)),
		chromedp.WaitEnabled(chromedp.CSS("#token-issue")))
	eval[bool](b, `(document.querySelector('#token-notice').replaceChildren(), true)`)
	b.do("click issue", 10*time.Second, chromedp.Click(chromedp.CSS("#token-issue")))
	b.poll("refused issue", `!!document.querySelector('#token-notice').firstChild`, 20*time.Second)
	t.Logf("refused issue: notice %q", b.text("#token-notice"))
	if e := b.text("#token-notice .error"); !codedError.MatchString(e) || strings.Contains(e, "--") {
		t.Errorf("refused issue shown as %q", e)
	}

	for _, w := range []int64{1400, 800, 390} {
		b.do(fmt.Sprintf("layout %d", w), 30*time.Second, chromedp.EmulateViewport(w, 900), chromedp.WaitVisible(chromedp.CSS("#tokens")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("tokens page at %d px: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("tokens-%d", w))
	}
	b.do("reset viewport", 10*time.Second, chromedp.EmulateViewport(1400, 1000))

	// Revoke ci after the confirmation: the API refuses it from then on.
	row := `#tokens tr[data-name="ci"]`
	b.do("revoke ci", 30*time.Second,
		chromedp.Click(chromedp.CSS(row+` button[data-action="revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS("#token-revoked")),
		chromedp.WaitNotPresent(chromedp.CSS(row)))
	r := whoami(ci)
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("revoked token: %d, WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	b.shot(dir, "revoked")

	// contoso's admin cannot see fabrikam's tokens.
	b.do("another tenant's tokens", 30*time.Second,
		chromedp.Navigate(ui+"#/t/fabrikam/tokens"),
		chromedp.WaitVisible(chromedp.CSS("#view .error")))
	if e := b.text("#view .error"); !strings.HasPrefix(e, "TenantAccessDenied: ") {
		t.Errorf("another tenant's tokens: %q", e)
	}
	if eval[bool](b, `!!document.querySelector('#tokens')`) {
		t.Errorf("another tenant's tokens are listed")
	}
	b.checkConsole()
}
