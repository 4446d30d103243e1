package web_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/api"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/web"
)

// newMux registers the web admin next to the routes it shares the server's
// mux with (admin API, identity), so a pattern conflict panics here.
func newMux(t *testing.T) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	api.New(nil, nil).Routes(mux)
	(&identity.Issuer{}).Routes(mux)
	web.New(nil).Routes(mux)
	return mux
}

func get(t *testing.T, h http.Handler, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSecurityHeaders(t *testing.T, what string, r *http.Response) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: CSP allows unsafe code: %q", what, csp)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
		if got := r.Header.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
}

func TestRoutes(t *testing.T) {
	mux := newMux(t)
	cases := []struct {
		target string
		status int
		ctype  string
		cache  string
	}{
		{"/ui/", 200, "text/html; charset=utf-8", "no-store"},
		{"/ui", 301, "", ""},
		{"/ui/assets/app.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/dom.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/api.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/apps.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/batches.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/batchactions.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/consent.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/recipients.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/prepare.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/endpoints.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/orgrels.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/tokens.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/optokens.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/wizard.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"/ui/assets/app.css", 200, "text/css; charset=utf-8", "no-cache"},
		{"/contoso.tenantferry.test/adminconsent?client_id=x", 200, "text/html; charset=utf-8", "no-store"},
		// No listings, no other embedded files, no traversal.
		{"/ui/assets/", 404, "", ""},
		{"/ui/assets/index.html", 404, "", ""},
		{"/ui/assets/nope.js", 404, "", ""},
		{"/ui/assets/..%2fweb.go", 404, "", ""},
		{"/ui/other", 404, "", ""},
	}
	for _, c := range cases {
		r := get(t, mux, c.target)
		if r.StatusCode != c.status {
			t.Errorf("GET %s: status %d, want %d", c.target, r.StatusCode, c.status)
			continue
		}
		if c.ctype != "" && r.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.target, r.Header.Get("Content-Type"), c.ctype)
		}
		if c.cache != "" && r.Header.Get("Cache-Control") != c.cache {
			t.Errorf("GET %s: Cache-Control %q, want %q", c.target, r.Header.Get("Cache-Control"), c.cache)
		}
		if c.status != 404 {
			checkSecurityHeaders(t, c.target, r)
		}
	}
	if loc := get(t, mux, "/ui").Header.Get("Location"); loc != "/ui/" {
		t.Errorf("GET /ui redirects to %q", loc)
	}
	// The identity and API routes still answer on the shared mux.
	if r := get(t, mux, "/api/v1/nowhere"); r.StatusCode != 404 || !strings.Contains(body(t, r), "NoSuchRoute") {
		t.Errorf("API fallback route shadowed")
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ui/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: status %d, want 405", rec.Code)
	}
	idx := body(t, get(t, mux, "/ui/"))
	if !strings.Contains(idx, `<script type="module" src="/ui/assets/app.js"></script>`) {
		t.Errorf("index does not load app.js:\n%s", idx)
	}
}

// tagShape is a page's sequence of tags with attribute values blanked: a
// value that escaped its context would add a tag or an attribute.
func tagShape(page string) string {
	tags := regexp.MustCompile(`<[^>]*>`).FindAllString(page, -1)
	vals := regexp.MustCompile(`="[^"]*"`)
	for i, tg := range tags {
		tags[i] = vals.ReplaceAllString(tg, `=""`)
	}
	return strings.Join(tags, "\n")
}

