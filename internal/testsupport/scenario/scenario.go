// Package scenario starts real tenantferry servers for tests (in-process,
// loopback listeners, temporary data directories) and sets up the
// cross-tenant trust of docs/architecture.md §1 steps 1–6 between them.
//
// Invariant: everything is real — database, listeners, HTTP, SMTP — and
// every server is shut down when its test ends.
package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/freeport"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// Server is a running test server.
type Server struct {
	*server.Server
	t   testing.TB
	Cfg config.Config
	Op  *admin.Principal
}

// FreeAddr returns a loopback address with a port that was free a moment
// ago (for configurations that must name a port before it is bound).
func FreeAddr(t testing.TB) string {
	t.Helper()
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Options configure Start.
type Options struct {
	DataDir    string            // default t.TempDir()
	DB         string            // default SQLite
	SMTP       string            // default a free loopback port; "off" to disable
	HTTP       string            // default 127.0.0.1:0
	IMAP       string            // default "off"
	Transports map[string]string // domain → host:port
	Log        io.Writer         // server log (default discarded)
	// DNSResolver is the DNS server of the server (--dns-resolver), e.g. a
	// dnstest server. Without one, mail arriving at the MX is not
	// authenticated (SPF, DKIM, DMARC would ask the system's DNS).
	DNSResolver string
	// BlobBackend is files (default), db or s3 (a SeaweedFS bucket of its
	// own; the test skips when SeaweedFS is not installed).
	BlobBackend string
}

// Config is the server configuration (for StartWith).
type Config = config.Config

// Start starts a server.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	return StartWith(t, o, nil)
}

// StartWith starts a server, letting edit change its configuration last.
func StartWith(t testing.TB, o Options, edit func(*Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = o.DataDir
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.DB = o.DB
	cfg.HTTP = o.HTTP
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:0"
	}
	cfg.SMTP = o.SMTP
	if cfg.SMTP == "" {
		cfg.SMTP = FreeAddr(t)
	}
	cfg.IMAP = o.IMAP
	if cfg.IMAP == "" {
		cfg.IMAP = "off"
	}
	cfg.Submission = "off"
	cfg.DNSResolver = o.DNSResolver
	cfg.InboundAuth = o.DNSResolver != ""
	keys := make([]string, 0, len(o.Transports))
	for d := range o.Transports {
		keys = append(keys, d)
	}
	sort.Strings(keys)
	for _, d := range keys {
		cfg.Transports = append(cfg.Transports, d+"="+o.Transports[d])
	}
	// Test servers, Dovecot and test doubles all listen on loopback, which
	// the endpoint policy refuses by default: the rig allows it explicitly,
	// as an operator would with --endpoint-allow. Tests of the policy
	// itself clear it in edit.
	cfg.EndpointAllow = []string{"127.0.0.0/8", "::1"}
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	if o.BlobBackend != "" {
		cfg.BlobBackend = o.BlobBackend
	}
	if o.BlobBackend == "s3" {
		ConfigureS3(t, &cfg)
	}
	if edit != nil {
		edit(&cfg)
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := server.New(context.Background(), cfg, log)
	for try := 0; err != nil && o.SMTP == "" && errors.Is(err, syscall.EADDRINUSE) && try < 5; try++ {
		// The SMTP port FreeAddr chose was taken meanwhile (by a test
		// of another package running in parallel): choose again.
		cfg.SMTP = FreeAddr(t)
		s, err = server.New(context.Background(), cfg, log)
	}
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("start server: %v", err)
	}
	ts := &Server{Server: s, t: t, Cfg: cfg, Op: &admin.Principal{Operator: true, Name: "test"}}
	t.Cleanup(func() { ts.Stop() })
	// Cleanups run last-in first-out: the check sees the running server's
	// store (one read snapshot) before Stop.
	t.Cleanup(func() {
		if ts.Server != nil {
			if err := ts.Store.CheckConsistency(context.Background()); err != nil {
				t.Errorf("store consistency: %v", err)
			}
			if ts.Delivery != nil {
				if err := ts.Delivery.CheckConsistency(context.Background()); err != nil {
					t.Errorf("queue consistency: %v", err)
				}
			}
		}
	})
	return ts
}

