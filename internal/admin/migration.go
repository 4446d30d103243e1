package admin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// migrationFor authorizes the principal on the tenant and returns the
// migration service with the tenant's id.
func (c *Core) migrationFor(ctx context.Context, p *Principal, tenant string) (*migration.Service, string, error) {
	t, err := c.Tenant(ctx, p, tenant)
	if err != nil {
		return nil, "", err
	}
	if c.Migration == nil {
		return nil, "", errs.New(errs.Unavailable, "MigrationUnavailable", "the migration service is not running on this server")
	}
	return c.Migration, t.ID, nil
}

// CreateBatch creates a migration batch from a CSV.
func (c *Core) CreateBatch(ctx context.Context, p *Principal, tenant string, spec migration.BatchSpec) (*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	b, err := m.CreateBatch(ctx, tid, spec)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "batch.create", b.Name)
	return m.ViewBatch(ctx, b)
}

// ValidateBatch checks a batch as CreateBatch would, row by row, and
// writes nothing (migration.Service.ValidateBatch).
func (c *Core) ValidateBatch(ctx context.Context, p *Principal, tenant string, spec migration.BatchSpec) ([]migration.RowCheck, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return m.ValidateBatch(ctx, tid, spec)
}

// BatchAction names a state-changing batch command.
type BatchAction string

// Batch actions.
const (
	BatchStart    BatchAction = "start"
	BatchStop     BatchAction = "stop"
	BatchSyncNow  BatchAction = "sync-now"
	BatchComplete BatchAction = "complete"
	BatchRemove   BatchAction = "remove"
)

// BatchCommand runs start, stop, sync-now, complete or remove on a batch.
func (c *Core) BatchCommand(ctx context.Context, p *Principal, tenant, name string, action BatchAction, approveSkipped bool) (*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	var b *migration.Batch
	switch action {
	case BatchStart:
		b, err = m.StartBatch(ctx, tid, name)
	case BatchStop:
		b, err = m.StopBatch(ctx, tid, name)
	case BatchSyncNow:
		b, err = m.SyncNow(ctx, tid, name)
	case BatchComplete:
		b, err = m.CompleteBatch(ctx, tid, name, approveSkipped)
	case BatchRemove:
		b, err = m.RemoveBatch(ctx, tid, name)
	default:
		return nil, errs.Invalidf("InvalidAction", "unknown batch action %q", action)
	}
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "batch."+string(action), b.Name)
	return m.ViewBatch(ctx, b)
}

// SetBatch changes a batch's settings (Set-MigrationBatch).
func (c *Core) SetBatch(ctx context.Context, p *Principal, tenant, name string, u migration.BatchUpdate) (*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	b, err := m.SetBatch(ctx, tid, name, u)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "batch.set", b.Name)
	return m.ViewBatch(ctx, b)
}

// AddBatchUsers adds a CSV's users to a batch (batch add-users).
func (c *Core) AddBatchUsers(ctx context.Context, p *Principal, tenant, name string, csv []byte) (*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	b, err := m.AddUsers(ctx, tid, name, csv)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "batch.add-users", b.Name)
	return m.ViewBatch(ctx, b)
}

// GetBatch returns a batch view.
func (c *Core) GetBatch(ctx context.Context, p *Principal, tenant, name string) (*migration.BatchView, error) {
	m, b, err := c.batch(ctx, p, tenant, name)
	if err != nil {
		return nil, err
	}
	return m.ViewBatch(ctx, b)
}

func (c *Core) batch(ctx context.Context, p *Principal, tenant, name string) (*migration.Service, *migration.Batch, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, nil, err
	}
	b, err := m.GetBatch(ctx, tid, name)
	return m, b, err
}

