// Package blobstore stores raw message bytes, content-addressed by the
// SHA-256 of the exact bytes, in append-only pack files (the default) or in
// the database (table blob_data; an option for PostgreSQL deployments).
//
// Writing is batched: a Batch streams many items (hashing while writing,
// never holding a large item in memory), Sync makes all of the batch's bytes
// durable with one fsync per pack file touched (normally exactly one), and
// Commit records the refs in the caller's database transaction.
//
// Invariants:
//   - Order is always: bytes written → fsync (Sync) → database commit that
//     references them. A blobs row therefore never points at bytes that are
//     not durable. Bytes written but never committed are garbage (unreferenced
//     space in a pack file), never corruption.
//   - The key of a blob is the lower-case hex SHA-256 of exactly the bytes
//     stored; the store never transforms content.
//   - Pack files are append-only and written by one process only: their names
//     start with a random per-process prefix, so several nodes can share a
//     directory. A process never appends to a pack file it did not create.
//   - Records in a pack file are self-describing: a 44-byte header (magic
//     "TFB1", big-endian uint64 size, 32-byte SHA-256) followed by the bytes.
//     A blobs row's location points at the first byte after the header.
//   - Readers use positional reads (pread), so any number of them run in
//     parallel with each other and with writers.
//   - A blob is never deleted by this package; the blobs row is the only
//     reference readers follow.
package blobstore

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Backend names where new blob bytes are written.
type Backend string

// The two backends. Reading works for blobs of either backend, whatever
// backend new writes use.
const (
	// Pack writes append-only pack files in Options.Dir.
	Pack Backend = "pack"
	// Database writes the bytes into the blob_data table, inside the
	// transaction that commits the refs.
	Database Backend = "db"
)

// Defaults for Options.
const (
	DefaultPackSize  = 1 << 30 // roll pack files at about 1 GiB
	DefaultSpillSize = 1 << 20 // items above this are streamed, not buffered
	dbChunkSize      = 1 << 20 // blob_data chunk size (part of the stored format)
	headerSize       = 44
	packMagic        = "TFB1"
	locationDB       = "db"
)

// Options configure a Store.
type Options struct {
	// Backend selects where new bytes go; empty means Pack.
	Backend Backend
	// Dir holds the pack files (e.g. DATA/blobs). Required to write with the
	// Pack backend and to read pack blobs.
	Dir string
	// PackSize is the size after which a new pack file is started
	// (default DefaultPackSize).
	PackSize int64
	// SpillSize is the largest item buffered in memory while it is hashed;
	// larger items are streamed to disk (default DefaultSpillSize).
	SpillSize int64
}

// Ref identifies stored bytes: their SHA-256 (lower-case hex) and size.
type Ref struct {
	SHA256 string // lower-case hex SHA-256 of the bytes
	Size   int64  // size in bytes
}

// Store is a blob store. It is safe for concurrent use.
type Store struct {
	d         *db.DB
	backend   Backend
	dir       string
	packSize  int64
	spillSize int64

	w *packWriter // nil for the Database backend

	readMu  sync.RWMutex
	readers map[string]*os.File // pack name → read-only handle
}

// New returns a blob store over d. With the Pack backend it creates
// opts.Dir if needed.
func New(d *db.DB, opts Options) (*Store, error) {
	s := &Store{
		d:         d,
		backend:   opts.Backend,
		dir:       opts.Dir,
		packSize:  opts.PackSize,
		spillSize: opts.SpillSize,
		readers:   map[string]*os.File{},
	}
	if s.backend == "" {
		s.backend = Pack
	}
	if s.packSize <= 0 {
		s.packSize = DefaultPackSize
	}
	if s.spillSize <= 0 {
		s.spillSize = DefaultSpillSize
	}
	switch s.backend {
	case Pack:
		if s.dir == "" {
			return nil, errs.Invalidf("InvalidBlobStore", "the pack blob store needs a directory").
				WithHint("set the data directory, or use the database blob backend")
		}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, errs.Internalf(err, "create blob directory %s", s.dir)
		}
		w, err := newPackWriter(s.dir, s.packSize)
		if err != nil {
			return nil, err
		}
		s.w = w
	case Database:
	default:
		return nil, errs.Invalidf("InvalidBlobStore", "unknown blob backend %q", s.backend).
			WithHint("use %q or %q", Pack, Database)
	}
	return s, nil
}

// Backend returns the backend new writes use.
func (s *Store) Backend() Backend { return s.backend }

