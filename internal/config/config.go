// Package config holds the settings of `tenantferry serve`: defaults, an
// optional config file, environment variables and flags, in increasing
// precedence.
//
// Invariants: a Config is a plain value passed down explicitly (no global
// mutable configuration); Validate reports every bad setting with a coded
// error naming the setting.
package config

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Config is the server configuration.
type Config struct {
	DataDir        string   // --data
	HTTP           string   // --http
	IMAP           string   // --imap (plain/STARTTLS)
	IMAPS          string   // --imaps (implicit TLS; needs a certificate)
	SMTP           string   // --smtp (MX)
	Submission     string   // --submission (AUTH required)
	PublicURL      string   // --public-url
	ServiceDomain  string   // --service-domain
	DB             string   // --db: empty = SQLite in DataDir, postgres://... = PostgreSQL
	Transports     []string // --transport DOMAIN=HOST:PORT
	Hostname       string   // --hostname: SMTP banner and Received headers
	TLSCert        string   // --tls-cert
	TLSKey         string   // --tls-key
	AllowPlain     bool     // --allow-plaintext: plain-text auth on non-loopback listeners
	MaxMessageSize int64    // --max-message-size (bytes)
	BlobBackend    string   // --blob-backend: files | db | s3
	// S3 settings of --blob-backend s3; the keys come from
	// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or S3CredentialsFile.
	S3Endpoint        string // --s3-endpoint: http(s)://host[:port]
	S3Bucket          string // --s3-bucket
	S3Region          string // --s3-region
	S3CredentialsFile string // --s3-credentials-file: AWS shared-credentials file ([default])
	S3CacheSize       int64  // --s3-cache-size: bound of the local read cache (bytes)
	// BlobMemoryBudget bounds the bytes this node's concurrent sync passes
	// hold at once in blob write buffers (0: blobstore.DefaultMemoryBudget).
	BlobMemoryBudget int64 // --blob-memory-budget
	// MemoryLimit is the Go runtime's soft memory limit set by serve
	// (debug.SetMemoryLimit; default DefaultMemoryLimit; 0: none; the
	// GOMEMLIMIT environment variable wins).
	MemoryLimit int64 // --memory-limit
	// TombstoneRetention is how long removals stay in a mailbox's change
	// feed; older consumers resynchronise fully (0: forever).
	TombstoneRetention time.Duration // --tombstone-retention
	// RetiredRetention is how long the content of a moved-away source
	// mailbox is kept before housekeeping deletes it (0: forever).
	RetiredRetention time.Duration // --retired-retention
	// MigrationWorkers, CompletionWorkers and DeliveryWorkers are this
	// node's workers of each job queue (0: sized from the cores).
	MigrationWorkers  int64 // --migration-workers
	CompletionWorkers int64 // --completion-workers
	DeliveryWorkers   int64 // --delivery-workers
	// PassSlice is how long a sync pass runs before it yields its worker
	// to waiting moves (0: migration.DefaultPassSlice).
	PassSlice time.Duration // --pass-slice
	// ReportRetention is how long a removed migration batch's reports
	// (users, statistics, skipped items, logs) stay queryable (0: forever).
	ReportRetention time.Duration // --report-retention
	LogLevel        string        // --log-level: debug | info | warn | error
	LogFormat       string        // --log-format: text | json
	// DNSResolver is the DNS server ("HOST:PORT") for MX, TXT and TLSA
	// lookups; empty means the system's resolvers.
	DNSResolver string // --dns-resolver
	// MaxImportSize bounds one mailbox import upload (bytes).
	MaxImportSize int64 // --max-import-size
	// EndpointAllow and EndpointDeny are the operator's policy for the
	// targets of migration endpoints and remote issuers (CIDR or host
	// name each): by default loopback, link-local and private addresses
	// are refused unless allowed here; a deny entry beats an allow entry.
	EndpointAllow []string // --endpoint-allow
	EndpointDeny  []string // --endpoint-deny
	// InboundAuth checks SPF, DKIM, DMARC and ARC of mail arriving at the
	// MX and applies DMARC policy.
	InboundAuth bool // --inbound-auth
	// SMTPBindAddress is the local IP outbound SMTP connects from (the
	// address SPF records must list); empty lets the system choose.
	SMTPBindAddress string // --smtp-bind-address
	// Abuse limits (internal/ratelimit; 0 takes its default): failed
	// authentications per client address per minute before a lockout
	// (an account may fail three times as many), the first lockout's
	// length (doubling per lockout up to an hour), open connections per
	// client address per listener, and messages per submitting account
	// per hour.
	// ACME certificates (internal/certs): the account's contact, the CA's
	// directory URL, a PEM bundle trusted for the directory (a private
	// CA), how long before expiry a certificate is renewed and how often
	// names and dates are looked at.
	ACMEEmail         string        // --acme-email
	ACMEDirectory     string        // --acme-directory
	ACMECAFile        string        // --acme-ca-file
	ACMERenewBefore   time.Duration // --acme-renew-before
	ACMECheckInterval time.Duration // --acme-check-interval
	// OutboundCAFile adds trusted roots for verifying next hops under
	// MTA-STS and fetching their policies (a private PKI); the system's
	// roots are always trusted.
	OutboundCAFile  string        // --outbound-ca-file
	AuthFailures    int64         // --auth-failures
	AuthLockout     time.Duration // --auth-lockout
	MaxConnsPerIP   int64         // --max-conns-per-ip
	MessagesPerHour int64         // --messages-per-hour
	// MetricsTokenFile holds the bearer token GET /metrics requires;
	// empty leaves /metrics open (the default).
	MetricsTokenFile string // --metrics-token-file
}

