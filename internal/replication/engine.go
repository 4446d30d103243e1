package replication

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// Watermark is the sync state of one target mailbox: how far the source's
// change feed has been applied. It is saved in the same transaction as the
// target writes it covers.
type Watermark struct {
	FolderState int64  // hierarchy changes applied up to this source MODSEQ
	Item        Cursor // item changes applied up to this cursor
	Del         Cursor // tombstones applied up to this cursor
	PassUpto    int64  // the source MODSEQ the current pass runs to
	SyncedUpto  int64  // every change up to this source MODSEQ is applied
}

// Delta is what one committed chunk adds to a move's statistics.
type Delta struct {
	Items   int64 // new items written
	Bytes   int64 // bytes of new items (transferred or reused)
	Fetched int64 // bytes transferred from the source
	Updated int64 // flag changes and moves applied
	Deleted int64 // deletions applied
	Skipped int64
}

// SkipClass is why an item was skipped, as Exchange counts them against
// a move's LargeItemLimit and BadItemLimit.
type SkipClass string

// Skip classes.
const (
	// SkipLargeItem: the item is larger than the move's MaxItemSize or
	// than the target accepts.
	SkipLargeItem SkipClass = "LargeItem"
	// SkipBadItem: the source could not read the item, or the target
	// refused its content as invalid.
	SkipBadItem SkipClass = "BadItem"
)

// Skipped describes an item the engine did not copy.
type Skipped struct {
	Class      SkipClass
	SourceItem string
	Folder     string
	Subject    string
	Date       time.Time
	Size       int64
	Reason     string
}

// Engine copies a source mailbox into a target mailbox of the local store,
// incrementally and idempotently.
//
// Invariants:
//   - A target item carries the source item id as its origin; writes are
//     keyed by it, so replaying any part of a pass never duplicates.
//   - The watermark advances only in the transaction that writes the
//     changes it covers; a crash at any point loses nothing and resumes
//     from the last commit.
//   - Content is verified against the source's SHA-256 while it streams;
//     content the target mailbox's tenant already holds (same SHA-256) is
//     not transferred, content only other tenants hold always is
//     (mailstore.HeldContent), so what a pass fetches never depends on
//     other tenants' mail.
//   - Memory is bounded by the page and chunk sizes, never by the mailbox.
type Engine struct {
	Store *mailstore.Store
	Log   *slog.Logger
	// PageSize is the number of item changes listed per request.
	PageSize int
	// ChunkItems and ChunkBytes bound a commit (one fsync, one
	// transaction).
	ChunkItems int
	ChunkBytes int64
}

// ListPageSize is the number of item changes listed per request.
func (e *Engine) ListPageSize() int { return e.pageSize() }

func (e *Engine) pageSize() int {
	if e.PageSize > 0 {
		return e.PageSize
	}
	return 1000
}

func (e *Engine) chunkLimits() (int, int64) {
	n, b := e.ChunkItems, e.ChunkBytes
	if n <= 0 {
		n = 2000
	}
	if b <= 0 {
		b = 64 << 20
	}
	return n, b
}

// PassResult summarises one pass.
type PassResult struct {
	Delta
	Upto     int64 // the source MODSEQ the target now reflects
	Duration time.Duration
}

// Job is one mailbox to copy.
type Job struct {
	Source      Source
	SourceGUID  string
	MailboxID   int64 // target mailbox (staging or active)
	MaxItemSize int64 // items above are skipped as large items (0: no limit)
	Sink        Sink
	// Progress, when set, is called after every commit.
	Progress func(Delta)
	// OriginPrefix is put before a source item id to make the target
	// item's origin key ("" for the native connector: the id alone). A
	// connector whose ids could meet another source's in one target
	// mailbox (IMAP into a live mailbox) sets its own prefix.
	OriginPrefix string
	// AdoptFolders writes into a live mailbox that already has folders
	// (an IMAP migration into the user's mailbox): a source folder with a
	// special use adopts the target folder with that use (its name stays),
	// another one the local folder at its path; a deleted source folder
	// releases, rather than deletes, a target folder that holds local
	// items or has a special use. Without it the target is a staging copy
	// the source owns entirely.
	AdoptFolders bool
	// Throttle, when set, bounds the rate content is read from the source
	// (its burst at least ThrottleBurst): the job's share of an endpoint's
	// bandwidth cap, which the caller may change while the pass runs.
	Throttle *rate.Limiter
	// Repair makes the pass a full comparison: every source item is
	// listed again from the start of its feed (what the target lacks is
	// copied, what it has is updated) and every target item whose source
	// item is gone is deleted, whatever the watermark says.
	Repair bool
	// Filter, when set, limits the copy to the items it selects (folders
	// and internal dates): other folders are not created, other items not
	// copied, and an item that leaves the selection (moved to an excluded
	// folder) is deleted from the target.
	Filter *Filter
}

// Pass applies every source change up to the source's current MODSEQ,
// starting from w, and returns the new watermark.
func (e *Engine) Pass(ctx context.Context, j *Job, w Watermark) (Watermark, *PassResult, error) {
	start := time.Now()
	st, err := j.Source.State(ctx, j.SourceGUID)
	if err != nil {
		return w, nil, err
	}
	if j.Repair {
		w.Item, w.FolderState = Cursor{}, 0
	}
	fresh := !j.Repair && w.Item == (Cursor{}) && w.Del == (Cursor{})
	w.PassUpto = st.HighestModSeq
	p := &pass{e: e, j: j, w: w, res: &PassResult{}, fresh: fresh}
	p.recorder, _ = j.Source.(HashRecorder)
	if err := p.run(ctx); err != nil {
		return p.w, p.res, err
	}
	p.res.Upto = p.w.SyncedUpto
	p.res.Duration = time.Since(start)
	return p.w, p.res, nil
}

// pass is the state of one running pass.
type pass struct {
	e   *Engine
	j   *Job
	w   Watermark
	res *PassResult

	folders  *folderMap
	sel      *selection        // the filter's folders (nil: every folder)
	paths    map[string]string // source folder id → target path under the filter's mappings (nil: none)
	deleted  []FolderInfo      // source folders deleted, applied at the end
	recorder HashRecorder      // the source, when it records hashes
	fresh    bool              // the pass started from an empty watermark
}

func (p *pass) run(ctx context.Context) error {
	if err := p.syncFolders(ctx); err != nil {
		return err
	}
	if err := p.syncItems(ctx); err != nil {
		return err
	}
	if err := p.syncDeletions(ctx); err != nil {
		return err
	}
	if err := p.applyFolderDeletes(ctx); err != nil {
		return err
	}
	// The pass is complete: every change up to PassUpto is applied.
	p.w.FolderState = p.w.PassUpto
	p.w.SyncedUpto = p.w.PassUpto
	return p.e.Store.DB().Write(ctx, func(tx *db.Tx) error { return p.j.Sink(tx, p.w, Delta{}, nil) })
}

// add accumulates a committed chunk's delta.
func (p *pass) add(d Delta) {
	p.res.Items += d.Items
	p.res.Bytes += d.Bytes
	p.res.Fetched += d.Fetched
	p.res.Updated += d.Updated
	p.res.Deleted += d.Deleted
	p.res.Skipped += d.Skipped
	if p.j.Progress != nil {
		p.j.Progress(d)
	}
}

// origin is the target origin key of a source item.
func (p *pass) origin(id int64) string { return p.j.OriginPrefix + strconv.FormatInt(id, 10) }
