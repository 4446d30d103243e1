package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/tenantferry/tenantferry/internal/imapd"
)

// setupIMAP binds the IMAP listeners: plain text with STARTTLS (--imap)
// and implicit TLS (--imaps, with a certificate). Plain-text
// authentication is allowed on loopback connections or with
// --allow-plaintext; elsewhere the server advertises LOGINDISABLED until
// STARTTLS.
func (s *Server) setupIMAP(context.Context) error {
	tlsConfig := s.TLS
	var lns []net.Listener
	ln, err := s.listen("imap", s.Cfg.IMAP)
	if err != nil {
		return fmt.Errorf("listen imap %s: %w", s.Cfg.IMAP, err)
	}
	if ln != nil {
		lns = append(lns, ln)
	}
	if tlsConfig != nil {
		ln, err := s.listen("imaps", s.Cfg.IMAPS)
		if err != nil {
			return fmt.Errorf("listen imaps %s: %w", s.Cfg.IMAPS, err)
		}
		if ln != nil {
			lns = append(lns, tls.NewListener(ln, tlsConfig))
		}
	}
	if len(lns) == 0 {
		return nil
	}
	srv, err := imapd.New(imapd.Options{
		Dir:       s.Dir,
		Store:     s.Store,
		Quota:     s.Quota,
		Limits:    s.Limits,
		Log:       s.Log,
		TLSConfig: tlsConfig,
		AllowPlainAuth: func(c net.Conn) bool {
			return s.Cfg.AllowPlain || IsLoopback(c.LocalAddr().String())
		},
		AppendLimit: s.Cfg.MaxMessageSize,
	})
	if err != nil {
		return err
	}
	s.starters = append(s.starters, func() {
		for _, ln := range lns {
			go func(ln net.Listener) {
				if err := srv.Serve(ln); err != nil {
					s.Log.Error("imap server stopped", "addr", ln.Addr().String(), "err", err)
				}
			}(ln)
		}
	})
	s.closers = append(s.closers, func(context.Context) error { return srv.Close() })
	return nil
}