// DefaultMemoryLimit is MemoryLimit's default: none. A fixed soft limit
// below a node's live memory (many IMAP sessions) would keep the collector
// running all the time, at up to half the CPU, so the operator sets one
// that fits the node's role: 72 MiB keeps a migration node with 8
// concurrent passes within the design's 100 MB of resident memory
// (docs/benchmarks.md, "Node memory under concurrent passes").
const DefaultMemoryLimit = 0

// Default returns the defaults of the CLI contract.
func Default() Config {
	return Config{
		DataDir:            "./tenantferry-data",
		HTTP:               ":8080",
		IMAP:               ":1143",
		SMTP:               ":2525",
		Submission:         ":1587",
		ServiceDomain:      "tenantferry.test",
		Hostname:           "localhost",
		MaxMessageSize:     50 << 20,
		BlobBackend:        "files",
		S3Region:           "us-east-1",
		S3CacheSize:        1 << 30,
		MemoryLimit:        DefaultMemoryLimit,
		TombstoneRetention: 30 * 24 * time.Hour,
		RetiredRetention:   30 * 24 * time.Hour,
		ReportRetention:    90 * 24 * time.Hour,
		LogLevel:           "info",
		LogFormat:          "text",
		MaxImportSize:      8 << 30,
		InboundAuth:        true,
		ACMERenewBefore:    30 * 24 * time.Hour,
		ACMECheckInterval:  time.Hour,
		AuthFailures:       10,
		AuthLockout:        time.Minute,
		MaxConnsPerIP:      50,
		MessagesPerHour:    1000,
	}
}

