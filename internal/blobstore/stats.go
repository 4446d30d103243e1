package blobstore

import (
	"context"
	"strings"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// Stats describes the space the blob store uses.
type Stats struct {
	Backend string // where new bytes go: files, db or s3
	// Blobs and BlobBytes count the committed blobs (distinct contents).
	Blobs     int64
	BlobBytes int64
	// DatabaseBytes is the part of BlobBytes stored in the database.
	DatabaseBytes int64
	// LiveContainers and RetiredContainers count pack files and objects
	// in service and retired (waiting for deletion).
	LiveContainers    int64
	RetiredContainers int64
	// Files and FileBytes measure the pack files on disk; Objects and
	// ObjectBytes the objects in the bucket (every file or object,
	// orphans included).
	Files       int64
	FileBytes   int64
	Objects     int64
	ObjectBytes int64
	// ReclaimableBytes is what compaction and orphan removal could free:
	// the bytes in files and objects minus the live blobs in them.
	ReclaimableBytes int64
	// CacheBytes is the size of the local S3 read cache.
	CacheBytes int64
}

// Stats measures the store: counts from the database, sizes from the
// directory and the bucket.
func (s *Store) Stats(ctx context.Context) (*Stats, error) {
	st := &Stats{Backend: string(s.backend)}
	if s.backend == Pack {
		st.Backend = "files"
	}
	err := s.d.Read().QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(CASE WHEN location = 'db' THEN size ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN location = 'db' THEN 0 ELSE 1 END), 0) FROM blobs`).
		Scan(&st.Blobs, &st.BlobBytes, &st.DatabaseBytes, new(int64))
	if err != nil {
		return nil, errs.Internalf(err, "count blobs")
	}
	err = s.d.Read().QueryRowContext(ctx, `SELECT COALESCE(SUM(CASE WHEN state = 'live' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END), 0) FROM blob_containers`).Scan(&st.LiveContainers, &st.RetiredContainers)
	if err != nil {
		return nil, errs.Internalf(err, "count blob containers")
	}
	err = s.listPhysical(ctx, func(p physical) error {
		if strings.HasPrefix(p.name, "pack:") {
			st.Files++
			st.FileBytes += p.size
		} else {
			st.Objects++
			st.ObjectBytes += p.size
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var inContainers int64
	if err := s.d.Read().QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) + COUNT(*) * ? FROM blobs WHERE container <> ''`, headerSize).Scan(&inContainers); err != nil {
		return nil, errs.Internalf(err, "count blob bytes")
	}
	st.ReclaimableBytes = max(0, st.FileBytes+st.ObjectBytes-inContainers)
	if s.cache != nil {
		st.CacheBytes, _ = s.cache.stats()
	}
	return st, nil
}
