package migration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"text/template"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Mails to the moved users (batch --notify-users): one before the cutover,
// to the user's source address ("your mailbox will move at ..., then set
// up your client so"), and one after it, to the new mailbox. Each is sent
// once per move (a compare-and-set on the move), from a template the
// tenant may replace (SetTemplate). With PasswordContinuity "link" the
// first mail carries a one-time link that sets the new mailbox's password
// once the move completed; with "carry" a same-server move copies the
// password hash at completion, and the user signs in with the old one.

// Template kinds.
const (
	TemplateBefore = "before"
	TemplateAfter  = "after"
)

// Password continuity modes.
const (
	PasswordNone  = ""
	PasswordCarry = "carry"
	PasswordLink  = "link"
)

// PasswordLinkTTL is how long a set-password link is valid.
const PasswordLinkTTL = 14 * 24 * time.Hour

// Errors of user mails and password links.
var (
	// ErrInvalidTemplate: a template that does not parse or render.
	ErrInvalidTemplate = errs.Sentinel(errs.Invalid, "InvalidTemplate")
	// ErrInvalidPasswordContinuity: an unknown mode, or carry without a
	// same-server endpoint.
	ErrInvalidPasswordContinuity = errs.Sentinel(errs.Invalid, "InvalidPasswordContinuity")
	// ErrPasswordLinkInvalid: an unknown, used or expired link.
	ErrPasswordLinkInvalid = errs.Sentinel(errs.Forbidden, "PasswordLinkInvalid")
	// ErrPasswordLinkEarly: the link's move has not completed yet.
	ErrPasswordLinkEarly = errs.Sentinel(errs.Conflict, "PasswordLinkBeforeMove")
)

// UserMailData is what a user mail template may use.
type UserMailData struct {
	DisplayName, EmailAddress, SourceAddress, Tenant string
	// CompleteAfter is when the move is scheduled ("" when it completes
	// once synced or on the admin's command).
	CompleteAfter string
	// Server is the host name mail clients connect to (IMAP 993 or 143,
	// submission 587).
	Server string
	// SetPasswordURL and LinkExpires are set with PasswordContinuity link.
	SetPasswordURL, LinkExpires string
}

// Template is a user mail template.
type Template struct {
	Kind, Subject, Body string
	// Custom is false for the built-in text.
	Custom bool
}

var defaultTemplates = map[string]Template{
	TemplateBefore: {Kind: TemplateBefore, Subject: "Your mailbox {{.SourceAddress}} is moving to {{.EmailAddress}}",
		Body: `Hello {{.DisplayName}},

your mailbox {{.SourceAddress}} moves to {{.EmailAddress}}{{if .CompleteAfter}} on {{.CompleteAfter}}{{else}} soon{{end}}.
Nothing is lost: your mail, calendar and contacts come along, and mail
sent to your old address reaches the new mailbox.

After the move, set up your mail program with:
  user name:   {{.EmailAddress}}
  incoming:    IMAP, {{.Server}}, port 993 (SSL/TLS)
  outgoing:    SMTP, {{.Server}}, port 587 (STARTTLS)
{{if .SetPasswordURL}}
Choose the password of your new mailbox here, once the move is done
(the link works once, until {{.LinkExpires}}):
  {{.SetPasswordURL}}
{{end}}
-- {{.Tenant}} IT
`},
	TemplateAfter: {Kind: TemplateAfter, Subject: "Your mailbox has moved to {{.EmailAddress}}",
		Body: `Hello {{.DisplayName}},

your mailbox has moved from {{.SourceAddress}} to {{.EmailAddress}}.
Mail to your old address now arrives here.

Mail program settings:
  user name:   {{.EmailAddress}}
  incoming:    IMAP, {{.Server}}, port 993 (SSL/TLS)
  outgoing:    SMTP, {{.Server}}, port 587 (STARTTLS)

-- {{.Tenant}} IT
`},
}

// checkTemplateKind validates a template kind.
func checkTemplateKind(kind string) error {
	if _, ok := defaultTemplates[kind]; !ok {
		return ErrInvalidTemplate.Newf("unknown template %q", kind).WithObject(kind).WithHint("use before or after")
	}
	return nil
}