// TestConsentPageHostileParameters renders the consent page with markup,
// script and attribute-breaking payloads in every parameter and the path:
// the page must have exactly the tags and attributes of a benign request
// (so every payload stayed text), and the only script is the page's own.
func TestConsentPageHostileParameters(t *testing.T) {
	mux := newMux(t)
	consentPage := func(tenant, v, perm string) string {
		q := url.Values{}
		q.Set("client_id", v)
		q.Set("issuer", v)
		q.Add("permission", perm)
		q.Set("app_name", v)
		target := "/" + url.PathEscape(tenant) + "/adminconsent?" + q.Encode()
		r := get(t, mux, target)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: status %d", target, r.StatusCode)
		}
		checkSecurityHeaders(t, "consent", r)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("consent page cacheable: %q", r.Header.Get("Cache-Control"))
		}
		return body(t, r)
	}
	evil := []string{
		`"><script>alert(1)</script>`,
		`<img src=x onerror=alert(2)>`,
		`' onmouseover='alert(3)`,
		"javascript:alert(4)",
		`</code></dd><iframe src="//evil.example"></iframe>`,
		`{{.Tenant}}<!-- -->`,
	}
	for _, e := range evil {
		// The permission is split on commas and spaces: the benign page
		// gets as many permissions.
		n := len(strings.FieldsFunc(e, func(r rune) bool { return r == ',' || r == ' ' }))
		want := tagShape(consentPage("contoso", "benign", strings.TrimSpace(strings.Repeat("p ", n))))
		page := consentPage(e, e, e)
		if got := tagShape(page); got != want {
			t.Errorf("payload %q changed the page's markup:\n%s\n--- want ---\n%s", e, got, want)
		}
		low := strings.ToLower(page)
		if n := strings.Count(low, "<script"); n != 1 {
			t.Errorf("payload %q: %d <script> tags in the page", e, n)
		}
		if strings.Contains(low, `href="javascript`) || strings.Contains(low, `src="javascript`) {
			t.Errorf("payload %q: javascript: URL in a link", e)
		}
		if strings.Contains(e, "<") && !strings.Contains(page, "&lt;") {
			t.Errorf("payload %q not shown escaped", e)
		}
	}
	// A normal request shows its values as given.
	q := url.Values{"client_id": {"3f2c6a8e-1111-4222-8333-944455556666"}, "issuer": {"https://tgt.example/abc/v2.0"},
		"permission": {"Mailbox.Migration"}, "app_name": {"Mailbox migration"}}
	page := body(t, get(t, mux, "/contoso.tenantferry.test/adminconsent?"+q.Encode()))
	for _, want := range []string{`data-tenant="contoso.tenantferry.test"`, `data-app-id="3f2c6a8e-1111-4222-8333-944455556666"`,
		`data-issuer="https://tgt.example/abc/v2.0"`, `data-permissions="Mailbox.Migration"`, `<span class="tag">Mailbox.Migration</span>`,
		`>Mailbox migration</strong>`} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %s:\n%s", want, page)
		}
	}
	// Oversized parameters are cut.
	long := strings.Repeat("é", 2000)
	page = body(t, get(t, mux, "/t/adminconsent?app_name="+url.QueryEscape(long)))
	if strings.Contains(page, strings.Repeat("é", 300)) {
		t.Errorf("a 2000-rune app_name was not cut")
	}
}

// TestAssetsSafe enforces the invariants of the embedded files: no inline
// scripts or styles (the CSP would block them), no string-to-HTML sinks, no
// eval, and nothing loaded from another origin.
func TestAssetsSafe(t *testing.T) {
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setTimeout\(['"]`)
	external := regexp.MustCompile(`(src|href)=["']?(https?:)?//|@import|url\(`)
	inline := regexp.MustCompile(`<script(>|\s[^>]*>)[^<]|\sstyle=|\son[a-z]+=`)
	var files int
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasPrefix(p, "assets/") || strings.HasPrefix(p, "templates/")) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		s := string(b)
		if strings.HasSuffix(p, ".js") {
			if m := sinks.FindString(s); m != "" {
				t.Errorf("%s uses %q", p, m)
			}
		}
		if m := external.FindString(s); m != "" {
			t.Errorf("%s loads from elsewhere: %q", p, m)
		}
		if strings.HasSuffix(p, ".html") {
			if m := inline.FindString(s); m != "" {
				t.Errorf("%s has inline code or style: %q", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 8 {
		t.Fatalf("checked %d files", files)
	}
}
