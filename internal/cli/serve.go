package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
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
	f.String("blob-backend", def.BlobBackend, "where message bytes live: files (data dir or shared directory) or db")
	f.Duration("retired-retention", def.RetiredRetention, "keep a moved-away source mailbox's content this long (0: forever)")
	f.String("log-level", def.LogLevel, "log level: debug, info, warn, error")
	f.String("log-format", def.LogFormat, "log format: text or json")
	f.String("dns-resolver", "", "DNS server HOST:PORT for MX, TXT and TLSA lookups (default: the system's resolvers)")
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
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if s.OperatorToken != "" {
		fmt.Fprintf(e.stdout, "Operator token (shown once; also stored in %s):\n%s\n",
			filepath.Join(cfg.DataDir, server.OperatorTokenFile), s.OperatorToken)
	}
	if err := s.Start(ctx); err != nil {
		s.Shutdown(context.Background())
		return err
	}
	fmt.Fprintf(e.stdout, "tenantferry serving: http %s (public %s)%s\n", s.HTTPAddr(), s.PublicURL, s.ListenerSummary())
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// atoi parses a flag value known to be numeric.
func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
