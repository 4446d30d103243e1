package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/freeport"
	"github.com/tenantferry/tenantferry/internal/server"
)

// node is one of the demo's two servers and the tenant it hosts.
type node struct {
	*server.Server
	role     string // "source" or "target"
	tenant   string // tenant name
	tenantID string // its id, once created
	domain   string // the tenant's initial domain
	dir      string // the server's data directory
	// op is the operator; admin is the tenant admin (set once the tenant
	// exists), who performs the tenant's steps as in Exchange.
	op, admin *admin.Principal
	// adminToken is the tenant admin's token, for the web admin sign-in
	// link printed at the end.
	adminToken string
}

// stop shuts the server down gracefully (idempotent).
func (n *node) stop() {
	if n == nil || n.Server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n.Server.Shutdown(ctx)
	n.Server = nil
}

// serverConfig is the configuration of one demo server: every listener on
// a free loopback port, SQLite and blob files in dir, and a static
// transport for the other server's domain.
func serverConfig(dir, role, smtpAddr, transport string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP = "127.0.0.1:0"
	cfg.IMAP = "127.0.0.1:0"
	cfg.SMTP = smtpAddr
	cfg.Submission = "127.0.0.1:0"
	cfg.Hostname = role + ".demo." + cfg.ServiceDomain
	// The demo's domains are not in any DNS: authenticating its mail (SPF,
	// DKIM, DMARC) would only ask the system's resolver about them.
	cfg.InboundAuth = false
	cfg.Transports = []string{transport}
	// The two demo servers reach each other on loopback, which the endpoint
	// policy refuses by default: the demo allows it, as an operator would.
	cfg.EndpointAllow = []string{"127.0.0.0/8"}
	return cfg
}

// startPair starts the source server (tenant srcTenant) and the target
// server (tgtTenant), each routing the other's domain to the other's SMTP
// listener. The target's SMTP port is chosen before the source starts (the
// source's transport names it); if another process takes it meanwhile, the
// pair is started again.
func startPair(ctx context.Context, dd *dataDir, log *slog.Logger, srcTenant, tgtTenant string) (src, tgt *node, err error) {
	service := config.Default().ServiceDomain
	src = &node{role: "source", tenant: srcTenant, domain: srcTenant + "." + service, dir: dd.sub("source")}
	tgt = &node{role: "target", tenant: tgtTenant, domain: tgtTenant + "." + service, dir: dd.sub("target")}
	for attempt := 1; ; attempt++ {
		tgtSMTP, err := freeport.Addr()
		if err != nil {
			return nil, nil, errs.New(errs.Unavailable, "DemoNoPorts", "cannot find a free loopback port: %v", err)
		}
		if err = src.start(ctx, serverConfig(src.dir, src.role, "127.0.0.1:0", tgt.domain+"="+tgtSMTP), log); err != nil {
			return nil, nil, err
		}
		err = tgt.start(ctx, serverConfig(tgt.dir, tgt.role, tgtSMTP, src.domain+"="+src.Addr("smtp")), log)
		if err == nil {
			return src, tgt, nil
		}
		src.stop()
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 3 {
			return nil, nil, err
		}
	}
}

// start starts the node's server.
func (n *node) start(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	s, err := server.New(ctx, cfg, log.With("server", n.role))
	if err != nil {
		return wrapStep(err, "start the "+n.role+" server")
	}
	if err := s.Start(ctx); err != nil {
		s.Shutdown(context.Background())
		return wrapStep(err, "start the "+n.role+" server")
	}
	n.Server = s
	n.op = &admin.Principal{Operator: true, Name: "demo"}
	return nil
}

// describe is the one-line description of the node's listeners.
func (n *node) describe() string {
	return fmt.Sprintf("http %s  imap %s  smtp %s  submission %s", n.PublicURL, n.Addr("imap"), n.Addr("smtp"), n.Addr("submission"))
}

// wrapStep gives err the context of the demo step it failed in, keeping the
// code of a coded error so the cause stays searchable.
func wrapStep(err error, step string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return errs.New(errs.Unavailable, "DemoInterrupted", "%s: interrupted", step)
	}
	if ce := errs.As(err); ce != nil {
		c := *ce
		c.Message = step + ": " + ce.Message
		if ce.Kind == errs.Internal && ce.Cause != nil {
			c.Message += " (" + ce.Cause.Error() + ")"
		}
		return &c
	}
	return errs.New(errs.Internal, "DemoFailed", "%s: %v", step, err).WithCause(err)
}
