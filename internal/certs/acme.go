package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// ACMETLS1Protocol is the ALPN protocol of tls-alpn-01 challenges (RFC
// 8737).
const ACMETLS1Protocol = "acme-tls/1"

// Defaults of ACMEOptions.
const (
	DefaultRenewBefore   = 30 * 24 * time.Hour
	DefaultCheckInterval = time.Hour
)

// ACMEOptions configure NewACME.
type ACMEOptions struct {
	// Directory is the CA's directory URL (Let's Encrypt:
	// https://acme-v02.api.letsencrypt.org/directory).
	Directory string
	// Email is the account's contact.
	Email string
	// Dir keeps the account key and the certificates (DATA/acme).
	Dir string
	// HTTPClient reaches the CA (its RootCAs may trust a private CA).
	HTTPClient *http.Client
	// Hostname is the server's name: its certificate is the default.
	Hostname string
	// Names returns every name that needs a certificate now (the hostname
	// and the accepted domains' mail., autoconfig. and mta-sts. names);
	// called at start and at every check.
	Names func(ctx context.Context) ([]string, error)
	// RenewBefore renews a certificate this long before it expires.
	RenewBefore time.Duration
	// CheckInterval is how often names and expiry dates are looked at.
	CheckInterval time.Duration
	Log           *slog.Logger
}

// ACME obtains certificates from an ACME CA with the tls-alpn-01
// challenge (answered on the TLS listeners themselves: the CA connects to
// port 443, which must be --http's), keeps them in Dir, renews them before
// they expire and serves the current one at every handshake.
type ACME struct {
	o      ACMEOptions
	client *acme.Client

	mu    sync.RWMutex
	certs map[string]*tls.Certificate // by name
	chals map[string]*tls.Certificate // pending tls-alpn-01 answers, by name
}

// NewACME prepares the manager and loads the certificates Dir holds. Run
// starts obtaining and renewing.
func NewACME(o ACMEOptions) (*ACME, error) {
	if o.RenewBefore <= 0 {
		o.RenewBefore = DefaultRenewBefore
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.Log = o.Log.With("component", "acme")
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	key, err := loadOrCreateKey(filepath.Join(o.Dir, "account.key"))
	if err != nil {
		return nil, err
	}
	m := &ACME{o: o, client: &acme.Client{Key: key, DirectoryURL: o.Directory, HTTPClient: o.HTTPClient, UserAgent: "tenantferry"},
		certs: map[string]*tls.Certificate{}, chals: map[string]*tls.Certificate{}}
	entries, _ := filepath.Glob(filepath.Join(o.Dir, "*.pem"))
	for _, p := range entries {
		if c, err := tls.LoadX509KeyPair(p, p); err == nil && c.Leaf != nil {
			m.certs[strings.TrimSuffix(filepath.Base(p), ".pem")] = &c
		}
	}
	return m, nil
}

// GetCertificate implements Source: the challenge answer for acme-tls/1,
// else the name's certificate, else the hostname's.
func (m *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	m.mu.RLock()
	defer m.mu.RUnlock()
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ACMETLS1Protocol {
		if c := m.chals[name]; c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("acme: no tls-alpn-01 challenge pending for %q", name)
	}
	if c := m.certs[name]; c != nil {
		return c, nil
	}
	if c := m.certs[strings.ToLower(m.o.Hostname)]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("acme: no certificate for %q yet", name)
}

// Run registers the account (once) and keeps every name's certificate
// current until ctx ends: at start, then every CheckInterval.
func (m *ACME) Run(ctx context.Context) {
	t := time.NewTicker(m.o.CheckInterval)
	defer t.Stop()
	for {
		m.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Check obtains the certificates that are missing or due for renewal.
// Failures are logged and retried at the next check.
func (m *ACME) Check(ctx context.Context) {
	if err := m.register(ctx); err != nil {
		m.o.Log.Error("ACME account registration failed; retrying at the next check", "directory", m.o.Directory, "err", err)
		return
	}
	names, err := m.o.Names(ctx)
	if err != nil {
		m.o.Log.Error("ACME: cannot list the names that need certificates", "err", err)
		return
	}
	sort.Strings(names)
	for _, n := range names {
		if ctx.Err() != nil {
			return
		}
		m.mu.RLock()
		c := m.certs[n]
		m.mu.RUnlock()
		if c != nil && time.Until(c.Leaf.NotAfter) > m.o.RenewBefore {
			continue
		}
		if err := m.obtain(ctx, n); err != nil {
			m.o.Log.Error("ACME: obtaining a certificate failed; retrying at the next check", "name", n, "err", err)
			continue
		}
		what := "obtained"
		if c != nil {
			what = "renewed"
		}
		m.mu.RLock()
		m.o.Log.Info("ACME certificate "+what, "name", n, "not_after", m.certs[n].Leaf.NotAfter.UTC().Format(time.RFC3339))
		m.mu.RUnlock()
	}
}

// register creates the account, or finds it for a key already registered.
func (m *ACME) register(ctx context.Context) error {
	_, err := m.client.Register(ctx, &acme.Account{Contact: []string{"mailto:" + m.o.Email}}, acme.AcceptTOS)
	if errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil
	}
	return err
}

// obtain runs one order for name with tls-alpn-01 and installs the
// certificate.
func (m *ACME) obtain(ctx context.Context, name string) error {
	if name == "" || strings.ContainsAny(name, "/\\ ") || strings.Contains(name, "..") {
		return fmt.Errorf("%q is not a host name", name)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	order, err := m.client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return err
	}
	for _, u := range order.AuthzURLs {
		if err := m.authorize(ctx, u, name); err != nil {
			return err
		}
	}
	if order, err = m.client.WaitOrder(ctx, order.URI); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		return err
	}
	der, _, err := m.client.CreateOrderCert(ctx, order.FinalizeURL, csr, true)
	if err != nil {
		return err
	}
	return m.install(name, der, key)
}

// authorize answers one authorization's tls-alpn-01 challenge.
func (m *ACME) authorize(ctx context.Context, url, name string) error {
	z, err := m.client.GetAuthorization(ctx, url)
	if err != nil || z.Status == acme.StatusValid {
		return err
	}
	var chal *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == "tls-alpn-01" {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("the CA offers no tls-alpn-01 challenge for %s", name)
	}
	cert, err := m.client.TLSALPN01ChallengeCert(chal.Token, name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.chals[name] = &cert
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.chals, name)
		m.mu.Unlock()
	}()
	if _, err := m.client.Accept(ctx, chal); err != nil {
		return err
	}
	_, err = m.client.WaitAuthorization(ctx, url)
	return err
}

// install writes the chain and key to Dir (atomically) and serves them
// from the next handshake on.
func (m *ACME) install(name string, der [][]byte, key crypto.Signer) error {
	var buf []byte
	for _, b := range der {
		buf = append(buf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})...)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	buf = append(buf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	c, err := tls.X509KeyPair(buf, buf)
	if err != nil {
		return err
	}
	p := filepath.Join(m.o.Dir, name+".pem")
	if err := os.WriteFile(p+".tmp", buf, 0o600); err != nil {
		return err
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return err
	}
	m.mu.Lock()
	m.certs[name] = &c
	m.mu.Unlock()
	return nil
}

// loadOrCreateKey reads the account key, creating it on first use.
func loadOrCreateKey(path string) (crypto.Signer, error) {
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM key", path)
		}
		k, err := x509.ParseECPrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	b, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: b}), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}
