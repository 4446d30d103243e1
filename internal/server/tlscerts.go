package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tenantferry/tenantferry/internal/certs"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// setupTLS builds the certificate source of the configuration: files
// (reloaded when they change, and on SIGHUP) or ACME (obtained and
// renewed in the background from Start on). Without either the listeners
// have no TLS.
func (s *Server) setupTLS() error {
	switch {
	case s.Cfg.TLSCert != "":
		f, err := certs.LoadFiles(s.Cfg.TLSCert, s.Cfg.TLSKey, s.Log)
		if err != nil {
			return err
		}
		s.Certs = f
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		done := make(chan struct{})
		s.closers = append(s.closers, func(context.Context) error { signal.Stop(hup); close(done); return nil })
		go func() {
			for {
				select {
				case <-hup:
					f.Reload()
				case <-done:
					return
				}
			}
		}()
	case s.Cfg.ACMEDirectory != "":
		m, err := s.newACME()
		if err != nil {
			return err
		}
		s.Certs = m
		ctx, cancel := context.WithCancel(context.Background())
		s.closers = append(s.closers, func(context.Context) error { cancel(); return nil })
		s.starters = append(s.starters, func() {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); m.Run(ctx) }()
		})
	default:
		return nil
	}
	s.TLS = certs.TLSConfig(s.Certs)
	return nil
}

// newACME configures the ACME manager: the CA's client (trusting
// --acme-ca-file too), and the names: the hostname and, for every domain a
// tenant accepted (initial domains aside), mail., autoconfig. and mta-sts.
func (s *Server) newACME() (*certs.ACME, error) {
	client := &http.Client{Timeout: time.Minute}
	if s.Cfg.ACMECAFile != "" {
		pem, err := os.ReadFile(s.Cfg.ACMECAFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-file %s holds no PEM certificate", s.Cfg.ACMECAFile)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return certs.NewACME(certs.ACMEOptions{Directory: s.Cfg.ACMEDirectory, Email: s.Cfg.ACMEEmail, Dir: filepath.Join(s.Cfg.DataDir, "acme"),
		HTTPClient: client, Hostname: s.Cfg.Hostname, Names: s.certNames, RenewBefore: s.Cfg.ACMERenewBefore,
		CheckInterval: s.Cfg.ACMECheckInterval, Log: s.Log})
}

// certNames are the names that need a certificate.
func (s *Server) certNames(ctx context.Context) ([]string, error) {
	names := []string{strings.ToLower(s.Cfg.Hostname)}
	ts, err := s.Dir.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		ds, err := s.Dir.Domains(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if d.Initial || d.Status != directory.DomainVerified {
				continue
			}
			for _, p := range []string{"mail.", "autoconfig.", "mta-sts."} {
				names = append(names, p+strings.ToLower(d.Name))
			}
		}
	}
	return names, nil
}
