package directory

import (
	"context"
	"sync"

	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/identity"
)

// ErrLoginFailed: a wrong address or a wrong password. Both get this one
// answer, at the cost of one password check, so that neither the error nor
// the time tells which addresses exist.
var ErrLoginFailed = errs.Sentinel(errs.Unauthorized, "AuthenticationFailed")

var (
	dummyOnce sync.Once
	dummyHash string
)

// burnPasswordCheck runs one password verification against a fixed hash:
// the cost of a real check, for logins that fail before one.
func burnPasswordCheck(password string) {
	dummyOnce.Do(func() { dummyHash, _ = identity.HashPassword("tenantferry-no-such-user") })
	if dummyHash != "" {
		identity.CheckPassword(dummyHash, password)
	}
}

// Login is the one login rule of every protocol that signs a person in
// with a mailbox password (IMAP, SMTP submission, CalDAV/CardDAV): the
// login is any SMTP address of a UserMailbox (primary or proxy, any case);
// a shared mailbox, a MailUser, a group, a recipient without a password and
// an unknown address all fail like a wrong password, after the same single
// password check. A failure is ErrLoginFailed naming the login; any other
// error is internal.
func (x *Directory) Login(ctx context.Context, login, password string) (*Recipient, error) {
	r, err := x.ResolveAddress(ctx, login)
	if err != nil {
		return nil, errs.Internalf(err, "resolve login address")
	}
	fail := ErrLoginFailed.Newf("login as %q failed", login).WithObject(login).
		WithHint("log in with the mailbox's e-mail address and password")
	if r == nil || r.Type != UserMailbox || r.Shared || r.ExchangeGuid == "" || r.passwordHash == "" {
		burnPasswordCheck(password)
		return nil, fail
	}
	if !identity.CheckPassword(r.passwordHash, password) {
		return nil, fail
	}
	return r, nil
}
