package source

import (
	"context"
	"errors"
	"time"

	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Local is the in-process NativeSource of a source tenant on this server:
// what a same-server move uses instead of the HTTP client. Every call
// presents the migration app's token to Authorize and OpenMailbox, exactly
// as the HTTP adapter does, so a same-server move is authorized by the
// same checks; only the transport is skipped.
type Local struct {
	c      *Core
	tenant string
	tokens replication.TokenSource
}

var (
	_ replication.NativeSource   = (*Local)(nil)
	_ replication.FreeBusySource = (*Local)(nil)
)

// Local returns the in-process connector to the source tenant named by
// tenantRef (the endpoint's RemoteTenant), authenticated with the app's
// tokens.
func (c *Core) Local(tenantRef string, tokens replication.TokenSource) *Local {
	return &Local{c: c, tenant: tenantRef, tokens: tokens}
}

// grant authorizes the app's current token; a rejected token is replaced
// once, as the HTTP client does.
func (l *Local) grant(ctx context.Context) (*Grant, error) {
	for attempt := 0; ; attempt++ {
		tok, err := l.tokens.Token(ctx)
		if err != nil {
			return nil, err
		}
		g, err := l.c.Authorize(ctx, l.tenant, tok)
		if errors.Is(err, identity.ErrTokenRejected) && attempt == 0 {
			l.tokens.Invalidate()
			continue
		}
		return g, err
	}
}

// open authorizes the token and opens a mailbox by GUID.
func (l *Local) open(ctx context.Context, guid string, allowConverted bool) (*Mailbox, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	return l.c.OpenMailbox(ctx, g, guid, allowConverted)
}

// Check implements replication.NativeSource.
func (l *Local) Check(ctx context.Context) (*replication.CheckReply, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	return l.c.Check(g), nil
}

// Mailbox implements replication.NativeSource.
func (l *Local) Mailbox(ctx context.Context, ref string) (*replication.MailboxInfo, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	return l.c.MailboxInfo(ctx, g, ref, false)
}

// Scope implements replication.NativeSource.
func (l *Local) Scope(ctx context.Context) ([]replication.MailboxInfo, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := l.c.Scope(ctx, g)
	if err != nil {
		return nil, err
	}
	out := make([]replication.MailboxInfo, len(ms))
	for i, m := range ms {
		out[i] = *m
	}
	return out, nil
}

// State implements replication.Source.
func (l *Local) State(ctx context.Context, guid string) (*replication.StateReply, error) {
	m, err := l.open(ctx, guid, false)
	if err != nil {
		return nil, err
	}
	return m.State(ctx)
}

// Folders implements replication.Source.
func (l *Local) Folders(ctx context.Context, guid string, since int64) (*replication.FoldersReply, error) {
	m, err := l.open(ctx, guid, false)
	if err != nil {
		return nil, err
	}
	return m.Folders(ctx, since)
}

// Items implements replication.Source.
func (l *Local) Items(ctx context.Context, guid string, after replication.Cursor, upto int64, limit int, detailOver int64) (*replication.ItemsReply, error) {
	m, err := l.open(ctx, guid, false)
	if err != nil {
		return nil, err
	}
	return m.Items(ctx, after, upto, limit, detailOver)
}

// Deletions implements replication.Source.
func (l *Local) Deletions(ctx context.Context, guid string, after replication.Cursor, upto int64, limit int) (*replication.DeletionsReply, error) {
	m, err := l.open(ctx, guid, false)
	if err != nil {
		return nil, err
	}
	return m.Deletions(ctx, after, upto, limit)
}

// OpenContent implements replication.Source.
func (l *Local) OpenContent(ctx context.Context, guid string, ids []int64) (*replication.ContentStream, error) {
	m, err := l.open(ctx, guid, false)
	if err != nil {
		return nil, err
	}
	return m.OpenContent(ctx, ids)
}

// Manifest implements replication.Source.
func (l *Local) Manifest(ctx context.Context, guid string) (*replication.ManifestReply, error) {
	m, err := l.open(ctx, guid, true)
	if err != nil {
		return nil, err
	}
	return m.Manifest(ctx, "")
}

// Register implements replication.NativeSource.
func (l *Local) Register(ctx context.Context, moveID string, req replication.RegisterRequest) (*replication.Registration, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	return l.c.Register(ctx, g, moveID, req)
}

// Unregister implements replication.NativeSource.
func (l *Local) Unregister(ctx context.Context, moveID string) error {
	g, err := l.grant(ctx)
	if err != nil {
		return err
	}
	return l.c.Unregister(ctx, g, moveID)
}

// Lock implements replication.NativeSource.
func (l *Local) Lock(ctx context.Context, guid, moveID string) (*replication.LockReply, error) {
	m, err := l.open(ctx, guid, true)
	if err != nil {
		return nil, err
	}
	return l.c.Lock(ctx, m, moveID)
}

// Unlock implements replication.NativeSource.
func (l *Local) Unlock(ctx context.Context, guid, moveID string) (*replication.LockReply, error) {
	m, err := l.open(ctx, guid, true)
	if err != nil {
		return nil, err
	}
	return l.c.Unlock(ctx, m, moveID)
}

// Finalize implements replication.NativeSource.
func (l *Local) Finalize(ctx context.Context, guid string, req replication.FinalizeRequest) (*replication.LockReply, error) {
	m, err := l.open(ctx, guid, true)
	if err != nil {
		return nil, err
	}
	return l.c.Finalize(ctx, m, req)
}

// FreeBusy implements replication.FreeBusySource.
func (l *Local) FreeBusy(ctx context.Context, ref string, start, end time.Time) (*replication.FreeBusyReply, error) {
	g, err := l.grant(ctx)
	if err != nil {
		return nil, err
	}
	return l.c.FreeBusy(ctx, g, ref, start, end)
}

// PasswordHash returns the password hash of a source mailbox's user,
// authorized like every call of the move (the app's token, the published
// scope): a same-server move carries it to the target at completion.
func (l *Local) PasswordHash(ctx context.Context, guid string) (string, error) {
	m, err := l.open(ctx, guid, true)
	if err != nil {
		return "", err
	}
	return l.c.Dir.PasswordHash(ctx, m.rec.TenantID, m.rec.ID)
}
