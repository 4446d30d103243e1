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
	// compaction — and reports what it did (a JSON-able value). grace is
	// the minimum age of what is collected or compacted, readerGrace how
	// long retired containers wait for readers (0: the defaults; < 0:
	// none).
	GC(ctx context.Context, noCompact bool, grace, readerGrace time.Duration) (any, error)
}

// ErrStorageUnavailable is returned when the server has no storage layer
// wired to the admin core.
var ErrStorageUnavailable = errs.Sentinel(errs.Unavailable, "StorageUnavailable")

// StorageGCRequest asks for a GC round.
type StorageGCRequest struct {
	// NoCompact skips compaction.
	NoCompact bool
	// Grace overrides the minimum age of unreferenced blobs and of
	// containers to compact, e.g. "0s" to reclaim just-deleted mail now
	// ("": the default, 1h).
	Grace string
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
	grace, err := gcDuration("Grace", req.Grace)
	if err != nil {
		return nil, err
	}
	readerGrace, err := gcDuration("ReaderGrace", req.ReaderGrace)
	if err != nil {
		return nil, err
	}
	out, err := c.Storage.GC(ctx, req.NoCompact, grace, readerGrace)
	if err != nil {
		return nil, err
	}
	c.audit(ctx, p, "", "storage.gc", "")
	return out, nil
}

// gcDuration parses an optional duration: "" is 0 (the default), "0s" is
// negative (none).
func gcDuration(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, errs.Invalidf("InvalidParameter", "%s %q is not a duration such as 15m or 0s", name, v).
			WithHint("give a non-negative Go duration")
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}
