package replication

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/failpoint"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// ErrReuseRaced is a pass that planned to reuse content the target's
// tenant held, which went away before the chunk took it; retrying the pass
// transfers the bytes instead.
var ErrReuseRaced = errs.Sentinel(errs.Unavailable, "ContentReuseRaced")

// chunk is a run of item changes committed together: one fsync of the new
// content, then one transaction with the items, the updates and the
// watermark.
type chunk struct {
	updates []mailstore.ItemUpdate
	batch   *mailstore.AppendBatch
	cursor  Cursor
	delta   Delta
	skipped []Skipped
	n       int
	bytes   int64
	moved   bool             // the cursor moved: something to save
	hashes  map[int64]string // source id → SHA-256 of content copied (for a HashRecorder)
}

// syncItems applies the item change feed up to PassUpto. Listing, content
// transfer and commits run concurrently: a lister goroutine prefetches
// pages, this goroutine plans and streams content into the current chunk's
// batch, and a writer goroutine commits sealed chunks in order.
func (p *pass) syncItems(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	pages := make(chan *ItemsReply, 2)
	listErr := make(chan error, 1)
	go func() {
		defer close(pages)
		after := p.w.Item
		for {
			r, err := p.j.Source.Items(ctx, p.j.SourceGUID, after, p.w.PassUpto, p.e.pageSize(), p.j.MaxItemSize)
			if err != nil {
				listErr <- err
				return
			}
			select {
			case pages <- r:
			case <-ctx.Done():
				listErr <- ctx.Err()
				return
			}
			if !r.More || len(r.Items) == 0 {
				listErr <- nil
				return
			}
			after = r.Next
		}
	}()

	chunks := make(chan *chunk, 1)
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for ch := range chunks {
			if err == nil {
				if err = p.commit(ctx, ch); err != nil {
					cancel()
				}
			}
			if ch.batch != nil {
				ch.batch.Close()
			}
		}
		writeErr <- err
	}()

	cur := p.newChunk(ctx)
	var planErr error
	for page := range pages {
		if planErr == nil {
			planErr = p.plan(ctx, page, &cur, chunks)
			if planErr != nil {
				cancel()
			}
		}
	}
	if planErr == nil && (cur.moved || cur.n > 0) {
		chunks <- cur
	} else if cur.batch != nil {
		cur.batch.Close()
	}
	close(chunks)
	werr := <-writeErr
	lerr := <-listErr
	// Report the first real error; cancellations follow from it.
	for _, err := range []error{werr, planErr, lerr} {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	for _, err := range []error{werr, planErr, lerr} {
		if err != nil {
			return err
		}
	}
	return nil
}

// newChunk starts a chunk whose blob buffers are shares of the node's
// memory budget; waiting for them ends with ctx.
func (p *pass) newChunk(ctx context.Context) *chunk {
	return &chunk{batch: p.e.Store.NewBudgetedAppendBatch(ctx, p.j.MailboxID)}
}