// checkPasswordContinuity normalizes and validates a batch's mode.
func (s *Service) checkPasswordContinuity(mode string, ep *directory.Endpoint) (string, error) {
	mode = strings.ToLower(strings.TrimSpace(mode))
	switch mode {
	case "", "none":
		return PasswordNone, nil
	case PasswordLink:
		return mode, nil
	case PasswordCarry:
		if ep.Type == directory.EndpointIMAP || s.Source == nil || !sameServer(ep.RemoteServer, s.PublicURL) {
			return "", ErrInvalidPasswordContinuity.Newf("endpoint %s is not on this server: a password hash is carried only by a same-server move", ep.Name).
				WithObject(ep.Name).WithHint("use --password-continuity link, which mails each user a set-password link")
		}
		return mode, nil
	}
	return "", ErrInvalidPasswordContinuity.Newf("unknown password continuity %q", mode).WithObject(mode).WithHint("use none, carry or link")
}

// GetTemplate returns the tenant's template of a kind (the built-in one
// unless set).
func (s *Service) GetTemplate(ctx context.Context, tenantID, kind string) (*Template, error) {
	if err := checkTemplateKind(kind); err != nil {
		return nil, err
	}
	t := defaultTemplates[kind]
	err := s.D.Read().QueryRowContext(ctx, `SELECT subject, body FROM migration_templates WHERE tenant_id = ? AND kind = ?`, tenantID, kind).Scan(&t.Subject, &t.Body)
	if err == nil {
		t.Custom = true
	} else if !db.IsNoRows(err) {
		return nil, err
	}
	return &t, nil
}

// SetTemplate replaces a kind's template for the tenant, after checking
// that it parses and renders with sample data; reset (empty subject and
// body) returns to the built-in one.
func (s *Service) SetTemplate(ctx context.Context, tenantID, kind, subject, body string) (*Template, error) {
	if err := checkTemplateKind(kind); err != nil {
		return nil, err
	}
	if subject == "" && body == "" {
		if err := s.D.Write(ctx, func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM migration_templates WHERE tenant_id = ? AND kind = ?`, tenantID, kind)
			return err
		}); err != nil {
			return nil, err
		}
		return s.GetTemplate(ctx, tenantID, kind)
	}
	sample := UserMailData{DisplayName: "Ann Example", EmailAddress: "ann@target.example", SourceAddress: "ann@source.example", Tenant: "fabrikam",
		CompleteAfter: time.Now().Format(time.RFC1123), Server: "mail.target.example", SetPasswordURL: "https://mail.target.example/password/set?token=x",
		LinkExpires: time.Now().Format(time.RFC1123)}
	if strings.TrimSpace(subject) == "" || strings.TrimSpace(body) == "" {
		return nil, ErrInvalidTemplate.Newf("a %s template needs a subject and a body", kind).WithHint("pass --subject and --file")
	}
	if _, _, err := render(Template{Kind: kind, Subject: subject, Body: body}, sample); err != nil {
		return nil, err
	}
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO migration_templates (tenant_id, kind, subject, body) VALUES (?, ?, ?, ?)
			ON CONFLICT (tenant_id, kind) DO UPDATE SET subject = excluded.subject, body = excluded.body`, tenantID, kind, subject, body)
		return err
	}); err != nil {
		return nil, err
	}
	return s.GetTemplate(ctx, tenantID, kind)
}

// render executes a template: the subject (one line) and the body.
func render(t Template, d UserMailData) (string, string, error) {
	var out [2]string
	for i, src := range []string{t.Subject, t.Body} {
		tp, err := template.New(t.Kind).Option("missingkey=error").Parse(src)
		if err != nil {
			return "", "", ErrInvalidTemplate.Newf("the %s template does not parse: %v", t.Kind, err).WithObject(t.Kind).
				WithHint("use Go text/template syntax with the fields of UserMailData, e.g. {{.EmailAddress}}")
		}
		var b bytes.Buffer
		if err := tp.Execute(&b, d); err != nil {
			return "", "", ErrInvalidTemplate.Newf("the %s template does not render: %v", t.Kind, err).WithObject(t.Kind).
				WithHint("use only the fields DisplayName, EmailAddress, SourceAddress, Tenant, CompleteAfter, Server, SetPasswordURL, LinkExpires")
		}
		out[i] = b.String()
	}
	return strings.Join(strings.Fields(out[0]), " "), out[1], nil
}

