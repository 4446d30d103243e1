package smtpd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/delivery"
)

// callTimeout bounds one backend call of a command (a DATA commit included).
const callTimeout = 2 * time.Minute

// session is one SMTP connection's state.
type session struct {
	s      *Server
	conn   *smtp.Conn
	remote string
	log    *slog.Logger

	user    *delivery.User // after AUTH (submission only)
	from    string
	hasFrom bool
	rcpts   []string
	size    int64 // MAIL FROM's SIZE (RFC 1870), 0 when not declared
	fails   int   // failed AUTH attempts
}

var (
	_ smtp.Session     = (*session)(nil)
	_ smtp.AuthSession = (*authSession)(nil)
)

func (ss *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(ss.s.ctx, callTimeout)
}

// Reset implements smtp.Session: it discards the current transaction.
func (ss *session) Reset() {
	ss.from, ss.hasFrom, ss.rcpts = "", false, nil
}

// Logout implements smtp.Session.
func (ss *session) Logout() error { return nil }

// Mail implements smtp.Session (MAIL FROM).
func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.opts.Submission {
		if ss.user == nil {
			return ss.reply("MAIL", errAuthRequired)
		}
		ctx, cancel := ss.ctx()
		defer cancel()
		if err := ss.s.svc.CheckSender(ctx, ss.user, from); err != nil {
			return ss.reply("MAIL", err)
		}
		if err := ss.s.opts.Limits.Message(ss.s.opts.Name, ss.remote, ss.user.Address); err != nil {
			return ss.reply("MAIL", withCause(errMessageRate, err))
		}
	}
	ss.from, ss.hasFrom, ss.rcpts, ss.size = from, true, nil, 0
	if opts != nil {
		ss.size = opts.Size
	}
	return nil
}

// Rcpt implements smtp.Session (RCPT TO).
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.hasFrom {
		return ss.reply("RCPT", errNeedMail)
	}
	ctx, cancel := ss.ctx()
	defer cancel()
	if err := ss.s.svc.CheckRecipient(ctx, to, ss.user != nil, ss.size); err != nil {
		return ss.reply("RCPT", err)
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// Data implements smtp.Session: the message is made durable and queued;
// returning nil makes go-smtp answer 250.
func (ss *session) Data(r io.Reader) error {
	if !ss.hasFrom || len(ss.rcpts) == 0 {
		return ss.reply("DATA", errNeedRcpt)
	}
	ss.s.busy.Add(1)
	defer ss.s.busy.Done()
	ctx, cancel := ss.ctx()
	defer cancel()
	proto := "ESMTP"
	if _, ok := ss.conn.TLSConnectionState(); ok {
		proto += "S"
	}
	if ss.user != nil {
		proto += "A"
	}
	env := delivery.Envelope{From: ss.from, To: ss.rcpts, Source: ss.s.opts.Name, Relay: ss.user != nil,
		Trace: delivery.Trace{Helo: ss.conn.Hostname(), RemoteAddr: ss.remote, Protocol: proto}}
	if ss.user != nil {
		env.AuthUser = ss.user.Address
	}
	body := &watchReader{r: r}
	var msg io.Reader = body
	if ss.user != nil {
		// Submission: the From header must be the user's own address or
		// one the user holds SendAs on, like MAIL FROM.
		hdr, all, err := delivery.PeekHeader(body)
		if err != nil {
			if body.err != nil {
				err = body.err
			}
			return ss.reply("DATA", err)
		}
		if err := ss.s.svc.CheckFromHeader(ctx, ss.user, hdr); err != nil {
			_, _ = io.Copy(io.Discard, all) // read the rest, so the reply follows the data
			return ss.reply("DATA", err)
		}
		msg = all
	}
	q, err := ss.s.svc.Enqueue(ctx, env, msg)
	if body.err != nil {
		// The client's stream failed (too large, cut off): that is the reply.
		return ss.reply("DATA", body.err)
	}
	if err != nil {
		return ss.reply("DATA", err)
	}
	ss.log.Debug("message accepted", "id", q.ID, "size", q.Size)
	return nil
}

// watchReader remembers the error of the client's DATA stream, so that a
// size-limit or connection failure is reported as such whatever the
// storage layer wrapped it in.
type watchReader struct {
	r   io.Reader
	err error
}

// Read implements io.Reader.
func (w *watchReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// authSession is a submission session: it adds AUTH.
type authSession struct{ *session }

// AuthMechanisms implements smtp.AuthSession.
func (a *authSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

// Auth implements smtp.AuthSession.
func (a *authSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return a.reply("AUTH", errAuthzDiffers)
			}
			return a.login(username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: a.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// login checks credentials; failures are slowed down progressively.
func (a *authSession) login(username, password string) error {
	ctx, cancel := a.ctx()
	defer cancel()
	lim := a.s.opts.Limits
	if err := lim.Allow(a.s.opts.Name, a.remote, username); err != nil {
		return a.reply("AUTH", withCause(errAuthRateLimited, err))
	}
	u, err := a.s.svc.Login(ctx, username, password)
	if err != nil {
		if errors.Is(err, delivery.ErrAuthFailed) {
			lim.Failed(a.s.opts.Name, a.remote, username)
		}
		a.fails++
		select {
		case <-time.After(time.Duration(min(a.fails, 5)) * 300 * time.Millisecond):
		case <-ctx.Done():
		}
		return a.reply("AUTH", err)
	}
	lim.Succeeded(a.s.opts.Name, a.remote, username)
	a.user = u
	a.log = a.log.With("user", u.Address)
	a.log.Info("authenticated")
	return nil
}

// loginServer is the server side of the (obsolete but common) LOGIN SASL
// mechanism: "Username:" and "Password:" challenges.
type loginServer struct {
	step int
	user string
	auth func(username, password string) error
}

var errLoginDone = errors.New("LOGIN exchange already finished")

// Next implements sasl.Server.
func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if resp == nil { // no initial response
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth(l.user, string(resp))
	}
	return nil, true, errLoginDone
}
