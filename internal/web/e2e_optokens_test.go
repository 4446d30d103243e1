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

// TestOperatorTokensPageInChromium drives the operator's Tokens page
// (#/tokens) in headless Chromium against a real server: a token issued
// with an expiry is shown once and listed with it (the server agrees), it
// works until it is revoked after a confirmation, then the API refuses it
// with 401; revoking the last operator token is refused with the coded
// error and the token keeps working. Screenshots at 1400, 800 and 390
// pixels wide.
func TestOperatorTokensPageInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	ui0, _, err := s.Admin.IssueOperatorToken(ctx, s.Op, "ui", time.Time{})
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
	b.uiSignIn(ui, ui0)

	// From the Tenants page to the operator's tokens; issue "ci" for 7 days.
	b.do("issue ci", 30*time.Second,
		chromedp.Navigate(ui+"#/tenants"),
		chromedp.WaitVisible(chromedp.CSS(`#op-tabs a[data-section="tokens"]`)),
		chromedp.Click(chromedp.CSS(`#op-tabs a[data-section="tokens"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-name="ui"]`)),
		chromedp.SetValue(chromedp.CSS("#token-name"), "ci"),
		chromedp.SetValue(chromedp.CSS("#token-expires"), "168h"),
		chromedp.Click(chromedp.CSS("#token-issue")),
		chromedp.WaitVisible(chromedp.CSS("#token-created .secret")),
		chromedp.WaitVisible(chromedp.CSS("#token-copy")),
		chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-name="ci"]`)))
	ci := b.text("#token-created .secret")
	if !strings.HasPrefix(ci, "tfo_") {
		t.Fatalf("issued token shown as %q", ci)
	}
	if n := b.text("#token-created p"); !strings.Contains(n, "the operator") || !strings.Contains(n, "expires") {
		t.Errorf("issued notice %q", n)
	}
	if body := b.text("#tokens"); strings.Contains(body, "tfo_") || strings.Contains(body, "tfa_") {
		t.Errorf("the list shows a token: %s", body)
	}
	if e := b.text(`#tokens tr[data-name="ci"] td.expires`); e == "never" || e == "" {
		t.Errorf("ci's expiry shown as %q", e)
	}
	if e := b.text(`#tokens tr[data-name="ui"] td.expires`); e != "never" {
		t.Errorf("ui's expiry shown as %q", e)
	}
	ts, err := s.Dir.ListAdminTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range ts {
		names = append(names, x.Name)
		if x.TenantID != "" {
			t.Errorf("a tenant's token %s among the operator's", x.Name)
		}
		if x.Name == "ci" {
			if d := time.Until(x.ExpiresAt); d < 167*time.Hour || d > 169*time.Hour {
				t.Errorf("ci expires in %s, want 7 days", d)
			}
			if !strings.HasPrefix(x.ID, b.text(`#tokens tr[data-name="ci"] code`)) {
				t.Errorf("ci's short id %q is not a prefix of %s", b.text(`#tokens tr[data-name="ci"] code`), x.ID)
			}
		}
	}
	if rows := eval[int](b, `document.querySelectorAll('#tokens tbody tr').length`); rows != len(ts) || len(ts) < 3 {
		t.Errorf("the page lists %d rows, the server has %v", rows, names)
	}
	if r := whoami(ci); r.StatusCode != http.StatusOK {
		t.Fatalf("the new token: %d", r.StatusCode)
	}

	for _, w := range []int64{1400, 800, 390} {
		b.do(fmt.Sprintf("layout %d", w), 30*time.Second, chromedp.EmulateViewport(w, 900), chromedp.WaitVisible(chromedp.CSS("#tokens")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("operator tokens page at %d px: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("operator-tokens-%d", w))
	}
	b.do("reset viewport", 10*time.Second, chromedp.EmulateViewport(1400, 1000))

	// Revoke ci after the confirmation: the API refuses it from then on.
	revoke := func(name string) {
		t.Helper()
		b.do("revoke "+name, 30*time.Second,
			chromedp.Click(chromedp.CSS(`#tokens tr[data-name="`+name+`"] button[data-action="revoke"]`)),
			chromedp.WaitVisible(chromedp.CSS("#confirm-ok")),
			chromedp.Click(chromedp.CSS("#confirm-ok")))
	}
	revoke("ci")
	b.do("ci revoked", 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#token-revoked")),
		chromedp.WaitNotPresent(chromedp.CSS(`#tokens tr[data-name="ci"]`)))
	r := whoami(ci)
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("revoked token: %d, WWW-Authenticate %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}

	// Every other operator token revoked: "ui" is the last, refused.
	ts, err = s.Dir.ListAdminTokens(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.Name != "ui" {
			if err := s.Dir.RevokeAdminToken(ctx, "", x.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.do("reload", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#tokens tr[data-name="ui"]`)))
	if rows := eval[int](b, `document.querySelectorAll('#tokens tbody tr').length`); rows != 1 {
		t.Fatalf("after revoking the others the page lists %d rows", rows)
	}
	revoke("ui")
	b.do("refused", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#token-notice .error")))
	if e := b.text("#token-notice .error"); !strings.HasPrefix(e, "LastOperatorToken: ") || !codedError.MatchString(e) {
		t.Errorf("revoking the last operator token shown as %q", e)
	}
	if r := whoami(ui0); r.StatusCode != http.StatusOK {
		t.Errorf("the last operator token after the refusal: %d", r.StatusCode)
	}
	if !eval[bool](b, `!!document.querySelector('#tokens tr[data-name="ui"]')`) {
		t.Errorf("the last operator token is no longer listed")
	}
	b.shot(dir, "operator-tokens-last")
	b.checkConsole()
}
