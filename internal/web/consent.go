package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/consent.html
var templateFS embed.FS

// consentTemplate renders the admin-consent page (html/template escapes
// every value for its context).
var consentTemplate = template.Must(template.ParseFS(templateFS, "templates/consent.html"))

// maxParam bounds each query parameter shown on the consent page; longer
// values are cut (the API still receives what the page shows).
const maxParam = 512

// ConsentRequest is what an admin-consent URL asks the source tenant's admin
// to grant (the query of GET /{tenant}/adminconsent).
type ConsentRequest struct {
	Tenant      string   // the tenant that consents (path)
	AppID       string   // client_id
	Issuer      string   // issuer: the app's home-tenant issuer URL
	Permissions []string // permission (repeatable, comma or space separated)
	AppName     string   // app_name: the app's display name, informative only
}

// consentRequest reads the consent parameters from the request.
func consentRequest(r *http.Request) ConsentRequest {
	q := r.URL.Query()
	c := ConsentRequest{Tenant: clip(r.PathValue("tenant")), AppID: clip(q.Get("client_id")), Issuer: clip(q.Get("issuer")),
		AppName: clip(q.Get("app_name"))}
	for _, p := range q["permission"] {
		for _, f := range strings.FieldsFunc(p, func(r rune) bool { return r == ',' || r == ' ' }) {
			c.Permissions = append(c.Permissions, clip(f))
		}
	}
	return c
}

// clip bounds a displayed parameter, dropping a rune cut in half.
func clip(s string) string {
	if len(s) > maxParam {
		s = s[:maxParam]
	}
	return strings.ToValidUTF8(s, "")
}

// consent serves the admin-consent page. It only shows the request; the
// page's script grants it through POST /api/v1/tenants/{tenant}/consents
// with the admin's token, so the admin core decides.
func (u *UI) consent(w http.ResponseWriter, r *http.Request) {
	c := consentRequest(r)
	var b bytes.Buffer
	if err := consentTemplate.Execute(&b, struct {
		ConsentRequest
		PermissionList string
	}{c, strings.Join(c.Permissions, ",")}); err != nil {
		u.Log.Error("web: render consent page", "err", err)
		http.Error(w, "consent page unavailable", http.StatusInternalServerError)
		return
	}
	htmlHeaders(w)
	w.Write(b.Bytes())
}