// Close closes the open pack files. Batches must be finished first.
func (s *Store) Close() error {
	var first error
	if s.w != nil {
		first = s.w.close()
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for name, f := range s.readers {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
		delete(s.readers, name)
	}
	return first
}

// Has reports whether the blob with the given SHA-256 is committed, as seen
// by q (pass the transaction you hold, or d.Read()). A writer uses it to skip
// bytes the store already has.
func (s *Store) Has(ctx context.Context, q db.Querier, sha string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM blobs WHERE sha256 = ?`, sha).Scan(&one)
	if db.IsNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, errs.Internalf(err, "look up blob %s", sha)
	}
	return true, nil
}

// Blob is an open blob: an io.Reader, io.ReaderAt and io.Seeker over
// exactly the stored bytes. Close it when done.
type Blob struct {
	*io.SectionReader
	// SHA256 is the blob's key.
	SHA256 string
	closer func() error
}

// Close releases the blob.
func (b *Blob) Close() error {
	if b.closer != nil {
		return b.closer()
	}
	return nil
}

// Open opens the committed blob with the given SHA-256. A blob without a
// committed blobs row, or whose pack file is gone, is a BlobMissing error.
func (s *Store) Open(ctx context.Context, sha string) (*Blob, error) {
	var size int64
	var loc string
	err := s.d.Read().QueryRowContext(ctx, `SELECT size, location FROM blobs WHERE sha256 = ?`, sha).Scan(&size, &loc)
	if db.IsNoRows(err) {
		return nil, missing(sha, nil)
	}
	if err != nil {
		return nil, errs.Internalf(err, "look up blob %s", sha)
	}
	return s.OpenLocation(ctx, sha, size, loc)
}

// OpenLocation opens a blob whose size and location the caller already read
// from the blobs table (saves a query when joined with other rows).
func (s *Store) OpenLocation(ctx context.Context, sha string, size int64, location string) (*Blob, error) {
	if location == locationDB {
		r := &dbReader{ctx: ctx, d: s.d, sha: sha, size: size}
		return &Blob{SectionReader: io.NewSectionReader(r, 0, size), SHA256: sha}, nil
	}
	name, off, ok := parsePackLocation(location)
	if !ok {
		return nil, errs.Internalf(fmt.Errorf("bad location %q", location), "blob %s has an unreadable location", sha)
	}
	f, err := s.packReader(name)
	if err != nil {
		return nil, missing(sha, err)
	}
	return &Blob{SectionReader: io.NewSectionReader(f, off, size), SHA256: sha}, nil
}

func missing(sha string, cause error) *errs.Error {
	return errs.NotFoundf("BlobMissing", "message content %s is missing from the blob store", sha).
		WithObject(sha).
		WithHint("the item's bytes were never committed or the blob files were removed; restore the blob directory or re-import the item").
		WithCause(cause)
}

func (s *Store) packReader(name string) (*os.File, error) {
	s.readMu.RLock()
	f := s.readers[name]
	s.readMu.RUnlock()
	if f != nil {
		return f, nil
	}
	if s.dir == "" {
		return nil, fmt.Errorf("no blob directory configured to read pack %s", name)
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if f := s.readers[name]; f != nil {
		return f, nil
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	s.readers[name] = f
	return f, nil
}

func packLocation(name string, off int64) string {
	return "pack:" + name + ":" + strconv.FormatInt(off, 10)
}

func parsePackLocation(loc string) (name string, off int64, ok bool) {
	rest, ok := strings.CutPrefix(loc, "pack:")
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", 0, false
	}
	name = rest[:i]
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", 0, false
	}
	off, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || off < 0 {
		return "", 0, false
	}
	return name, off, true
}

// ValidSHA256 reports whether s is a lower-case hex SHA-256.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// dbReader reads a blob stored in blob_data chunks. It caches the last chunk
// so sequential reads with small buffers do one query per chunk.
type dbReader struct {
	ctx  context.Context
	d    *db.DB
	sha  string
	size int64

	mu    sync.Mutex
	seq   int64
	chunk []byte
}

func (r *dbReader) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= r.size {
			return n, io.EOF
		}
		seq := pos / dbChunkSize
		if r.chunk == nil || r.seq != seq {
			var data []byte
			err := r.d.Read().QueryRowContext(r.ctx, `SELECT data FROM blob_data WHERE sha256 = ? AND seq = ?`, r.sha, seq).Scan(&data)
			if err != nil {
				if db.IsNoRows(err) {
					return n, missing(r.sha, fmt.Errorf("chunk %d absent", seq))
				}
				return n, errs.Internalf(err, "read blob %s", r.sha)
			}
			r.chunk, r.seq = data, seq
		}
		in := pos - seq*dbChunkSize
		if in >= int64(len(r.chunk)) {
			return n, missing(r.sha, fmt.Errorf("chunk %d short", seq))
		}
		n += copy(p[n:], r.chunk[in:])
	}
	return n, nil
}