// userMailData gathers a move's template data (without a link).
func (s *Service) userMailData(ctx context.Context, b *Batch, m *Move) (UserMailData, error) {
	t, err := s.Dir.GetTenant(ctx, m.TenantID)
	if err != nil {
		return UserMailData{}, err
	}
	d := UserMailData{EmailAddress: m.Email, SourceAddress: m.SourceAddress, Tenant: t.Name, DisplayName: m.Email}
	if r, err := s.Dir.GetRecipient(ctx, m.TenantID, m.TargetRecipientID); err == nil && r.DisplayName != "" {
		d.DisplayName = r.DisplayName
	}
	if u, err := url.Parse(s.PublicURL); err == nil && u.Hostname() != "" {
		d.Server = u.Hostname()
	}
	ca := m.CompleteAfter
	if ca.IsZero() {
		ca = b.CompleteAfter
	}
	if !ca.IsZero() {
		d.CompleteAfter = ca.UTC().Format(time.RFC1123)
	}
	return d, nil
}

// notifyUser sends a move's user mail of a kind once: the claim (the
// move's column, compare-and-set) and, before the cutover with
// PasswordContinuity link, the link are written in one transaction, then
// the mail goes to the delivery queue. A crash after the claim loses the
// mail rather than sending it twice.
func (s *Service) notifyUser(ctx context.Context, b *Batch, m *Move, kind string) error {
	if s.Notify == nil || !b.NotifyUsers || (kind == TemplateBefore && (m.SourceAddress == "" || !m.UserNotifiedBefore.IsZero())) ||
		(kind == TemplateAfter && !m.UserNotifiedAfter.IsZero()) {
		return nil
	}
	col, to := "user_notified_before_at", m.SourceAddress
	if kind == TemplateAfter {
		col, to = "user_notified_after_at", m.Email
	}
	d, err := s.userMailData(ctx, b, m)
	if err != nil {
		return err
	}
	tpl, err := s.GetTemplate(ctx, m.TenantID, kind)
	if err != nil {
		return err
	}
	claimed := false
	err = s.D.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE moves SET `+col+` = ? WHERE id = ? AND `+col+` = 0`, db.Now(), m.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		claimed = true
		if kind == TemplateBefore && b.PasswordContinuity == PasswordLink {
			if d.SetPasswordURL, d.LinkExpires, err = s.issueLink(ctx, tx, m); err != nil {
				return err
			}
		}
		return logMove(ctx, tx, m.ID, "info", fmt.Sprintf("the %s-cutover mail went to %s", kind, to))
	})
	if err != nil || !claimed {
		return err
	}
	subject, body, err := render(*tpl, d)
	if err != nil {
		return err
	}
	t, err := s.Dir.GetTenant(ctx, m.TenantID)
	if err != nil {
		return err
	}
	from := "postmaster@" + t.InitialDomain
	var msg bytes.Buffer
	fmt.Fprintf(&msg, "From: %s IT <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nAuto-Submitted: auto-generated\r\n\r\n",
		t.Name, from, to, mime.QEncoding.Encode("utf-8", subject), time.Now().Format(time.RFC1123Z))
	msg.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return s.Notify(ctx, from, []string{to}, msg.Bytes())
}

// issueLink records a one-time set-password link for a move's target
// user and returns its URL and expiry (only the token's hash is kept).
func (s *Service) issueLink(ctx context.Context, tx *db.Tx, m *Move) (string, string, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := time.Now()
	exp := now.Add(PasswordLinkTTL)
	if _, err := tx.ExecContext(ctx, `INSERT INTO password_links (token_sha256, move_id, tenant_id, recipient_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, tokenHash(token), m.ID, m.TenantID, m.TargetRecipientID, db.Millis(now), db.Millis(exp)); err != nil {
		return "", "", err
	}
	return strings.TrimSuffix(s.PublicURL, "/") + PasswordPath + "?token=" + token, exp.UTC().Format(time.RFC1123), nil
}