// ConfigureS3 points cfg at a fresh bucket of a SeaweedFS started for the
// test (blobtest), with a credentials file in the data directory.
func ConfigureS3(t testing.TB, cfg *Config) {
	t.Helper()
	w := blobtest.Start(t)
	cfg.BlobBackend = "s3"
	cfg.S3Endpoint, cfg.S3Bucket, cfg.S3Region = w.Endpoint, w.Bucket(t), "us-east-1"
	cfg.S3CredentialsFile = filepath.Join(t.TempDir(), "s3-credentials")
	cred := "[default]\naws_access_key_id = " + blobtest.AccessKey + "\naws_secret_access_key = " + blobtest.SecretKey + "\n"
	if err := os.WriteFile(cfg.S3CredentialsFile, []byte(cred), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Stop shuts the server down (idempotent).
func (s *Server) Stop() {
	if s.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s.Server.Shutdown(ctx)
	s.Server = nil
}

// Tenant returns the tenant, creating it when missing.
func (s *Server) Tenant(name string) *directory.Tenant {
	s.t.Helper()
	ctx := context.Background()
	if t, err := s.Dir.GetTenant(ctx, name); err == nil {
		return t
	}
	tc, err := s.Admin.CreateTenant(ctx, s.Op, name)
	if err != nil {
		s.t.Fatalf("create tenant %s: %v", name, err)
	}
	return tc.Tenant
}

// Mailbox creates a user mailbox in the tenant.
func (s *Server) Mailbox(tenant, alias, password string, archive bool) *directory.Recipient {
	s.t.Helper()
	r, err := s.Admin.CreateRecipient(context.Background(), s.Op, tenant, directory.RecipientSpec{Type: directory.UserMailbox, Alias: alias,
		FirstName: strings.ToUpper(alias[:1]) + alias[1:], LastName: "Test", Password: password, Archive: archive})
	if err != nil {
		s.t.Fatalf("create mailbox %s: %v", alias, err)
	}
	return r
}

// Content returns the mailbox content of a recipient (by ExchangeGuid or
// ArchiveGuid).
func (s *Server) Content(tenant, guid string) *mailstore.Mailbox {
	s.t.Helper()
	t := s.Tenant(tenant)
	mb, err := s.Store.Mailbox(context.Background(), t.ID, guid)
	if err != nil {
		s.t.Fatalf("mailbox %s: %v", guid, err)
	}
	return mb
}

// Trust is the migration configuration between a source and a target
// tenant.
type Trust struct {
	AppID          string
	Issuer         string
	Secret         string
	Endpoint       string
	SourceTenant   *directory.Tenant
	TargetTenant   *directory.Tenant
	ScopeGroup     string
	TargetDelivery string
}

// SetupTrust performs docs/architecture.md §1 steps 1–6 between src/srcTenant (source)
// and tgt/tgtTenant (target), with the published scope group MigrationScope
// (the members are added by AddToScope).
func SetupTrust(t testing.TB, src *Server, srcTenant string, tgt *Server, tgtTenant string) *Trust {
	t.Helper()
	st, tt := src.Tenant(srcTenant), tgt.Tenant(tgtTenant)
	ts, err := admin.SetupMigrationTrust(context.Background(), src.Admin, src.Op, srcTenant, src.PublicURL, tgt.Admin, tgt.Op, tgtTenant)
	must(t, err)
	return &Trust{AppID: ts.AppID, Issuer: ts.Issuer, Secret: ts.Secret, Endpoint: ts.Endpoint, SourceTenant: st, TargetTenant: tt,
		ScopeGroup: ts.ScopeGroup, TargetDelivery: tt.InitialDomain}
}

// AddToScope adds source mailboxes to the published scope group.
func (tr *Trust) AddToScope(t testing.TB, src *Server, aliases ...string) {
	t.Helper()
	for _, a := range aliases {
		_, err := src.Admin.AddMember(context.Background(), src.Op, tr.SourceTenant.Name, tr.ScopeGroup, a)
		must(t, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Send submits a message over SMTP to addr (host:port) and returns the
// server's error, if any.
func Send(addr, from string, to []string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// Message builds a small RFC 5322 message.
func Message(from, to, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@test>\r\nDate: %s\r\n\r\n%s\r\n",
		from, to, subject, strings.ReplaceAll(subject, " ", "."), time.Now().Format(time.RFC1123Z), body))
}

// Eventually polls f until it returns nil or the timeout passes (wait.For).
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	wait.For(t, timeout, what, f)
}

// WriteFile writes a file in a temp dir and returns its path.
func WriteFile(t testing.TB, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
