package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/server"
)

func (e *env) serveCmd() *cobra.Command {
	def := config.Default()
	var configFile string
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: HTTP API, identity, IMAP, SMTP",
		Long: `Run the tenantferry server. Settings come from defaults, then --config FILE
(key = value lines, keys as the flag names), then TENANTFERRY_<FLAG> environment
variables (e.g. TENANTFERRY_DB, TENANTFERRY_PUBLIC_URL), then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := config.Default()
			if configFile != "" {
				if err := cfg.LoadFile(configFile); err != nil {
					return err
				}
			}
			if err := cfg.LoadEnv(e.getenv); err != nil {
				return err
			}
			var ferr error
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if f.Name == "config" || ferr != nil {
					return
				}
				if sv, ok := f.Value.(pflag.SliceValue); ok {
					for _, v := range sv.GetSlice() {
						if err := cfg.Set(f.Name, v, "--"+f.Name); err != nil {
							ferr = err
						}
					}
					return
				}
				ferr = cfg.Set(f.Name, f.Value.String(), "--"+f.Name)
			})
			if ferr != nil {
				return ferr
			}
			return e.runServe(cmd.Context(), cfg)
		},
	}
	f := c.Flags()
	f.StringVar(&configFile, "config", "", "config file (key = value per line)")
	f.String("data", def.DataDir, "data directory")
	f.String("http", def.HTTP, "HTTP listen address (API, identity, replication, web UI)")
	f.String("imap", def.IMAP, "IMAP listen address ('off' to disable)")
	f.String("imaps", "", "IMAP implicit-TLS listen address (needs --tls-cert/--tls-key)")
	f.String("smtp", def.SMTP, "SMTP (MX) listen address ('off' to disable)")
	f.String("submission", def.Submission, "SMTP submission listen address, AUTH required ('off' to disable)")
	f.String("public-url", "", "public base URL of this server (default: from --http)")
	f.String("service-domain", def.ServiceDomain, "parent domain of tenants' initial domains")
	f.String("db", "", "database: empty = SQLite in the data dir; postgres://... = PostgreSQL")
	f.StringArray("transport", nil, "static route DOMAIN=HOST:PORT for outbound mail (repeatable)")
	f.String("hostname", def.Hostname, "host name in the SMTP banner and Received headers")
	f.String("tls-cert", "", "TLS certificate file (PEM) for STARTTLS and implicit TLS")
	f.String("tls-key", "", "TLS key file (PEM)")
	f.Bool("allow-plaintext", false, "allow password logins without TLS on non-loopback listeners")
	f.Int64("max-message-size", def.MaxMessageSize, "largest accepted message in bytes")
	f.String("blob-backend", def.BlobBackend, "where message bytes live: files (data dir or shared directory), db or s3")
	f.String("s3-endpoint", "", "S3 service URL for --blob-backend s3, e.g. http://127.0.0.1:8333")
	f.String("s3-bucket", "", "S3 bucket for --blob-backend s3 (must exist)")
	f.String("s3-region", def.S3Region, "S3 region")
	f.String("s3-credentials-file", "", "AWS shared-credentials file ([default]); default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	f.Int64("s3-cache-size", def.S3CacheSize, "bound of the local S3 read cache in bytes")
	f.Int64("blob-memory-budget", def.BlobMemoryBudget, "bytes this node's concurrent sync passes hold at once in blob write buffers (0: 16 MiB)")
	f.Int64("memory-limit", def.MemoryLimit, "the Go runtime's soft memory limit in bytes (0: none; the GOMEMLIMIT environment variable wins)")
	f.Duration("tombstone-retention", def.TombstoneRetention, "keep removals in the change feed this long; older IMAP/move consumers resync fully (0: forever)")
	f.Duration("retired-retention", def.RetiredRetention, "keep a moved-away source mailbox's content this long (0: forever)")
	f.Duration("report-retention", def.ReportRetention, "keep a removed migration batch's reports this long (0: forever)")
	f.Int64("migration-workers", 0, "this node's workers for sync passes (0: 4 per core, 8 to 64; endpoint limits still apply deployment-wide)")
	f.Int64("completion-workers", 0, "this node's workers for completions, a queue of their own (0: 1 per core, 2 to 16)")
	f.Int64("delivery-workers", 0, "this node's workers for outbound delivery (0: 4 per core, 8 to 64)")
	f.Duration("pass-slice", 0, "a sync pass that ran this long gives its worker to waiting moves and resumes later (0: 1m)")
	f.String("log-level", def.LogLevel, "log level: debug, info, warn, error")
	f.String("log-format", def.LogFormat, "log format: text or json")
	f.String("dns-resolver", "", "DNS server HOST:PORT for MX, TXT and TLSA lookups (default: the system's resolvers)")
	f.Int64("max-import-size", def.MaxImportSize, "largest mailbox import upload in bytes")
	f.StringArray("endpoint-allow", nil, "allow migration endpoints and remote issuers at this CIDR or host even if private or loopback (repeatable)")
	f.StringArray("endpoint-deny", nil, "never connect migration endpoints or remote issuers to this CIDR or host (repeatable)")
	f.Bool("inbound-auth", def.InboundAuth, "check SPF, DKIM, DMARC and ARC of mail arriving at the MX and apply DMARC policy")
	f.String("smtp-bind-address", "", "local IP address outbound SMTP connects from (default: chosen by the system)")
	f.String("acme-email", "", "obtain and renew certificates from an ACME CA with this contact address (needs --acme-directory; the CA connects to --http, which must be port 443)")
	f.String("acme-directory", "", "the ACME CA's directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
	f.String("acme-ca-file", "", "PEM bundle to trust for the ACME directory's HTTPS (a private CA)")
	f.Duration("acme-renew-before", def.ACMERenewBefore, "renew a certificate this long before it expires")
	f.Duration("acme-check-interval", def.ACMECheckInterval, "how often certificate names and expiry dates are checked")
	f.String("outbound-ca-file", "", "PEM bundle trusted, besides the system's roots, to verify outbound SMTP servers under MTA-STS (a private PKI)")
	f.Int64("auth-failures", def.AuthFailures, "failed logins (IMAP, SMTP AUTH, token endpoint, admin API) one client address may make per minute before it is locked out; an account may fail 3x as many")
	f.Duration("auth-lockout", def.AuthLockout, "first lockout after too many failed logins; doubles at each further lockout, up to 1h")
	f.Int64("max-conns-per-ip", def.MaxConnsPerIP, "open connections one client address may hold on each listener")
	f.Int64("messages-per-hour", def.MessagesPerHour, "messages one authenticated account may submit per hour")
	f.String("metrics-token-file", "", "file holding a token GET /metrics then requires (Authorization: Bearer TOKEN); default: /metrics is open")
	return c
}

// newLogger builds the slog logger of the configuration.
func newLogger(cfg config.Config, w *os.File) *slog.Logger {
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if strings.EqualFold(cfg.LogFormat, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (e *env) runServe(ctx context.Context, cfg config.Config) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := newLogger(cfg, os.Stderr)
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if s.OperatorToken != "" {
		// The token itself is never printed: stdout ends up in service
		// logs. The file is readable by the server's user only.
		fmt.Fprintf(e.stdout, "Operator token created in %s (mode 0600); the CLI reads it from there, or pass it with --token\n",
			filepath.Join(cfg.DataDir, server.OperatorTokenFile))
	}
	if err := s.Start(ctx); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	fmt.Fprintf(e.stdout, "tenantferry serving: http %s (public %s)%s\n", s.HTTPAddr(), s.PublicURL, s.ListenerSummary())
	fmt.Fprintf(e.stdout, "web admin: %s/ui/ (sign in with an admin token)\n", s.PublicURL)
	fmt.Fprintf(e.stdout, "admin API: %s/api/v1/ (OpenAPI document: %s/api/v1/openapi.json)\n", s.PublicURL, s.PublicURL)
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// atoi parses a flag value known to be numeric.
func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