// ListBatches lists the tenant's batches.
func (c *Core) ListBatches(ctx context.Context, p *Principal, tenant string) ([]*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	bs, err := m.ListBatches(ctx, tid)
	if err != nil {
		return nil, err
	}
	out := make([]*migration.BatchView, 0, len(bs))
	for _, b := range bs {
		v, err := m.ViewBatch(ctx, b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// BatchUsers returns the users of a batch with their statistics, in the
// order of BatchUsersPage.
func (c *Core) BatchUsers(ctx context.Context, p *Principal, tenant, name string) ([]*migration.UserView, error) {
	m, b, err := c.batch(ctx, p, tenant, name)
	if err != nil {
		return nil, err
	}
	ms, _, err := sortedMoves(ctx, m, b)
	if err != nil {
		return nil, err
	}
	out := make([]*migration.UserView, 0, len(ms))
	for _, mv := range ms {
		out = append(out, m.ViewUser(mv))
	}
	return out, nil
}

// sortedMoves returns a batch's moves in CSV order with their sort keys:
// users added later (batch add-users) follow those of the first CSV, then
// the CSV line, then the move's id.
func sortedMoves(ctx context.Context, m *migration.Service, b *migration.Batch) ([]*migration.Move, []string, error) {
	ms, err := m.Moves(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	keys := make(map[*migration.Move]string, len(ms))
	for _, mv := range ms {
		keys[mv] = fmt.Sprintf("%013d/%010d/%s", mv.CreatedAt.UnixMilli(), mv.CSVLine, mv.ID)
	}
	sort.Slice(ms, func(i, j int) bool { return keys[ms[i]] < keys[ms[j]] })
	sorted := make([]string, len(ms))
	for i, mv := range ms {
		sorted[i] = keys[mv]
	}
	return ms, sorted, nil
}

// BatchUsersPage returns one page of a batch's users in CSV order (keyset
// on sortedMoves' key) and the cursor of the next page ("" after the
// last). A cursor is bound to its batch and tenant.
func (c *Core) BatchUsersPage(ctx context.Context, p *Principal, tenant, name string, pg directory.Page) ([]*migration.UserView, string, error) {
	size, err := directory.PageSize(pg)
	if err != nil {
		return nil, "", err
	}
	m, b, err := c.batch(ctx, p, tenant, name)
	if err != nil {
		return nil, "", err
	}
	list := "batch-users:" + b.ID
	after, err := c.Dir.OpenCursor(pg.Cursor, list, b.TenantID)
	if err != nil {
		return nil, "", err
	}
	ms, keys, err := sortedMoves(ctx, m, b)
	if err != nil {
		return nil, "", err
	}
	from := sort.SearchStrings(keys, after)
	if from < len(keys) && keys[from] == after {
		from++
	}
	out := []*migration.UserView{}
	for i := from; i < len(ms) && len(out) < size; i++ {
		out = append(out, m.ViewUser(ms[i]))
	}
	if end := from + len(out); end < len(ms) {
		next, err := c.Dir.SealCursor(list, b.TenantID, keys[end-1])
		return out, next, err
	}
	return out, "", nil
}

// BatchReport returns the reports of a batch's users (all, or one).
func (c *Core) BatchReport(ctx context.Context, p *Principal, tenant, name, user string) ([]*migration.ReportView, error) {
	m, b, err := c.batch(ctx, p, tenant, name)
	if err != nil {
		return nil, err
	}
	ms, err := m.Moves(ctx, b)
	if err != nil {
		return nil, err
	}
	out := []*migration.ReportView{}
	for _, mv := range ms {
		if user != "" && !strings.EqualFold(mv.Email, user) {
			continue
		}
		r, err := m.Report(ctx, mv)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if user != "" && len(out) == 0 {
		return nil, errs.NotFoundf("UserNotInBatch", "%s is not a user of batch %s", user, b.Name).WithObject(user)
	}
	return out, nil
}

// TestEndpoint runs the endpoint checks (and a mailbox's checks).
func (c *Core) TestEndpoint(ctx context.Context, p *Principal, tenant, name, testMailbox, deliveryDomain string) (*migration.TestResult, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return m.TestEndpoint(ctx, tid, name, testMailbox, deliveryDomain)
}

// PrepareMailUsers runs mailuser prepare.
func (c *Core) PrepareMailUsers(ctx context.Context, p *Principal, tenant, endpoint string, csv []byte, deliveryDomain string, dryRun bool) ([]migration.PrepareRow, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	rows, err := m.Prepare(ctx, tid, endpoint, csv, deliveryDomain, dryRun)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		c.audit(ctx, p, tid, "mailuser.prepare", endpoint)
	}
	return rows, nil
}

// MigrationUserAction names a per-user command (migrationuser).
type MigrationUserAction string

// Per-user actions.
const (
	UserStop   MigrationUserAction = "stop"
	UserStart  MigrationUserAction = "start"
	UserRemove MigrationUserAction = "remove"
	// UserComplete completes one user (with approve, approving its
	// skipped items too).
	UserComplete MigrationUserAction = "complete"
	// UserApprove approves one user's skipped items.
	UserApprove MigrationUserAction = "approve-skipped-items"
	// UserResync compares a user's whole source with its target again and
	// repairs the differences (after a Poor DataConsistencyScore).
	UserResync MigrationUserAction = "resync"
)

// MigrationUsers lists the users of the tenant's active batches
// (Get-MigrationUser), each with its batch.
func (c *Core) MigrationUsers(ctx context.Context, p *Principal, tenant string) ([]*migration.UserView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	ms, err := m.MigrationUsers(ctx, tid)
	if err != nil {
		return nil, err
	}
	out := make([]*migration.UserView, 0, len(ms))
	names := map[string]string{}
	for _, mv := range ms {
		v, err := c.userView(ctx, m, tid, mv, names)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// MigrationUser shows one user (Get-MigrationUserStatistics).
func (c *Core) MigrationUser(ctx context.Context, p *Principal, tenant, addr string) (*migration.UserView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	mv, err := m.MigrationUser(ctx, tid, addr)
	if err != nil {
		return nil, err
	}
	return c.userView(ctx, m, tid, mv, map[string]string{})
}

// MigrationUserCommand stops, starts, removes or completes one user, or
// approves its skipped items (approve: complete with approval).
func (c *Core) MigrationUserCommand(ctx context.Context, p *Principal, tenant, addr string, action MigrationUserAction, approve bool) (*migration.UserView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	var mv *migration.Move
	switch action {
	case UserStop:
		mv, err = m.StopUser(ctx, tid, addr)
	case UserStart:
		mv, err = m.StartUser(ctx, tid, addr)
	case UserRemove:
		mv, err = m.RemoveUser(ctx, tid, addr)
	case UserComplete:
		mv, err = m.CompleteUser(ctx, tid, addr, approve)
	case UserApprove:
		mv, err = m.ApproveSkippedItems(ctx, tid, addr)
	case UserResync:
		mv, err = m.ResyncUser(ctx, tid, addr)
	default:
		return nil, errs.Invalidf("InvalidAction", "unknown migration user action %q", action).
			WithHint("use stop, start, remove, complete, approve-skipped-items or resync")
	}
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "migrationuser."+string(action), mv.Email)
	return c.userView(ctx, m, tid, mv, map[string]string{})
}

// userView is a move's view with its batch's name (names caches them).
func (c *Core) userView(ctx context.Context, m *migration.Service, tid string, mv *migration.Move, names map[string]string) (*migration.UserView, error) {
	v := m.ViewUser(mv)
	if _, ok := names[mv.BatchID]; !ok {
		b, err := m.GetBatch(ctx, tid, mv.BatchID)
		if err != nil {
			return nil, err
		}
		names[mv.BatchID] = b.Name
	}
	v.Batch = names[mv.BatchID]
	return v, nil
}

// SetMigrationUser changes one user's own CompleteAfter and item limits
// (Set-MigrationUser).
func (c *Core) SetMigrationUser(ctx context.Context, p *Principal, tenant, addr string, u migration.UserUpdate) (*migration.UserView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	mv, err := m.SetUser(ctx, tid, addr, u)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "migrationuser.set", mv.Email)
	return c.userView(ctx, m, tid, mv, map[string]string{})
}

// CreateMove creates and starts a single move (New-MoveRequest): a
// one-user batch named for the user.
func (c *Core) CreateMove(ctx context.Context, p *Principal, tenant string, spec migration.MoveSpec) (*migration.BatchView, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	b, err := m.CreateMove(ctx, tid, spec)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "move.create", b.Name)
	return m.ViewBatch(ctx, b)
}

// BatchDryRun lists what a batch's moves copy (per user, mailbox and
// folder, under the batch's filter) without writing anything.
func (c *Core) BatchDryRun(ctx context.Context, p *Principal, tenant, name, user string) ([]*migration.DryRunMailbox, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return m.DryRun(ctx, tid, name, user)
}

// MigrationTemplate returns the tenant's user mail template of a kind
// (before or after the cutover).
func (c *Core) MigrationTemplate(ctx context.Context, p *Principal, tenant, kind string) (*migration.Template, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	return m.GetTemplate(ctx, tid, kind)
}

// SetMigrationTemplate replaces (or, with an empty subject and body,
// resets) the tenant's user mail template of a kind.
func (c *Core) SetMigrationTemplate(ctx context.Context, p *Principal, tenant, kind, subject, body string) (*migration.Template, error) {
	m, tid, err := c.migrationFor(ctx, p, tenant)
	if err != nil {
		return nil, err
	}
	t, err := m.SetTemplate(ctx, tid, kind, subject, body)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, tid, "migrationtemplate.set", kind)
	return t, nil
}

// RedeemPasswordLink sets a moved user's password through the one-time
// link of its before-cutover mail (no principal: the link is the
// credential).
func (c *Core) RedeemPasswordLink(ctx context.Context, token, password string) (string, error) {
	if c.Migration == nil {
		return "", errs.New(errs.Unavailable, "MigrationUnavailable", "the migration service is not running on this server")
	}
	return c.Migration.RedeemPasswordLink(ctx, token, password)
}