// PasswordPath is the page of set-password links.
const PasswordPath = "/password/set"

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// RedeemPasswordLink sets the password of a link's user, once: the link
// must be unused and unexpired, and its move completed (the user's
// mailbox exists). It returns the user's address.
func (s *Service) RedeemPasswordLink(ctx context.Context, token, password string) (string, error) {
	var tenantID, recipientID, moveID string
	var exp, used int64
	err := s.D.Read().QueryRowContext(ctx, `SELECT tenant_id, recipient_id, move_id, expires_at, used_at FROM password_links WHERE token_sha256 = ?`,
		tokenHash(token)).Scan(&tenantID, &recipientID, &moveID, &exp, &used)
	if db.IsNoRows(err) || (err == nil && (used != 0 || time.Now().After(db.Time(exp)))) {
		return "", ErrPasswordLinkInvalid.Newf("this set-password link is unknown, used or expired").
			WithHint("ask your administrator to set a password for you")
	}
	if err != nil {
		return "", err
	}
	if m, err := s.getMove(ctx, s.D.Read(), moveID); err != nil || (m.State != StateCompleted && m.State != StateCompletedWithWarnings) {
		return "", ErrPasswordLinkEarly.Newf("your mailbox has not moved yet").WithHint("use the link again once the move is done")
	}
	claimed := false
	if err := s.D.Write(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE password_links SET used_at = ? WHERE token_sha256 = ? AND used_at = 0`, db.Now(), tokenHash(token))
		if err == nil {
			n, _ := res.RowsAffected()
			claimed = n == 1
		}
		return err
	}); err != nil {
		return "", err
	}
	if !claimed {
		return "", ErrPasswordLinkInvalid.Newf("this set-password link was just used").WithHint("ask your administrator to set a password for you")
	}
	r, err := s.Dir.UpdateRecipient(ctx, tenantID, recipientID, directory.RecipientUpdate{Password: &password}, directory.UserMailbox)
	if err != nil {
		// Give the link back: nothing was set.
		s.D.Write(context.WithoutCancel(ctx), func(tx *db.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE password_links SET used_at = 0 WHERE token_sha256 = ?`, tokenHash(token))
			return err
		})
		return "", err
	}
	return r.PrimarySmtpAddress, nil
}

// notifyDone sends the after-cutover mail of a completed move; a failure
// is logged (the move is done whatever happens to its courtesy mail).
func (s *Service) notifyDone(ctx context.Context, b *Batch, m *Move) {
	if err := s.notifyUser(ctx, b, m, TemplateAfter); err != nil {
		s.Log.Warn("after-cutover mail", "user", m.Email, "err", err)
	}
}

// passwordSource is a source that can hand over a mailbox user's password
// hash: the in-process source of a same-server move.
type passwordSource interface {
	PasswordHash(ctx context.Context, guid string) (string, error)
}

// carryPassword gives the activated target mailbox its source's password
// hash (PasswordContinuity carry); idempotent, so a resumed completion
// carries it again.
func (s *Service) carryPassword(ctx context.Context, b *Batch, m *Move, client any) error {
	if b.PasswordContinuity != PasswordCarry {
		return nil
	}
	ps, ok := client.(passwordSource)
	if !ok {
		return s.D.Write(ctx, func(tx *db.Tx) error {
			return logMove(ctx, tx, m.ID, "warning", "the password was not carried: the source is not on this server")
		})
	}
	hash, err := ps.PasswordHash(ctx, m.ExchangeGuid)
	if err != nil {
		return err
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		if hash == "" {
			return logMove(ctx, tx, m.ID, "warning", "the password was not carried: the source mailbox has none")
		}
		if err := s.Dir.SetPasswordHash(ctx, tx, m.TenantID, m.TargetRecipientID, hash); err != nil {
			return err
		}
		return logMove(ctx, tx, m.ID, "info", "the source password was carried: the user signs in with it")
	})
}
