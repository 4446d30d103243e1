package admin

import (
	"context"
	"time"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Storage is what the admin core needs from the storage layer for
// `tenantferry storage stats|gc`.
type Storage interface {
	// Stats measures the blob store (a JSON-able value).
	Stats(ctx context.Context) (any, error)
	// GC runs one round of space reclamation now — retention of retired
	// mailboxes, tombstone purge, blob GC and, unless noCompact,
	// compaction — and reports what it did (a JSON-able value). Retired
	// containers are deleted once readerGrace has passed since they were
	// retired (≤ 0: the server's default).
	GC(ctx context.Context, noCompact bool, readerGrace time.Duration) (any, error)
}

// ErrStorageUnavailable is returned when the server has no storage layer
// wired to the admin core.
var ErrStorageUnavailable = errs.Sentinel(errs.Unavailable, "StorageUnavailable")

// StorageGCRequest asks for a GC round.
type StorageGCRequest struct {
	// NoCompact skips compaction.
	NoCompact bool
	// ReaderGrace overrides how long retired containers wait for readers
	// before deletion, e.g. "0s" to free space at once ("": default).
	ReaderGrace string
}

func (c *Core) storage(p *Principal) error {
	if err := requireOperator(p); err != nil {
		return err
	}
	if c.Storage == nil {
		return ErrStorageUnavailable.Newf("this server has no storage layer").WithHint("run the command against tenantferry serve")
	}
	return nil
}

// StorageStats measures the storage (operator only).
func (c *Core) StorageStats(ctx context.Context, p *Principal) (any, error) {
	if err := c.storage(p); err != nil {
		return nil, err
	}
	return c.Storage.Stats(ctx)
}

// StorageGC runs a space reclamation round now (operator only).
func (c *Core) StorageGC(ctx context.Context, p *Principal, req StorageGCRequest) (any, error) {
	if err := c.storage(p); err != nil {
		return nil, err
	}
	grace := time.Duration(0)
	if req.ReaderGrace != "" {
		d, err := time.ParseDuration(req.ReaderGrace)
		if err != nil || d < 0 {
			return nil, errs.Invalidf("InvalidParameter", "ReaderGrace %q is not a duration such as 15m or 0s", req.ReaderGrace).
				WithHint("give a non-negative Go duration")
		}
		grace = d
		if d == 0 {
			grace = -1 // at once
		}
	}
	out, err := c.Storage.GC(ctx, req.NoCompact, grace)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, "", "storage.gc", "")
	return out, nil
}