// Keys maps setting names (as used in the config file, in TENANTFERRY_<KEY>
// environment variables with '-' → '_', and as flag names) to fields.
func (c *Config) Keys() map[string]any {
	return map[string]any{
		"data":                &c.DataDir,
		"http":                &c.HTTP,
		"imap":                &c.IMAP,
		"imaps":               &c.IMAPS,
		"smtp":                &c.SMTP,
		"submission":          &c.Submission,
		"public-url":          &c.PublicURL,
		"service-domain":      &c.ServiceDomain,
		"db":                  &c.DB,
		"transport":           &c.Transports,
		"hostname":            &c.Hostname,
		"tls-cert":            &c.TLSCert,
		"tls-key":             &c.TLSKey,
		"allow-plaintext":     &c.AllowPlain,
		"max-message-size":    &c.MaxMessageSize,
		"blob-backend":        &c.BlobBackend,
		"retired-retention":   &c.RetiredRetention,
		"report-retention":    &c.ReportRetention,
		"migration-workers":   &c.MigrationWorkers,
		"completion-workers":  &c.CompletionWorkers,
		"delivery-workers":    &c.DeliveryWorkers,
		"pass-slice":          &c.PassSlice,
		"log-level":           &c.LogLevel,
		"log-format":          &c.LogFormat,
		"dns-resolver":        &c.DNSResolver,
		"s3-endpoint":         &c.S3Endpoint,
		"s3-bucket":           &c.S3Bucket,
		"s3-region":           &c.S3Region,
		"s3-credentials-file": &c.S3CredentialsFile,
		"s3-cache-size":       &c.S3CacheSize,
		"blob-memory-budget":  &c.BlobMemoryBudget,
		"memory-limit":        &c.MemoryLimit,
		"tombstone-retention": &c.TombstoneRetention,
		"max-import-size":     &c.MaxImportSize,
		"endpoint-allow":      &c.EndpointAllow,
		"endpoint-deny":       &c.EndpointDeny,
		"inbound-auth":        &c.InboundAuth,
		"smtp-bind-address":   &c.SMTPBindAddress,
		"acme-email":          &c.ACMEEmail,
		"acme-directory":      &c.ACMEDirectory,
		"acme-ca-file":        &c.ACMECAFile,
		"acme-renew-before":   &c.ACMERenewBefore,
		"acme-check-interval": &c.ACMECheckInterval,
		"outbound-ca-file":    &c.OutboundCAFile,
		"auth-failures":       &c.AuthFailures,
		"auth-lockout":        &c.AuthLockout,
		"max-conns-per-ip":    &c.MaxConnsPerIP,
		"messages-per-hour":   &c.MessagesPerHour,
		"metrics-token-file":  &c.MetricsTokenFile,
	}
}

// Set assigns a textual value to a setting.
func (c *Config) Set(key, val, origin string) error {
	p, ok := c.Keys()[key]
	if !ok {
		return errs.Invalidf("UnknownSetting", "%s: unknown setting %q", origin, key)
	}
	switch f := p.(type) {
	case *string:
		*f = val
	case *[]string:
		*f = append(*f, val)
	case *bool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return ErrInvalidSetting.Newf("%s: %s must be true or false, not %q", origin, key, val)
		}
		*f = b
	case *time.Duration:
		d, err := time.ParseDuration(val)
		if err != nil || d < 0 {
			return ErrInvalidSetting.Newf("%s: %s must be a duration such as 720h, not %q", origin, key, val)
		}
		*f = d
	case *int64:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return ErrInvalidSetting.Newf("%s: %s must be a non-negative number, not %q", origin, key, val)
		}
		*f = n
	}
	return nil
}

// LoadFile applies a config file: one "key = value" per line, '#' comments;
// repeat "transport" for several entries.
func (c *Config) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return errs.Invalidf("ConfigNotFound", "cannot read config file %s: %v", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return errs.Invalidf("InvalidConfig", "%s:%d: expected key = value", path, n)
		}
		if err := c.Set(strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"`), fmt.Sprintf("%s:%d", path, n)); err != nil {
			return err
		}
	}
	return sc.Err()
}

// LoadEnv applies TENANTFERRY_<KEY> environment variables (TENANTFERRY_TRANSPORT
// may hold several entries separated by commas).
func (c *Config) LoadEnv(getenv func(string) string) error {
	for k := range c.Keys() {
		name := "TENANTFERRY_" + strings.ToUpper(strings.ReplaceAll(k, "-", "_"))
		v := getenv(name)
		if v == "" {
			continue
		}
		vals := []string{v}
		if k == "transport" || k == "endpoint-allow" || k == "endpoint-deny" {
			vals = strings.Split(v, ",")
		}
		for _, x := range vals {
			if err := c.Set(k, strings.TrimSpace(x), name); err != nil {
				return err
			}
		}
	}
	return nil
}

