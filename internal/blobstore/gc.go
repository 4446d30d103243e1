package blobstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Referrer reports which of shas are referenced by committed rows of its
// owner's tables, as seen by q (the GC's write transaction). Packages whose
// rows name blobs (mailstore's items, delivery's queue) provide one; GC
// deletes only blobs that no referrer reports.
type Referrer func(ctx context.Context, q db.Querier, shas []string) (map[string]bool, error)

// ReferrerQuery returns a Referrer that runs a query of the owning package
// over its own table: selectIn is the query up to the opening parenthesis
// of an IN list of SHA-256 values, and selects the referenced ones, e.g.
// "SELECT DISTINCT sha256 FROM items WHERE sha256 IN (".
func ReferrerQuery(selectIn string) Referrer {
	return func(ctx context.Context, q db.Querier, shas []string) (map[string]bool, error) {
		out := map[string]bool{}
		for start := 0; start < len(shas); start += 500 {
			chunk := shas[start:min(start+500, len(shas))]
			args := make([]any, len(chunk))
			for i, s := range chunk {
				args[i] = s
			}
			rows, err := q.QueryContext(ctx, selectIn+db.InList(len(chunk))+`)`, args...)
			if err != nil {
				return nil, errs.Internalf(err, "look up blob references")
			}
			for rows.Next() {
				var sha string
				if err := rows.Scan(&sha); err != nil {
					rows.Close()
					return nil, errs.Internalf(err, "look up blob references")
				}
				out[sha] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, errs.Internalf(err, "look up blob references")
			}
		}
		return out, nil
	}
}

type namedReferrer struct {
	name string
	f    Referrer
}

// AddReferrer registers the referrer of a package. Register every package
// whose rows reference blobs before GC runs: a blob only an unregistered
// package references would be collected.
func (s *Store) AddReferrer(name string, f Referrer) {
	s.refMu.Lock()
	defer s.refMu.Unlock()
	s.referrers = append(s.referrers, namedReferrer{name: name, f: f})
}

// Defaults of GCOptions.
const (
	DefaultGCGrace      = time.Hour
	DefaultReaderGrace  = 15 * time.Minute
	DefaultOrphanGrace  = maxBatchAge + time.Hour
	DefaultMinDeadRatio = 0.5
	// deadRowRetention keeps the rows of deleted containers as fences
	// far longer than any batch may take to commit (maxBatchAge).
	deadRowRetention = 30 * 24 * time.Hour
)

// GCOptions tune one GC round. Zero values take the defaults.
type GCOptions struct {
	// Now is the round's clock (default time.Now()).
	Now time.Time
	// Grace: a blob not created or referenced for this long, that no
	// referrer knows, is deleted, and containers created and written
	// this long ago are compacted (default DefaultGCGrace; negative means
	// none). A short grace is safe — fencing and Reference keep every
	// committed reference intact — but writers racing the GC then retry.
	Grace time.Duration
	// ReaderGrace: a retired container is deleted this long after it was
	// retired, so reads that started before finish (default
	// DefaultReaderGrace; negative means at once).
	ReaderGrace time.Duration
	// OrphanGrace: a pack file or object no commit registered, not
	// modified for this long, is removed (default DefaultOrphanGrace;
	// negative means at once). Fenced first, so a writer still about to
	// commit into it fails and retries rather than losing anything.
	OrphanGrace time.Duration
	// MinDeadRatio: containers with at least this share of dead bytes are
	// compacted (default DefaultMinDeadRatio).
	MinDeadRatio float64
	// NoCompact skips compaction (only blob rows, dead and orphaned
	// containers are removed).
	NoCompact bool
}

