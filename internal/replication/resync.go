package replication

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// resyncDeletions applies the source's removals when its change feed no
// longer has them (the source purged its tombstones past the watermark):
// every live source item is listed (metadata only), and every target item
// copied from a source item that is no longer listed is deleted. The
// deletion cursor then moves to PassUpto.
//
// It is correct against concurrent source changes: PassUpto was read
// before the listing, so an item removed up to PassUpto is absent from it;
// an item removed during the listing is either absent (deleted here) or
// listed (its tombstone, above PassUpto, is applied by the next pass). The
// listing is unbounded above, so an item changed during the pass is still
// seen as live. A pass that started from scratch copied no item removed up
// to PassUpto, so it skips the listing.
func (p *pass) resyncDeletions(ctx context.Context) error {
	p.e.Log.Info("replication: the source purged its removals past the watermark; resynchronising deletions fully",
		"mailbox", p.j.SourceGUID, "after", p.w.Del.ModSeq)
	var dels []mailstore.ItemUpdate
	if !p.fresh {
		live, err := p.liveSourceIDs(ctx)
		if err != nil {
			return err
		}
		after := mailstore.Cursor{}
		for {
			cs, next, err := p.e.Store.ItemChanges(ctx, p.j.MailboxID, after, 0, 5000)
			if err != nil {
				return err
			}
			for _, c := range cs {
				id, ok := p.sourceID(c.Origin)
				if !ok {
					continue // local mail (IMAP into a live mailbox)
				}
				if _, found := slices.BinarySearch(live, id); !found {
					dels = append(dels, mailstore.ItemUpdate{ItemID: c.ItemID, Delete: true})
				}
			}
			if len(cs) < 5000 {
				break
			}
			after = next
		}
	}
	w := p.w
	w.Del = Cursor{ModSeq: p.w.PassUpto}
	for len(dels) > 0 {
		n := min(len(dels), 1000)
		chunk := dels[:n]
		dels = dels[n:]
		cw, d := p.w, Delta{Deleted: int64(len(chunk))}
		if len(dels) == 0 {
			cw = w // the watermark moves with the last chunk
		}
		if _, err := p.e.Store.UpdateItems(ctx, p.j.MailboxID, chunk, func(tx *db.Tx) error { return p.j.Sink(tx, cw, d, nil) }); err != nil {
			return err
		}
		p.w = cw
		p.add(d)
	}
	if p.w.Del != w.Del {
		if err := p.e.Store.DB().Write(ctx, func(tx *db.Tx) error { return p.j.Sink(tx, w, Delta{}, nil) }); err != nil {
			return err
		}
		p.w = w
	}
	return nil
}

// liveSourceIDs lists the ids of every live source item, sorted.
func (p *pass) liveSourceIDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	after := Cursor{}
	for {
		r, err := p.j.Source.Items(ctx, p.j.SourceGUID, after, 0, p.e.pageSize(), 0)
		if err != nil {
			return nil, err
		}
		for _, it := range r.Items {
			ids = append(ids, it.Id)
		}
		if !r.More || len(r.Items) == 0 {
			break
		}
		after = r.Next
	}
	slices.Sort(ids)
	return ids, nil
}

// sourceID parses the source item id out of a target item's origin.
func (p *pass) sourceID(origin string) (int64, bool) {
	rest, ok := strings.CutPrefix(origin, p.j.OriginPrefix)
	if !ok || rest == "" {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}
