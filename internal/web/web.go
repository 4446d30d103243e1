// Package web serves the web admin page of tenantferry: a single-page admin
// UI under /ui/ and the admin-consent page at /{tenant}/adminconsent (the
// URL `tenantferry app consent-url` prints, modelled on Entra ID's
// adminconsent endpoint).
//
// Invariants:
//   - The package holds no business rule and no credential. Every read and
//     every change goes through the JSON admin API (/api/v1/...), i.e. the
//     admin core, with the admin token the user pastes into the page (kept
//     in the tab's sessionStorage, sent as a Bearer token). Errors shown to
//     the user are the API's coded errors ("CODE: message" and the hint),
//     in the web's words: a hint naming a CLI flag names the form's field
//     ("pass --target-delivery-domain" reads "Fill in Target delivery
//     domain"), a quoted batch command the page's button, another quoted
//     command ('tenantferry domain add ...') the page of its object.
//   - A command is offered only in the states the server accepts it in
//     (assets/batchactions.js mirrors internal/migration); the server stays
//     the judge. Completing a batch or a user (the irreversible cutover)
//     needs its name typed in a dialog; removing one, a confirmation.
//   - The live batch page polls once a second until the batch is Completed
//     or Removed; the report downloads as the CSV `batch report --format
//     csv` prints, built in the page from the JSON report.
//   - Everything is embedded (go:embed): plain HTML, CSS and vanilla
//     JavaScript, no build step, no external network, no CDN.
//   - Nothing the page shows is interpreted as markup: the server renders
//     with html/template, and the scripts build the DOM with text nodes only
//     (never innerHTML). The Content-Security-Policy allows scripts, styles
//     and connections from this origin only, with Trusted Types enforced, so
//     an injected string cannot become code even if a script made a mistake.
//   - Every reply carries the security headers (CSP, X-Frame-Options DENY,
//     nosniff, no referrer); HTML is never cached (no-store).
//   - Routes never include a one-segment subtree ("/ui/"): the identity
//     routes /{tenant}/... share the mux (see identity.Issuer.Routes).
package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

//go:embed assets
var assetFS embed.FS

// assets is the embedded assets directory served under AssetPrefix.
var assets, _ = fs.Sub(assetFS, "assets")

// Paths of the web admin.
const (
	// UIPath is the single-page admin UI.
	UIPath = "/ui/"
	// AssetPrefix serves the embedded scripts and styles.
	AssetPrefix = "/ui/assets/"
)

// ContentSecurityPolicy is sent with every reply of the package: scripts,
// styles and fetches from this origin only, no plugins, no framing, no
// inline code, and Trusted Types so string-to-HTML sinks throw.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// UI serves the web admin.
type UI struct {
	Log *slog.Logger
}

// New returns the web admin.
func New(log *slog.Logger) *UI {
	if log == nil {
		log = slog.Default()
	}
	return &UI{Log: log}
}

// Routes registers the web admin on mux:
//
//	GET /ui                       redirect to /ui/
//	GET /ui/{$}                   the single-page admin UI
//	GET /ui/assets/...            embedded scripts and styles
//	GET /{tenant}/adminconsent    the admin-consent page
func (u *UI) Routes(mux *http.ServeMux) {
	mux.Handle("GET /ui", secure(http.RedirectHandler(UIPath, http.StatusMovedPermanently)))
	mux.Handle("GET /ui/{$}", secure(http.HandlerFunc(u.index)))
	mux.Handle("GET "+AssetPrefix, secure(http.HandlerFunc(u.asset)))
	mux.Handle("GET /{tenant}/adminconsent", secure(http.HandlerFunc(u.consent)))
}

// secure adds the security headers every reply of the package carries.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// htmlHeaders marks a reply as an uncacheable HTML page.
func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

// index serves the single-page UI.
func (u *UI) index(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		u.Log.Error("web: embedded index.html missing", "err", err)
		http.Error(w, "web UI unavailable", http.StatusInternalServerError)
		return
	}
	htmlHeaders(w)
	w.Write(b)
}

// assetTypes are the content types of the served assets; other files of
// the assets directory (index.html, templates) are not served here.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// asset serves one embedded script or style sheet (no directory listings).
func (u *UI) asset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, AssetPrefix)
	ct := ""
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		ct = assetTypes[name[i:]]
	}
	if ct == "" || strings.Contains(name, "/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	// The assets change with the binary: revalidate rather than cache.
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}
