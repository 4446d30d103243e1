package api

import (
	"html/template"
	"net/http"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// The set-password page of migration.PasswordPath: a moved user opens the
// one-time link of its before-cutover mail, chooses a password for the
// new mailbox and signs in with it. The link's token is the credential;
// the page has no session, scripts or styles.

// passwordPageCSP allows the page's own form and nothing else.
const passwordPageCSP = "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// maxPasswordForm bounds the form body.
const maxPasswordForm = 4 << 10

var passwordPage = template.Must(template.New("password").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Set your mailbox password</title></head>
<body>
<h1>Set your mailbox password</h1>
{{if .Done}}<p>Your password is set. Sign in to your mail program as <b>{{.Address}}</b>.</p>
{{else}}{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{if .Token}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<p><label>New password <input type="password" name="password" autocomplete="new-password" required minlength="8"></label></p>
<p><label>Repeat it <input type="password" name="confirm" autocomplete="new-password" required minlength="8"></label></p>
<p><button type="submit">Set password</button></p>
</form>{{end}}{{end}}
</body></html>
`))

type passwordPageData struct {
	Token, Action, Error, Address string
	Done                          bool
}

// minLinkPassword is the shortest password the page accepts.
const minLinkPassword = 8

// passwordSet serves GET (the form) and POST (set the password) of the
// set-password page.
func (s *Server) passwordSet(w http.ResponseWriter, r *http.Request) {
	d := passwordPageData{Action: migration.PasswordPath, Token: r.URL.Query().Get("token")}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxPasswordForm)
		if err := r.ParseForm(); err != nil {
			d.Error, status = "The form could not be read.", http.StatusBadRequest
		} else {
			d.Token = r.PostForm.Get("token")
			pw := r.PostForm.Get("password")
			switch {
			case len(pw) < minLinkPassword:
				d.Error, status = "Choose a password of at least 8 characters.", http.StatusBadRequest
			case pw != r.PostForm.Get("confirm"):
				d.Error, status = "The two passwords differ.", http.StatusBadRequest
			default:
				addr, err := s.Core.RedeemPasswordLink(r.Context(), d.Token, pw)
				if e := errs.As(err); err != nil {
					status, d.Error = errs.HTTPStatus(err), "The password was not set: the server failed; try again later."
					if e != nil && e.Kind != errs.Internal {
						d.Error = "The password was not set: " + e.Message + "."
						if e.Hint != "" {
							d.Error += " " + e.Hint + "."
						}
					}
					if e != nil && e.Kind == errs.Forbidden {
						d.Token = "" // a dead link: no form
					}
				} else {
					d.Done, d.Address = true, addr
				}
			}
		}
	}
	if d.Token == "" && !d.Done && d.Error == "" {
		d.Error, status = "This link is incomplete: open the whole link of your mail.", http.StatusBadRequest
	}
	h := w.Header()
	h.Set("Content-Security-Policy", passwordPageCSP)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	passwordPage.Execute(w, d)
}