// plan turns one page of item changes into updates and appends of the
// current chunk, streaming the content it needs, and seals chunks as they
// fill.
func (p *pass) plan(ctx context.Context, page *ItemsReply, cur **chunk, chunks chan<- *chunk) error {
	if len(page.Items) == 0 {
		return nil
	}
	origins := make([]string, len(page.Items))
	for i, it := range page.Items {
		origins[i] = p.origin(it.Id)
	}
	existing, err := p.e.Store.ItemsByOrigin(ctx, p.j.MailboxID, origins)
	if err != nil {
		return err
	}
	// Folders created after the pass started may be referenced: sync the
	// hierarchy again once if a folder is unknown.
	for _, it := range page.Items {
		if _, ok := p.folders.byOrigin[it.Folder]; !ok && !p.filteredOut(it.Folder) {
			if err := p.syncFolders(ctx); err != nil {
				return err
			}
			break
		}
	}
	// Which new items need their bytes from the source?
	const (
		actUpdate = iota
		actSkip
		actReuse
		actFetch
		actIgnore
		actDelete
	)
	acts := make([]int, len(page.Items))
	var fetch []int64
	// Content is reused by hash only when the target's own tenant holds it
	// (mailstore.HeldContent): a source's claimed hash never reaches other
	// tenants' bytes, and what is fetched depends on nothing else.
	shas := make([]string, 0, len(page.Items))
	for i, it := range page.Items {
		if existing[origins[i]].ID == 0 {
			shas = append(shas, it.Sha256)
		}
	}
	held, err := p.e.Store.HeldContent(ctx, p.j.MailboxID, shas)
	if err != nil {
		return err
	}
	for i, it := range page.Items {
		_, known := p.folders.byOrigin[it.Folder]
		selected := p.selected(it)
		switch {
		case existing[origins[i]].ID != 0 && !selected:
			acts[i] = actDelete // it left the selection
		case existing[origins[i]].ID != 0:
			acts[i] = actUpdate
		case !selected:
			acts[i] = actIgnore // not part of the move
		case !known:
			acts[i] = actIgnore // its folder is gone; the item is gone too
		case p.j.MaxItemSize > 0 && it.Size > p.j.MaxItemSize:
			acts[i] = actSkip
		case it.Sha256 == "":
			// A source that reports no hash (IMAP): the content must come.
			acts[i] = actFetch
			fetch = append(fetch, it.Id)
		case held[strings.ToLower(it.Sha256)]:
			acts[i] = actReuse
		default:
			acts[i] = actFetch
			fetch = append(fetch, it.Id)
		}
	}
	var stream *ContentStream
	if len(fetch) > 0 {
		if stream, err = p.j.Source.OpenContent(ctx, p.j.SourceGUID, fetch); err != nil {
			return err
		}
		defer stream.Close()
	}
	chunkItems, chunkBytes := p.e.chunkLimits()
	for i, it := range page.Items {
		c := *cur
		folder := p.folders.byOrigin[it.Folder]
		switch acts[i] {
		case actUpdate:
			ex := existing[origins[i]]
			u := mailstore.ItemUpdate{ItemID: ex.ID}
			if folder != nil && folder.ID != ex.FolderID {
				u.MoveTo = folder.ID
			}
			if strings.Join(ex.Flags, " ") != strings.Join(it.Flags, " ") {
				u.SetFlags, u.Flags = true, it.Flags
			}
			if u.MoveTo != 0 || u.SetFlags {
				c.updates = append(c.updates, u)
				c.delta.Updated++
			}
		case actDelete:
			c.updates = append(c.updates, mailstore.ItemUpdate{ItemID: existing[origins[i]].ID, Delete: true})
			c.delta.Deleted++
		case actSkip:
			c.skipped = append(c.skipped, p.skippedItem(it, folder, SkipLargeItem, fmt.Sprintf("LargeItem: the item is larger than the batch's MaxItemSize of %d bytes", p.j.MaxItemSize)))
			c.delta.Skipped++
		case actReuse, actFetch:
			ai := mailstore.AppendItem{FolderID: folder.ID, Flags: it.Flags, InternalDate: db.Time(it.InternalDate), Origin: origins[i],
				Name: it.Name, ObjectUID: it.ObjectUid}
			if acts[i] == actReuse {
				ai.SHA256 = it.Sha256
			} else {
				fr, err := stream.Next()
				if err != nil {
					return err
				}
				if fr.ID != it.Id {
					return errs.New(errs.Unavailable, "EndpointUnreachable", "the source sent item %d where %d was expected", fr.ID, it.Id)
				}
				if fr.Size == SizeGone {
					break // expunged since it was listed: its tombstone follows
				}
				if fr.Size == SizeUnreadable {
					c.skipped = append(c.skipped, p.skippedItem(it, folder, SkipBadItem, "Corrupt: the source cannot read the item's content"))
					c.delta.Skipped++
					break
				}
				ai.Content, ai.SHA256 = p.throttle(ctx, fr.Body), it.Sha256 // verified while it streams
				c.delta.Fetched += it.Size
			}
			if err := c.batch.Add(ctx, ai); err != nil {
				if errors.Is(err, mailstore.ErrContentNotHeld) {
					// The tenant's last item with this content went away
					// since the page was planned: the next pass fetches it.
					return ErrReuseRaced.Newf("the content of source item %d is no longer held by the target tenant", it.Id).
						WithHint("nothing to do: the sync is retried and transfers the item").WithCause(err)
				}
				if errors.Is(err, mailstore.ErrItemTooLarge) {
					c.skipped = append(c.skipped, p.skippedItem(it, folder, SkipLargeItem, "LargeItem: "+errs.As(err).Message))
					c.delta.Skipped++
					break
				}
				return err
			}
			if p.recorder != nil {
				if c.hashes == nil {
					c.hashes = map[int64]string{}
				}
				c.hashes[it.Id] = c.batch.LastSHA256()
			}
			c.delta.Items++
			c.delta.Bytes += it.Size
			c.bytes += it.Size
		}
		c.n++
		c.cursor = Cursor{ModSeq: it.ModSeq, Id: it.Id}
		c.moved = true
		if c.n >= chunkItems || c.bytes >= chunkBytes {
			select {
			case chunks <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
			*cur = p.newChunk(ctx)
		}
	}
	return nil
}

func (p *pass) skippedItem(it ItemInfo, folder *mailstore.Folder, class SkipClass, reason string) Skipped {
	path := it.Folder
	if folder != nil {
		path = folder.Path
	}
	return Skipped{Class: class, SourceItem: p.origin(it.Id), Folder: path, Subject: it.Subject, Date: db.Time(it.InternalDate), Size: it.Size, Reason: reason}
}

// commit writes one chunk: updates, then the new items with the watermark.
// Both steps are idempotent, so a crash between them is harmless.
func (p *pass) commit(ctx context.Context, ch *chunk) error {
	failpoint.Hit("replication.chunk.before")
	w := p.w
	w.Item = ch.cursor
	hook := func(tx *db.Tx) error { return p.j.Sink(tx, w, ch.delta, ch.skipped) }
	appendHook := hook
	if p.recorder != nil && len(ch.hashes) > 0 {
		appendHook = func(tx *db.Tx) error {
			if err := p.recorder.RecordHashes(tx, p.j.SourceGUID, ch.hashes); err != nil {
				return err
			}
			return hook(tx)
		}
	}
	if ch.batch == nil || ch.batch.Len() == 0 {
		appendHook = nil
	}
	if len(ch.updates) > 0 {
		uh := hook
		if appendHook != nil {
			uh = nil
		}
		if _, err := p.e.Store.UpdateItems(ctx, p.j.MailboxID, ch.updates, uh); err != nil {
			return err
		}
	} else if appendHook == nil {
		if err := p.e.Store.DB().Write(ctx, hook); err != nil {
			return err
		}
	}
	if appendHook != nil {
		if _, err := ch.batch.Commit(ctx, appendHook); err != nil {
			return err
		}
	}
	failpoint.Hit("replication.chunk.after")
	p.w.Item = ch.cursor
	p.add(ch.delta)
	return nil
}

// syncDeletions applies the source's deletions up to PassUpto. A source
// that purged the removals the watermark asks for answers ResyncRequired:
// see resyncDeletions.
func (p *pass) syncDeletions(ctx context.Context) error {
	if p.j.Repair {
		return p.resyncDeletions(ctx)
	}
	for {
		r, err := p.j.Source.Deletions(ctx, p.j.SourceGUID, p.w.Del, p.w.PassUpto, 5000)
		if errors.Is(err, mailstore.ErrResyncRequired) {
			return p.resyncDeletions(ctx)
		}
		if err != nil {
			return err
		}
		if r.Next == p.w.Del && len(r.Ids) == 0 {
			return nil
		}
		var updates []mailstore.ItemUpdate
		if len(r.Ids) > 0 {
			origins := make([]string, len(r.Ids))
			for i, id := range r.Ids {
				origins[i] = p.origin(id)
			}
			existing, err := p.e.Store.ItemsByOrigin(ctx, p.j.MailboxID, origins)
			if err != nil {
				return err
			}
			for _, it := range existing {
				updates = append(updates, mailstore.ItemUpdate{ItemID: it.ID, Delete: true})
			}
		}
		w := p.w
		w.Del = r.Next
		d := Delta{Deleted: int64(len(updates))}
		hook := func(tx *db.Tx) error { return p.j.Sink(tx, w, d, nil) }
		if len(updates) > 0 {
			_, err = p.e.Store.UpdateItems(ctx, p.j.MailboxID, updates, hook)
		} else {
			err = p.e.Store.DB().Write(ctx, hook)
		}
		if err != nil {
			return err
		}
		p.w.Del = r.Next
		p.add(d)
		if !r.More {
			return nil
		}
	}
}

// selected reports whether the job's filter selects a source item (its
// folder and internal date).
func (p *pass) selected(it ItemInfo) bool {
	return !p.filteredOut(it.Folder) && p.j.Filter.DateOK(db.Time(it.InternalDate))
}

// filteredOut reports whether the job's filter leaves out a known source
// folder's items (a folder the selection has not seen is not: it is new).
func (p *pass) filteredOut(folder string) bool {
	if p.sel == nil {
		return false
	}
	if p.sel.items[folder] {
		return false
	}
	return p.sel.known(folder)
}