func (o GCOptions) withDefaults() GCOptions {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Grace == 0 {
		o.Grace = DefaultGCGrace
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.ReaderGrace == 0 {
		o.ReaderGrace = DefaultReaderGrace
	}
	if o.ReaderGrace < 0 {
		o.ReaderGrace = 0
	}
	if o.OrphanGrace == 0 {
		o.OrphanGrace = DefaultOrphanGrace
	}
	if o.OrphanGrace < 0 {
		o.OrphanGrace = 0
	}
	if o.MinDeadRatio <= 0 {
		o.MinDeadRatio = DefaultMinDeadRatio
	}
	return o
}

// GCResult says what one GC round did.
type GCResult struct {
	BlobsDeleted        int64 // blobs rows nothing referenced
	BlobBytesDeleted    int64 // their sizes
	ContainersCompacted int   // pack files or objects whose live blobs were copied out
	BytesCopied         int64 // live bytes copied by compaction
	ContainersDeleted   int   // retired containers deleted
	OrphansDeleted      int   // files or objects no commit referenced, deleted
	BytesReclaimed      int64 // bytes of deleted files and objects
	Errors              []string
	Duration            time.Duration
}

// GC runs one round of space reclamation: blobs rows that nothing
// references are deleted (with the db backend that frees their bytes), then
// containers with mostly dead bytes are compacted, retired containers past
// the reader grace are deleted, and orphaned files or objects are removed.
// It is safe to run on any node at any time, concurrently with writers and
// readers on every node; a crash at any point loses nothing (the next round
// finishes the work).
func (s *Store) GC(ctx context.Context, opts GCOptions) (*GCResult, error) {
	o := opts.withDefaults()
	start := time.Now()
	res := &GCResult{}
	if err := s.deleteUnreferenced(ctx, o, res); err != nil {
		return res, err
	}
	if err := s.fenceStaged(ctx, o.Now.Add(-o.Grace)); err != nil {
		return res, err
	}
	if !o.NoCompact && s.backend != Database {
		if err := s.compact(ctx, o, res); err != nil {
			return res, err
		}
	}
	if err := s.deleteRetired(ctx, o, res); err != nil {
		return res, err
	}
	if opts.OrphanGrace != 0 || s.orphanSweepDue(o.Now) {
		if err := s.deleteOrphans(ctx, o, res); err != nil {
			return res, err
		}
	}
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM blob_containers WHERE state = ? AND dead_at < ?`, stateDeleted, db.Millis(o.Now.Add(-deadRowRetention)))
		return err
	})
	if s.w != nil {
		s.SweepReaders()
	}
	res.Duration = time.Since(start)
	return res, err
}

// orphanSweepEvery spaces the orphan sweeps of rounds with the default
// orphan grace: a sweep lists every file and object.
const orphanSweepEvery = 6 * time.Hour

// orphanSweepDue reports whether a default round should sweep orphans, and
// records that it does.
func (s *Store) orphanSweepDue(now time.Time) bool {
	s.refMu.Lock()
	defer s.refMu.Unlock()
	if !s.lastOrphanSweep.IsZero() && now.Sub(s.lastOrphanSweep) < orphanSweepEvery {
		return false
	}
	s.lastOrphanSweep = now
	return true
}

// deleteUnreferenced deletes, page by page in key order, the blobs rows
// older than the grace that no referrer reports. Each page is one write
// transaction that asks the referrers and deletes, so a reference committed
// before it is seen, and one committed after it finds the row gone (and
// fails: Reference, or the items foreign key).
func (s *Store) deleteUnreferenced(ctx context.Context, o GCOptions, res *GCResult) error {
	cutoff := db.Millis(o.Now.Add(-o.Grace))
	s.refMu.Lock()
	refs := append([]namedReferrer(nil), s.referrers...)
	s.refMu.Unlock()
	after := ""
	for {
		var page []string
		rows, err := s.d.Read().QueryContext(ctx, `SELECT sha256 FROM blobs WHERE sha256 > ? AND created_at < ? ORDER BY sha256 LIMIT 500`, after, cutoff)
		if err != nil {
			return errs.Internalf(err, "list blobs")
		}
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				rows.Close()
				return errs.Internalf(err, "list blobs")
			}
			page = append(page, sha)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Internalf(err, "list blobs")
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1]
		var n, bytes int64
		err = s.d.Write(ctx, func(tx *db.Tx) error {
			n, bytes = 0, 0
			used := map[string]bool{}
			for _, r := range refs {
				m, err := r.f(ctx, tx, page)
				if err != nil {
					return errs.Internalf(err, "ask %s which blobs it references", r.name)
				}
				for k := range m {
					used[k] = true
				}
			}
			var cands []any
			for _, sha := range page {
				if !used[sha] {
					cands = append(cands, sha)
				}
			}
			if len(cands) == 0 {
				return nil
			}
			rows, err := tx.QueryContext(ctx, `DELETE FROM blobs WHERE sha256 IN (`+db.InList(len(cands))+`) AND created_at < ? RETURNING size`,
				append(cands, cutoff)...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var size int64
				if err := rows.Scan(&size); err != nil {
					return err
				}
				n++
				bytes += size
			}
			return rows.Err()
		})
		if db.IsForeignKey(err) {
			// A row referencing one of them committed meanwhile: leave
			// this page to the next round.
			res.Errors = append(res.Errors, "a page of blobs was referenced during GC; left for the next round")
			continue
		}
		if err != nil {
			return errs.Internalf(err, "delete unreferenced blobs")
		}
		res.BlobsDeleted += n
		res.BlobBytesDeleted += bytes
	}
}

// deleteRetired deletes the files or objects of dead containers that hold
// no blob and were retired before the reader grace.
func (s *Store) deleteRetired(ctx context.Context, o GCOptions, res *GCResult) error {
	cutoff := o.Now.Add(-o.ReaderGrace)
	if o.ReaderGrace == 0 && time.Now().After(cutoff) {
		cutoff = time.Now() // include what this round retired
	}
	rows, err := s.d.Read().QueryContext(ctx, `SELECT name, size FROM blob_containers c WHERE state = ? AND dead_at <= ?
		AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.container = c.name)`, stateDead, db.Millis(cutoff))
	if err != nil {
		return errs.Internalf(err, "list retired blob containers")
	}
	type cont struct {
		name string
		size int64
	}
	var cs []cont
	for rows.Next() {
		var c cont
		if err := rows.Scan(&c.name, &c.size); err != nil {
			rows.Close()
			return errs.Internalf(err, "list retired blob containers")
		}
		cs = append(cs, c)
	}
	rows.Close()
	for _, c := range cs {
		n, err := s.deleteContainer(ctx, c.name, c.size)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		res.ContainersDeleted++
		res.BytesReclaimed += n
	}
	return nil
}

// deleteContainer removes a fenced container's file or object and marks
// it deleted; it returns the bytes freed. A container already gone is not
// an error (a round that crashed after deleting it).
func (s *Store) deleteContainer(ctx context.Context, name string, size int64) (int64, error) {
	kind, key, _ := strings.Cut(name, ":")
	var freed int64
	switch kind {
	case "pack":
		if s.dir == "" || strings.ContainsAny(key, `/\`) {
			return 0, errs.Internalf(errors.New("no blob directory"), "delete pack %s", key)
		}
		p := filepath.Join(s.dir, key)
		if st, err := os.Stat(p); err == nil {
			freed = st.Size()
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, errs.Internalf(err, "delete pack %s", key)
		}
		s.forgetPack(key)
	case "s3":
		if s.s3 == nil {
			return 0, errs.Internalf(errors.New("s3 not configured"), "delete object %s", key)
		}
		if err := s.s3.remove(ctx, key); err != nil {
			return 0, err
		}
		freed = size
	default:
		return 0, errs.Internalf(errors.New("unknown container kind"), "delete container %s", name)
	}
	err := s.d.Write(ctx, func(tx *db.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE blob_containers SET state = ?, dead_at = ? WHERE name = ?`, stateDeleted, db.Now(), name)
		return err
	})
	if err != nil {
		return 0, errs.Internalf(err, "mark container %s deleted", name)
	}
	return freed, nil
}

