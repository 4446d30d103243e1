// Package certs supplies the TLS certificates of every listener (HTTPS,
// IMAPS, IMAP and SMTP STARTTLS) and swaps them without a restart: from
// files (--tls-cert/--tls-key, reloaded when they change or on SIGHUP) or
// from an ACME CA (--acme-email, --acme-directory; acme.go).
//
// Invariants:
//   - a listener's tls.Config asks GetCertificate at every handshake, so
//     a renewed or reloaded certificate is served from the next
//     connection on; connections already open keep theirs;
//   - a reload that fails (a half-written file, a key that does not match)
//     keeps the certificate in use and is logged: a bad file never takes
//     TLS down;
//   - a handshake without SNI gets the certificate of the server's
//     hostname.
package certs

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Source gives the certificate for a handshake.
type Source interface {
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

// TLSConfig is the configuration of every TLS listener using src. With an
// ACME source it also answers tls-alpn-01 challenges (ALPN acme-tls/1).
func TLSConfig(src Source) *tls.Config {
	cfg := &tls.Config{GetCertificate: src.GetCertificate, MinVersion: tls.VersionTLS12}
	if _, ok := src.(*ACME); ok {
		cfg.NextProtos = []string{"h2", "http/1.1", ACMETLS1Protocol}
	}
	return cfg
}

// recheckEvery bounds how often a handshake looks at the files' times.
const recheckEvery = time.Second

// Files is a certificate and key from PEM files, reloaded when either
// file's modification time or size changes (looked at, at most once a
// second, at a handshake) and on Reload.
type Files struct {
	CertFile, KeyFile string
	Log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // the files' times and sizes when loaded
	checked time.Time
}

// LoadFiles loads the pair once; an error here is a startup error.
func LoadFiles(certFile, keyFile string, log *slog.Logger) (*Files, error) {
	if log == nil {
		log = slog.Default()
	}
	f := &Files{CertFile: certFile, KeyFile: keyFile, Log: log}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// stampOf describes the files' current versions.
func (f *Files) stampOf() string {
	var s string
	for _, p := range []string{f.CertFile, f.KeyFile} {
		if st, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
		}
	}
	return s
}

// Reload reads the files again. On failure the certificate in use stays.
func (f *Files) Reload() error {
	stamp := f.stampOf()
	c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stamp, f.checked = stamp, time.Now()
	if err != nil {
		if f.cert != nil {
			f.Log.Error("TLS certificate reload failed; the previous certificate stays in use", "cert", f.CertFile, "err", err)
		}
		return fmt.Errorf("load TLS certificate %s: %w", f.CertFile, err)
	}
	if f.cert != nil {
		f.Log.Info("TLS certificate reloaded", "cert", f.CertFile, "not_after", c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	f.cert = &c
	return nil
}

// GetCertificate implements Source.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	due := time.Since(f.checked) >= recheckEvery
	if due {
		f.checked = time.Now()
	}
	changed := due && f.stampOf() != f.stamp
	f.mu.Unlock()
	if changed {
		f.Reload()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert, nil
}
