package imapd

import (
	"errors"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Login implements imapserver.Session (LOGIN, and AUTHENTICATE PLAIN
// through imapserver's default SASL server). The user name is any SMTP
// address of a UserMailbox; the password is checked by the directory. The
// mailbox content is the store's mailbox (tenant, ExchangeGuid), created
// with the default folders on first login. Every failure looks the same to
// the client: NO [AUTHENTICATIONFAILED] after a delay.
func (s *session) Login(username, password string) error {
	lim, remote := s.srv.opts.Limits, s.conn.NetConn().RemoteAddr().String()
	if err := lim.Allow("imap", remote, username); err != nil {
		return s.imapError(err)
	}
	r, err := s.srv.dir.Login(s.ctx, username, password)
	if errors.Is(err, directory.ErrLoginFailed) {
		s.log.Info("imap: login failed", "user", username)
		lim.Failed("imap", remote, username)
		s.authFailDelay()
		return imapserver.ErrAuthFailed
	}
	if err != nil {
		return s.imapError(err)
	}
	lim.Succeeded("imap", remote, username)
	mb, err := s.mailbox(r)
	if err != nil {
		return s.imapError(err)
	}
	s.rec, s.mb = r, mb
	if err := s.loadMounts(); err != nil {
		s.rec, s.mb = nil, nil
		return s.imapError(err)
	}
	s.user = r.PrimarySmtpAddress
	s.log = s.log.With("user", s.user)
	if s.fc != nil {
		s.fc.authenticated(s.extCommands())
	}
	s.log.Debug("imap: logged in", "mailbox", mb.GUID)
	return nil
}

// mailbox returns the recipient's primary mailbox, creating it with the
// default folders if it does not exist yet.
func (s *session) mailbox(r *directory.Recipient) (*mailstore.Mailbox, error) {
	return s.srv.store.EnsureMailbox(s.ctx, r.TenantID, r.ExchangeGuid, mailstore.KindPrimary)
}

// authFailDelay waits before a failed login is answered (or until the
// connection ends).
func (s *session) authFailDelay() {
	d := s.srv.opts.AuthFailDelay
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.ctx.Done():
	}
}