// TransportMap parses the --transport entries.
func (c *Config) TransportMap() (map[string]string, error) {
	m := map[string]string{}
	for _, t := range c.Transports {
		d, addr, ok := strings.Cut(t, "=")
		if !ok || d == "" {
			return nil, errs.Invalidf("InvalidTransport", "transport %q is not DOMAIN=HOST:PORT", t)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, errs.Invalidf("InvalidTransport", "transport %q: %q is not HOST:PORT", t, addr)
		}
		m[strings.ToLower(d)] = addr
	}
	return m, nil
}

// Validate checks the settings and fills derived defaults (PublicURL).
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return ErrInvalidSetting.Newf("data directory must not be empty")
	}
	for name, addr := range map[string]string{"http": c.HTTP, "imap": c.IMAP, "imaps": c.IMAPS, "smtp": c.SMTP, "submission": c.Submission} {
		if addr == "" || addr == "off" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return ErrInvalidSetting.Newf("--%s %q is not HOST:PORT or :PORT", name, addr).WithHint("use 'off' to disable a listener")
		}
	}
	if c.HTTP == "" || c.HTTP == "off" {
		return ErrInvalidSetting.Newf("the HTTP listener cannot be disabled")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ErrInvalidSetting.Newf("--public-url %q is not an absolute http(s) URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") && !strings.HasPrefix(c.DB, "sqlite:") {
		return ErrInvalidSetting.Newf("--db %q is neither empty (SQLite) nor a postgres:// URL", c.DB)
	}
	switch c.BlobBackend {
	case "files", "db":
	case "s3":
		if c.S3Endpoint == "" || c.S3Bucket == "" {
			return ErrInvalidSetting.Newf("--blob-backend s3 needs --s3-endpoint and --s3-bucket").
				WithHint("e.g. --s3-endpoint http://127.0.0.1:8333 --s3-bucket mail; keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or --s3-credentials-file")
		}
	default:
		return ErrInvalidSetting.Newf("--blob-backend must be files, db or s3, not %q", c.BlobBackend)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return ErrInvalidSetting.Newf("--tls-cert and --tls-key go together")
	}
	if c.IMAPS != "" && c.IMAPS != "off" && !c.HasTLS() {
		return ErrInvalidSetting.Newf("--imaps needs --tls-cert and --tls-key, or --acme-email and --acme-directory")
	}
	if (c.ACMEEmail == "") != (c.ACMEDirectory == "") {
		return ErrInvalidSetting.Newf("--acme-email and --acme-directory go together").
			WithHint("e.g. --acme-email admin@example.com --acme-directory https://acme-v02.api.letsencrypt.org/directory")
	}
	if c.ACMEDirectory != "" && c.TLSCert != "" {
		return ErrInvalidSetting.Newf("choose either certificate files (--tls-cert/--tls-key) or ACME (--acme-directory), not both")
	}
	if c.ACMEDirectory != "" {
		if u, err := url.Parse(c.ACMEDirectory); err != nil || u.Scheme != "https" || u.Host == "" {
			return ErrInvalidSetting.Newf("--acme-directory %q is not an https:// URL", c.ACMEDirectory)
		}
	}
	if _, err := c.TransportMap(); err != nil {
		return err
	}
	if c.SMTPBindAddress != "" && net.ParseIP(c.SMTPBindAddress) == nil {
		return ErrInvalidSetting.Newf("--smtp-bind-address %q is not an IP address", c.SMTPBindAddress).
			WithHint("give one of this host's addresses, the one your SPF records list")
	}
	return nil
}

// HasTLS reports whether the listeners have a certificate (files or
// ACME).
func (c *Config) HasTLS() bool { return c.TLSCert != "" || c.ACMEDirectory != "" }

// PublicURLFor returns the public URL, derived from the bound HTTP address
// when none was configured.
func (c *Config) PublicURLFor(boundHTTP string) string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	host, port, err := net.SplitHostPort(boundHTTP)
	if err != nil {
		return "http://" + boundHTTP
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	scheme := "http://"
	if c.HasTLS() {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, port)
}

// ErrInvalidSetting: a configuration value (flag or file) that is not
// valid; the message names the setting.
var ErrInvalidSetting = errs.Sentinel(errs.Invalid, "InvalidSetting")
