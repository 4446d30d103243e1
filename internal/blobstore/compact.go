package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/failpoint"
)

// candidate is a container compaction may rewrite.
type candidate struct {
	name        string
	state       string
	size        int64 // bytes in the file or object
	liveBytes   int64 // bytes of its live records, headers included
	liveCount   int64
	interrupted bool // dead but still holding blobs: a compaction died
}

// compact rewrites containers whose dead share is at least MinDeadRatio
// (and, with S3, merges small pack objects), a group at a time: the live
// blobs of the group are copied — verified against their SHA-256 — into a
// new batch of the current backend, made durable, and relocated in one
// transaction; the emptied containers are then deleted by deleteRetired.
//
// Order per container: retire (fence) → copy → durable → relocate. A crash
// before the relocation leaves the container dead with its blobs still
// pointing into it; the next round sees it as interrupted and copies it
// again; the containers the first attempt wrote were staged, and the round
// fences them (fenceStaged) so that deleteRetired removes them (with pack
// files, small blobs are copied to the shared pack, whose dead records
// later compactions reclaim like any other). Readers follow a
// relocated blob, see movingReader.
func (s *Store) compact(ctx context.Context, o GCOptions, res *GCResult) error {
	cands, err := s.candidates(ctx, o)
	if err != nil {
		return err
	}
	groupBytes := int64(64 << 20)
	if s.s3 != nil {
		groupBytes = max(groupBytes, s.s3.objectSize)
	}
	var group []candidate
	var bytes int64
	flush := func() {
		if len(group) == 0 {
			return
		}
		n, copied, err := s.compactGroup(ctx, group)
		res.ContainersCompacted += n
		res.BytesCopied += copied
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		group, bytes = nil, 0
	}
	for _, c := range cands {
		group = append(group, c)
		bytes += c.liveBytes
		if bytes >= groupBytes {
			flush()
		}
	}
	flush()
	return nil
}

// candidates lists the containers to compact, interrupted ones first.
func (s *Store) candidates(ctx context.Context, o GCOptions) ([]candidate, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT c.name, c.state, c.size, c.created_at, COUNT(b.sha256), COALESCE(SUM(b.size), 0)
		FROM blob_containers c LEFT JOIN blobs b ON b.container = c.name
		WHERE c.state IN (?, ?) GROUP BY c.name, c.state, c.size, c.created_at ORDER BY c.name`, stateLive, stateDead)
	if err != nil {
		return nil, errs.Internalf(err, "list blob containers")
	}
	defer rows.Close()
	minAge := db.Millis(o.Now.Add(-o.Grace))
	var out, small []candidate
	for rows.Next() {
		var c candidate
		var created int64
		if err := rows.Scan(&c.name, &c.state, &c.size, &created, &c.liveCount, &c.liveBytes); err != nil {
			return nil, errs.Internalf(err, "list blob containers")
		}
		c.liveBytes += c.liveCount * headerSize
		if c.state == stateDead {
			if c.liveCount > 0 {
				c.interrupted = true
				out = append(out, c)
			}
			continue
		}
		if created > minAge {
			continue // young: its writers may still be busy
		}
		kind, name, _ := strings.Cut(c.name, ":")
		switch kind {
		case "pack":
			if s.dir == "" {
				continue
			}
			fi, err := os.Stat(filepath.Join(s.dir, name))
			if err != nil || o.Now.Sub(fi.ModTime()) < o.Grace {
				continue // gone, or still written to
			}
			c.size = fi.Size()
		case "s3":
			if s.s3 == nil {
				continue
			}
			if c.liveCount > 0 && c.size < s.s3.objectSize/4 && c.size > 0 && strings.HasPrefix(name, s3PackPrefix) {
				small = append(small, c)
				continue
			}
		}
		if c.size > 0 && float64(c.size-c.liveBytes) >= o.MinDeadRatio*float64(c.size) {
			out = append(out, c)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internalf(err, "list blob containers")
	}
	if len(small) > 1 {
		out = append(out, small...) // merge small pack objects into full ones
	}
	return out, nil
}

// liveBlob is a blob being copied out of a container.
type liveBlob struct {
	sha, loc, from string
	size           int64
}

// compactGroup compacts a group of containers with one batch. It returns
// the containers whose blobs were relocated and the bytes copied.
func (s *Store) compactGroup(ctx context.Context, group []candidate) (int, int64, error) {
	var claimed []string
	var blobs []liveBlob
	for _, c := range group {
		ok, err := s.retire(ctx, c.name, c.interrupted)
		if err != nil {
			return 0, 0, err
		}
		if !ok {
			continue // another node claimed it
		}
		claimed = append(claimed, c.name)
		bs, err := s.liveBlobs(ctx, c.name)
		if err != nil {
			return 0, 0, err
		}
		blobs = append(blobs, bs...)
	}
	if len(claimed) == 0 {
		return 0, 0, nil
	}
	if s.w != nil {
		s.w.abandon(claimed) // our own writer must not append to them
	}
	b := s.NewBatch()
	b.stage = true
	defer b.Close()
	var copied int64
	for _, lb := range blobs {
		if err := s.copyBlob(ctx, b, lb); err != nil {
			// Copying failed (an unreadable or corrupt blob, a full disk):
			// put the containers back in service; nothing has moved.
			s.unretire(ctx, claimed)
			return 0, 0, err
		}
		copied += lb.size
	}
	if err := b.Sync(); err != nil {
		s.unretire(ctx, claimed)
		return 0, 0, err
	}
	failpoint.Hit("blobstore.compact.copied")
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		if err := b.precommit(ctx, tx); err != nil {
			return err
		}
		at := map[string]string{}
		for _, it := range b.items {
			at[it.ref.SHA256] = it.loc
		}
		for _, lb := range blobs {
			loc := at[lb.sha]
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET location = ?, container = ? WHERE sha256 = ? AND container = ?`,
				loc, containerOf(loc), lb.sha, lb.from); err != nil {
				return errs.Internalf(err, "relocate blob %s", lb.sha)
			}
		}
		return nil
	})
	if err != nil {
		// The containers stay retired with their blobs: the next round
		// retries them as interrupted compactions.
		return 0, 0, err
	}
	failpoint.Hit("blobstore.compact.relocated")
	return len(claimed), copied, nil
}

