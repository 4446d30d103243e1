package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestSignInLink opens the sign-in link `demo` prints (/ui/#token=TOKEN):
// the tenant admin lands signed in on its tenant, and the token is gone
// from the address bar.
func TestSignInLink(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chromium(t)
	s := scenario.Start(t, scenario.Options{})
	tc, err := s.Admin.CreateTenant(context.Background(), s.Op, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.do("open the sign-in link", 30*time.Second,
		chromedp.Navigate(s.PublicURL+"/ui/#token="+tc.AdminToken),
		chromedp.WaitVisible(chromedp.CSS("#whoami")))
	if got := b.text("#whoami"); !strings.Contains(got, "contoso") {
		t.Errorf("signed in as %q, want contoso's tenant admin", got)
	}
	if href := eval[string](b, "location.href"); strings.Contains(href, tc.AdminToken) || strings.Contains(href, "token=") {
		t.Errorf("the token stays in the address bar: %s", href)
	}
	b.checkConsole()
}
