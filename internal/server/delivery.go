package server

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/smtpd"
)

// setupDelivery creates the delivery service and registers its workers (they
// must be in s.workers before the job runner is created).
func (s *Server) setupDelivery(context.Context) error {
	tm, err := s.Cfg.TransportMap()
	if err != nil {
		return err
	}
	s.MailAuth = mailauth.New(mailauth.Options{DB: s.DB, Dir: s.Dir, ServerKey: s.ServerKey, Resolver: s.Resolver, Hostname: s.Cfg.Hostname, Log: s.Log})
	roots, sts, err := s.outboundTLS()
	if err != nil {
		return err
	}
	svc := delivery.New(delivery.Options{DB: s.DB, Dir: s.Dir, Store: s.Store, Hostname: s.Cfg.Hostname, Transports: tm, Log: s.Log,
		Auth: s.MailAuth, BindAddress: s.Cfg.SMTPBindAddress, Quota: s.Quota,
		Resolver: s.Resolver, ResolveHosts: s.Cfg.DNSResolver != "", RootCAs: roots, STSClient: sts})
	svc.InboundAuth = s.Cfg.InboundAuth
	s.Admin.MailAuth = s.MailAuth
	svc.Register(s.workers)
	s.Metrics.Registry.MustRegister(svc.Collectors()...)
	s.addPeriodic(time.Hour, delivery.PurgeArgs{})
	s.Delivery = svc
	return nil
}

// setupSMTP attaches the job runner to the delivery service and binds the
// MX and submission listeners; they serve from Start on.
func (s *Server) setupSMTP(context.Context) error {
	s.Delivery.Attach(s.Jobs)
	if s.Source != nil {
		s.Source.Releaser = s.Delivery // a finished or aborted completion releases held mail
	}
	tlsCfg := s.TLS
	for _, l := range []struct {
		name, addr string
		submission bool
	}{{"smtp", s.Cfg.SMTP, false}, {"submission", s.Cfg.Submission, true}} {
		ln, err := s.listen(l.name, l.addr)
		if err != nil {
			return fmt.Errorf("listen %s %s: %w", l.name, l.addr, err)
		}
		if ln == nil {
			continue
		}
		srv := smtpd.New(s.Delivery, smtpd.Options{
			Name: l.name, Submission: l.submission, Hostname: s.Cfg.Hostname, TLS: tlsCfg,
			AllowPlainAuth: s.Cfg.AllowPlain || IsLoopback(ln.Addr().String()), MaxMessageSize: s.Cfg.MaxMessageSize,
			Limits: s.Limits,
		}, s.Log)
		s.starters = append(s.starters, func() {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				if err := srv.Serve(ln); err != nil {
					s.Log.Error("smtp listener stopped", "listener", l.name, "err", err)
				}
			}()
		})
		s.closers = append(s.closers, func(ctx context.Context) error { return srv.Close(ctx) })
	}
	return nil
}