// physical is a pack file or object found in the directory or bucket.
type physical struct {
	name     string // container name
	size     int64
	modified time.Time
}

// listPhysical lists the containers that exist in the directory and the
// bucket.
func (s *Store) listPhysical(ctx context.Context, f func(physical) error) error {
	if s.dir != "" {
		ents, err := os.ReadDir(s.dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return errs.Internalf(err, "list blob directory %s", s.dir)
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), ".pack") || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue // deleted meanwhile
			}
			if err := f(physical{name: "pack:" + e.Name(), size: fi.Size(), modified: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	if s.s3 != nil {
		return s.s3.list(ctx, s3Prefix, func(o objectInfo) error {
			return f(physical{name: "s3:" + o.key, size: o.size, modified: o.modified})
		})
	}
	return nil
}

// deleteOrphans removes files and objects that no commit registered and
// that were not modified for the orphan grace: the bytes of writes that
// crashed or failed before their commit. Each is fenced first.
func (s *Store) deleteOrphans(ctx context.Context, o GCOptions, res *GCResult) error {
	cutoff := o.Now.Add(-o.OrphanGrace)
	var old []physical
	err := s.listPhysical(ctx, func(p physical) error {
		if p.modified.Before(cutoff) {
			old = append(old, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for start := 0; start < len(old); start += 500 {
		chunk := old[start:min(start+500, len(old))]
		args := make([]any, len(chunk))
		for i, p := range chunk {
			args[i] = p.name
		}
		known := map[string]bool{}
		rows, err := s.d.Read().QueryContext(ctx, `SELECT name FROM blob_containers WHERE name IN (`+db.InList(len(chunk))+`)`, args...)
		if err != nil {
			return errs.Internalf(err, "look up blob containers")
		}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			known[n] = true
		}
		rows.Close()
		for _, p := range chunk {
			if known[p.name] {
				continue
			}
			ok, err := s.fenceOrphan(ctx, p.name, p.size)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			n, err := s.deleteContainer(ctx, p.name, p.size)
			if err != nil {
				res.Errors = append(res.Errors, err.Error())
				continue
			}
			res.OrphansDeleted++
			res.BytesReclaimed += n
		}
	}
	return nil
}