// liveBlobs lists the blobs in a container.
func (s *Store) liveBlobs(ctx context.Context, name string) ([]liveBlob, error) {
	rows, err := s.d.Read().QueryContext(ctx, `SELECT sha256, size, location FROM blobs WHERE container = ?`, name)
	if err != nil {
		return nil, errs.Internalf(err, "list blobs of %s", name)
	}
	defer rows.Close()
	var out []liveBlob
	for rows.Next() {
		lb := liveBlob{from: name}
		if err := rows.Scan(&lb.sha, &lb.size, &lb.loc); err != nil {
			return nil, errs.Internalf(err, "list blobs of %s", name)
		}
		out = append(out, lb)
	}
	return out, rows.Err()
}

// copyBlob streams one blob into b and checks its hash.
func (s *Store) copyBlob(ctx context.Context, b *Batch, lb liveBlob) error {
	r, err := s.openAt(ctx, lb.sha, lb.size, lb.loc)
	if err != nil {
		return fmt.Errorf("compaction: open blob %s: %w", lb.sha, err)
	}
	defer r.close()
	ref, err := b.Add(io.NewSectionReader(r, 0, lb.size))
	if err != nil {
		return fmt.Errorf("compaction: copy blob %s: %w", lb.sha, err)
	}
	if ref.SHA256 != lb.sha || ref.Size != lb.size {
		return errs.Internalf(errors.New("content hash mismatch"), "compaction: blob %s in %s reads back as %s (%d bytes); the container is left in place",
			lb.sha, lb.from, ref.SHA256, ref.Size)
	}
	return nil
}

// unretire puts claimed containers back in service after a failed copy.
func (s *Store) unretire(ctx context.Context, names []string) {
	s.d.Write(ctx, func(tx *db.Tx) error {
		for _, n := range names {
			if _, err := tx.ExecContext(ctx, `UPDATE blob_containers SET state = ?, dead_at = 0 WHERE name = ? AND state = ?`, stateLive, n, stateDead); err != nil {
				return err
			}
		}
		return nil
	})
}
