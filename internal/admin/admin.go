// Package admin is the one administrative core of tenantferry. The CLI (over
// the HTTP API), the HTTP API itself and the web UI all call it, so every
// rule — who may do what, which input is valid, what gets audited — is
// enforced here once.
//
// Invariants:
//   - Every call takes the caller's Principal and authorizes it before
//     reading anything: operator-only calls refuse tenant admins; a tenant
//     admin reaches only its own tenant, and a reference to any other tenant
//     fails with TenantAccessDenied whether or not that tenant exists (no
//     existence oracle).
//   - Every change is recorded in the audit table with the actor, never with
//     a secret.
//   - Secrets are returned once, at creation, and never again.
package admin

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/netguard"
)

// Principal is the authenticated caller of an admin operation.
type Principal = directory.Principal

// MailboxContent is what the admin core needs from the mailbox store: create
// the content of a new mailbox, report statistics, remove content.
type MailboxContent interface {
	// Provision creates the (empty, default-folder) content of a mailbox
	// with the given GUID in the tenant; it is idempotent.
	Provision(ctx context.Context, tenantID, guid string, archive bool) error
	// Stats returns per-folder statistics of the mailbox (a JSON-able value).
	Stats(ctx context.Context, tenantID, guid string) (any, error)
	// Remove deletes the mailbox's content.
	Remove(ctx context.Context, tenantID, guid string) error
	// Import loads messages (format mbox, maildir or emldir) into a folder
	// of the mailbox and returns a JSON-able result. size is the upload's
	// declared length (-1: unknown, refused); an upload over the limits is
	// refused before anything is read or written (QuotaExceeded when the
	// mailbox, named name in errors, or its tenant has no room for it).
	Import(ctx context.Context, tenantID, guid, name, format, folder string, size int64, body io.Reader) (any, error)
}

// Core is the admin core.
type Core struct {
	Dir *directory.Directory
	// Content is optional; without it mailboxes have no content store.
	Content MailboxContent
	// Storage is optional; without it storage commands are unavailable.
	Storage Storage
	// Migration is optional; without it batch commands are unavailable.
	Migration *migration.Service
	// Source is optional: the source side of moves (registered moves).
	Source *source.Core
	// MailAuth is optional; without it DKIM key commands are unavailable.
	MailAuth *mailauth.Service
	// PublicURL is this server's public base URL (issuers, consent URLs).
	PublicURL string
	// Guard, when set, is the operator's policy for the servers endpoints
	// and consents may name (a refusal at creation is early feedback; the
	// policy is enforced again when connecting).
	Guard *netguard.Policy
	// Resolver looks up domain verification records and checks the
	// records of `domain check` (--dns-resolver).
	Resolver *dnsx.Resolver
	// Host is how clients and servers reach this server, for `domain
	// dns` (set by the server).
	Host Host
	Log  *slog.Logger
}

// New returns an admin core.
func New(dir *directory.Directory, publicURL string, log *slog.Logger) *Core {
	if log == nil {
		log = slog.Default()
	}
	return &Core{Dir: dir, PublicURL: strings.TrimSuffix(publicURL, "/"), Log: log}
}

// Authenticate resolves an API token.
func (c *Core) Authenticate(ctx context.Context, token string) (*Principal, error) {
	return c.Dir.Authenticate(ctx, token)
}

func requireOperator(p *Principal) error {
	if p == nil || !p.Operator {
		return ErrOperatorRequired.Newf("this action needs the operator token").
			WithHint("use the token from DATA/operator.token")
	}
	return nil
}

// Tenant resolves a tenant reference (id, name or domain) and checks that the
// principal may act on it.
func (c *Core) Tenant(ctx context.Context, p *Principal, ref string) (*directory.Tenant, error) {
	if p == nil {
		return nil, errs.Unauthorizedf("AuthenticationRequired", "no API token was given")
	}
	if ref == "" && !p.Operator {
		ref = p.TenantID
	}
	t, err := c.Dir.GetTenant(ctx, ref)
	if !p.Operator {
		if err != nil || t.ID != p.TenantID {
			return nil, errs.Forbiddenf("TenantAccessDenied", "your token is scoped to another tenant and cannot act on tenant %q", ref).
				WithHint("use a token of that tenant, or the operator token").WithObject(ref)
		}
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// audit records an admin action.
func (c *Core) audit(ctx context.Context, p *Principal, tenantID, action, object string) {
	actor := "operator"
	if p != nil && !p.Operator {
		actor = "tenant-admin:" + p.TokenID
	}
	var tid any
	if tenantID != "" {
		tid = tenantID
	}
	err := c.Dir.DB().Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, tenant_id, actor, action, object) VALUES (?, ?, ?, ?, ?)`, db.Now(), tid, actor, action, object)
		return err
	})
	if err != nil {
		c.Log.Warn("audit write failed", "action", action, "err", err)
	}
	c.Log.Info("admin", "action", action, "tenant", tenantID, "object", object, "actor", actor)
}

// ErrOperatorRequired: an operator-only action with a tenant token.
var ErrOperatorRequired = errs.Sentinel(errs.Forbidden, "OperatorRequired")
