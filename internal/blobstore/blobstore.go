// Package blobstore stores raw message bytes, content-addressed by the
// SHA-256 of the exact bytes, in one of three backends: append-only pack
// files in a directory (files, the default), the database (table
// blob_data; db), or objects in an S3 bucket (s3). It owns the tables
// blobs, blob_data and blob_containers, and it reclaims space: garbage
// collection of blobs nothing references (GC), compaction of pack files
// and pack objects, and removal of orphaned containers.
//
// Writing is batched: a Batch streams many items (hashing while writing,
// never holding a large item in memory), Sync makes all of the batch's bytes
// durable (one fsync per pack file touched; with S3 the uploads, which are
// durable when the PUT returns), and Commit records the refs in the
// caller's database transaction.
//
// Containers. Bytes live in containers: a pack file ("pack:<file>") or an
// S3 object ("s3:<key>"). A blobs row names its container and the offset
// of its first byte. Small items are packed many to a container: a pack
// file takes the records of all batches of one process (~1 GiB, rolled
// after an hour), an S3 pack object the small items of one batch (uploaded
// at ObjectSize or at Sync, so 10,000 small messages are a few PUTs, not
// 10,000; one object uploads in the background while the next fills, so an
// S3 batch holds at most two objects' bytes in memory). An S3 item larger
// than a quarter of ObjectSize goes to an object of its own with a
// streaming multipart upload (parts of PartSize); reads fetch ranges of
// exactly one part. Records are self-describing: a 44-byte header
// (magic "TFB1", big-endian uint64 size, 32-byte SHA-256) then the bytes;
// an S3 pack object ends with an index of its records (see packObject).
//
// Why minio-go for S3: it is one module with a handful of small
// dependencies (the AWS SDK v2 needs a dozen aws-* modules and smithy),
// its PutObject streams an upload of unknown length as a multipart upload
// holding one part in memory, its GetObject takes a byte range, and it
// speaks to AWS S3, MinIO, SeaweedFS and Ceph RGW alike (path-style
// addressing).
//
// Invariants:
//   - Order is always: bytes written → durable (fsync or completed PUT) →
//     database commit that references them. A blobs row therefore never
//     points at bytes that are not durable. Bytes written but never
//     committed are garbage, never corruption.
//   - The key of a blob is the lower-case hex SHA-256 of exactly the bytes
//     stored; the store never transforms content.
//   - Container names are unique per write and never reused: pack files
//     start with a random per-process prefix (a process appends only to
//     packs it created), S3 keys carry a time and random part. Two nodes
//     never write one container.
//   - Fencing: blob_containers records every container a commit has
//     referenced, live or dead. A commit first registers its containers
//     and fails (BlobContainerRetired, retried by the caller) if one of
//     them is dead. Compaction and orphan removal declare a container dead
//     in the database before they copy out of it or delete it, so a writer
//     that was slow between writing and committing — on any node, for any
//     time — can never commit a row pointing into a container that is or
//     will be deleted.
//   - A compaction stages each container of its own (S3 object, private
//     pack) in blob_containers before writing to it, and its relocation
//     promotes them to live. A staged container older than the round's
//     grace belongs to a compaction that died: the round fences it and
//     deletes it once it holds no blob, so a killed compaction's copies
//     do not wait for the orphan grace.
//   - GC never deletes a blobs row that a committed row references: the
//     referencing packages (Referrer functions: mailstore's items,
//     delivery's queue) are asked inside the deleting transaction, and a
//     writer that references an existing blob refreshes its created_at
//     (Batch.Commit and Reference) under the row lock, so a blob touched
//     within the grace period is never a candidate. A row is deleted only
//     when no referrer knows it and it was not touched for the grace
//     period; the bytes then become dead space in their container.
//   - A container is deleted only when it is dead, holds no blobs row, and
//     has been dead for the reader grace; a reader that finds its container
//     gone looks the blob's location up again (compaction moved it) and
//     continues, so compaction never breaks a read.
//   - Readers use positional reads (pread, ranged GETs), so any number of
//     them run in parallel with each other and with writers.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Backend names where new blob bytes are written.
type Backend string

// The backends. Reading works for blobs of every backend that is
// configured, whatever backend new writes use.
const (
	// Pack writes append-only pack files in Options.Dir.
	Pack Backend = "pack"
	// Database writes the bytes into the blob_data table, inside the
	// transaction that commits the refs.
	Database Backend = "db"
	// S3 writes objects to an S3 bucket (Options.S3).
	S3 Backend = "s3"
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
	// PackAge is the age after which a new shared pack file is started
	// (default DefaultPackAge), so an idle pack becomes compactable.
	PackAge time.Duration
	// SpillSize is the largest item buffered in memory while it is hashed;
	// larger items are streamed to disk or S3 (default DefaultSpillSize).
	SpillSize int64
	// S3 configures the S3 backend; required when Backend is S3, and to
	// read blobs stored in S3 by an earlier configuration.
	S3 *S3Options
	// MemoryBudget bounds the bytes all write batches of this store hold
	// at once in buffers (default DefaultMemoryBudget; see memBudget).
	// Batches wait for room rather than grow past it.
	MemoryBudget int64
}

// DefaultPackAge is Options.PackAge's default.
const DefaultPackAge = time.Hour

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
	packAge   time.Duration
	spillSize int64

	w     *packWriter // nil unless the Pack backend
	s3    *s3Client   // nil unless S3 is configured
	cache *readCache  // S3 read cache
	mem   *memBudget  // node-wide bound on batches' buffers

	readMu  sync.Mutex
	readers map[string]*fileHandle // pack name → shared read-only handle

	refMu           sync.Mutex // guards referrers, lastOrphanSweep
	referrers       []namedReferrer
	lastOrphanSweep time.Time

	stop chan struct{} // ends the reader sweeper
	done chan struct{}
}

// sweepEvery is how often shared read handles of pack files deleted by
// another node are closed.
const sweepEvery = 5 * time.Minute

// New returns a blob store over d. With the Pack backend it creates
// opts.Dir if needed; with S3 it checks that the bucket is reachable.
func New(d *db.DB, opts Options) (*Store, error) {
	s := &Store{
		d:         d,
		backend:   opts.Backend,
		dir:       opts.Dir,
		packSize:  opts.PackSize,
		packAge:   opts.PackAge,
		spillSize: opts.SpillSize,
		readers:   map[string]*fileHandle{},
	}
	if s.backend == "" {
		s.backend = Pack
	}
	if s.packSize <= 0 {
		s.packSize = DefaultPackSize
	}
	if s.packAge <= 0 {
		s.packAge = DefaultPackAge
	}
	if s.spillSize <= 0 {
		s.spillSize = DefaultSpillSize
	}
	switch s.backend {
	case Pack:
		if s.dir == "" {
			return nil, ErrInvalidBlobStore.Newf("the pack blob store needs a directory").
				WithHint("set the data directory, or use the database blob backend")
		}
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, errs.Internalf(err, "create blob directory %s", s.dir)
		}
		w, err := newPackWriter(s.dir, s.packSize, s.packAge)
		if err != nil {
			return nil, err
		}
		s.w = w
	case Database:
	case S3:
		if opts.S3 == nil {
			return nil, ErrInvalidBlobStore.Newf("the s3 blob backend is not configured").
				WithHint("set --s3-endpoint and --s3-bucket")
		}
	default:
		return nil, ErrInvalidBlobStore.Newf("unknown blob backend %q", s.backend).
			WithHint("use files, db or s3")
	}
	if opts.S3 != nil {
		c, err := newS3Client(context.Background(), *opts.S3)
		if err != nil {
			return nil, err
		}
		cache, err := newReadCache(opts.S3.CacheDir, opts.S3.CacheSize)
		if err != nil {
			return nil, err
		}
		s.s3, s.cache = c, cache
	}
	s.mem = s.newMemBudget(opts.MemoryBudget)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.sweeper()
	return s, nil
}

// sweeper closes, now and then, the handles of pack files that are gone.
func (s *Store) sweeper() {
	defer close(s.done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.SweepReaders()
		}
	}
}

// newMemBudget sizes the store's memory budget: a gather buffer holds up
// to one flush's worth of records plus the largest record and, with S3, the
// pack object's index.
func (s *Store) newMemBudget(budget int64) *memBudget {
	if s.backend == S3 {
		bufCap := s.s3.objectSize + headerSize + s.packMax() + 1 + indexEntrySize + trailerSize
		return newMemBudget(budget, int(bufCap), s.s3.partSize)
	}
	return newMemBudget(budget, int(writeChunk+headerSize+s.spillSize+1), 0)
}

// packMax is the largest item a batch buffers whole (and, with S3, packs
// into a pack object); larger ones stream to a file or an object of their
// own. S3 packs up to a quarter of a pack object, so mail with an
// attachment of a few MiB is not one multipart upload per message.
func (s *Store) packMax() int64 {
	if s.backend == S3 {
		return max(s.spillSize, s.s3.objectSize/4)
	}
	return s.spillSize
}

// Backend returns the backend new writes use.
func (s *Store) Backend() Backend { return s.backend }

// Close closes the open pack files. Batches must be finished first.
func (s *Store) Close() error {
	if s.stop != nil {
		select {
		case <-s.stop:
		default:
			close(s.stop)
			<-s.done
		}
	}
	var first error
	if s.w != nil {
		first = s.w.close()
	}
	s.readMu.Lock()
	defer s.readMu.Unlock()
	for name, h := range s.readers {
		h.gone = true
		if h.refs == 0 {
			if err := h.f.Close(); err != nil && first == nil {
				first = err
			}
		}
		delete(s.readers, name)
	}
	return first
}

// Has reports whether the blob with the given SHA-256 is committed, as seen
// by q (pass the transaction you hold, or d.Read()). A writer uses it to skip
// bytes the store already has; it must then reference the blob with
// Reference in the transaction that commits its rows.
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

// Reference declares, inside tx, that rows about to commit reference the
// committed blobs shas (content a writer found with Has and did not write
// again). It refreshes each blob's GC clock under the row lock, so a
// concurrent GC either sees the fresh reference or has already deleted the
// row — then Reference fails with BlobMissing and nothing commits.
func (s *Store) Reference(ctx context.Context, tx *db.Tx, shas []string) error {
	now := db.Now()
	for start := 0; start < len(shas); start += 500 {
		chunk := shas[start:min(start+500, len(shas))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, now)
		for _, sha := range chunk {
			args = append(args, sha)
		}
		rows, err := tx.QueryContext(ctx, `UPDATE blobs SET created_at = ? WHERE sha256 IN (`+db.InList(len(chunk))+`) RETURNING sha256`, args...)
		if err != nil {
			return errs.Internalf(err, "reference blobs")
		}
		found := map[string]bool{}
		for rows.Next() {
			var sha string
			if err := rows.Scan(&sha); err != nil {
				rows.Close()
				return errs.Internalf(err, "reference blobs")
			}
			found[sha] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return errs.Internalf(err, "reference blobs")
		}
		for _, sha := range chunk {
			if !found[sha] {
				return missing(sha, nil)
			}
		}
	}
	return nil
}

// Blob is an open blob: an io.Reader, io.ReaderAt and io.Seeker over
// exactly the stored bytes. Close it when done.
type Blob struct {
	*io.SectionReader
	// SHA256 is the blob's key.
	SHA256 string
	closer func() error
	// ranger, when set, streams a byte range natively (a backend where
	// one ranged request beats many positional reads); nil means ranges
	// are positional reads of the SectionReader.
	ranger func(off, n int64) io.Reader
}

// Range returns a reader of the blob's bytes [off, off+n), clamped to the
// blob (n < 0 reads to its end). Ranges are independent of each other and
// of the Blob's own read position; they stay valid until the Blob is
// closed. Readers of message sections use it to read only the bytes they
// serve.
func (b *Blob) Range(off, n int64) io.Reader {
	size := b.Size()
	off = min(max(off, 0), size)
	if n < 0 || n > size-off {
		n = size - off
	}
	if b.ranger != nil {
		return b.ranger(off, n)
	}
	return io.NewSectionReader(b.SectionReader, off, n)
}

// Close releases the blob.
func (b *Blob) Close() error {
	if b.closer != nil {
		return b.closer()
	}
	return nil
}

// Open opens the committed blob with the given SHA-256. A blob without a
// committed blobs row, or whose container is gone, is a BlobMissing error.
func (s *Store) Open(ctx context.Context, sha string) (*Blob, error) {
	size, loc, err := s.lookup(ctx, sha)
	if err != nil {
		return nil, err
	}
	return s.OpenLocation(ctx, sha, size, loc)
}

// OpenRange opens the committed blob with the given SHA-256 and streams
// its bytes [off, off+n), clamped to the blob (n < 0 reads to its end).
// Close the reader when done. Errors are those of Open. It is the one-shot
// form of Open followed by Blob.Range; every backend implements it with
// bounded memory (positional reads of a pack file, one 1 MiB chunk of
// blob_data at a time, ranged GETs of one S3 part at a time through the
// read cache).
func (s *Store) OpenRange(ctx context.Context, sha string, off, n int64) (io.ReadCloser, error) {
	b, err := s.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	return rangeReader{Reader: b.Range(off, n), b: b}, nil
}

// rangeReader closes its blob with it.
type rangeReader struct {
	io.Reader
	b *Blob
}

func (r rangeReader) Close() error { return r.b.Close() }

func (s *Store) lookup(ctx context.Context, sha string) (int64, string, error) {
	var size int64
	var loc string
	err := s.d.Read().QueryRowContext(ctx, `SELECT size, location FROM blobs WHERE sha256 = ?`, sha).Scan(&size, &loc)
	if db.IsNoRows(err) {
		return 0, "", missing(sha, nil)
	}
	if err != nil {
		return 0, "", errs.Internalf(err, "look up blob %s", sha)
	}
	return size, loc, nil
}

// OpenLocation opens a blob whose size and location the caller already read
// from the blobs table (saves a query when joined with other rows). If the
// container has gone since (compaction moved the blob), the location is
// looked up again.
func (s *Store) OpenLocation(ctx context.Context, sha string, size int64, location string) (*Blob, error) {
	if location == locationDB {
		r := &dbReader{ctx: ctx, d: s.d, sha: sha, size: size}
		return &Blob{SectionReader: io.NewSectionReader(r, 0, size), SHA256: sha}, nil
	}
	r := &movingReader{s: s, ctx: ctx, sha: sha, size: size}
	if err := r.open(location); err != nil {
		if !errors.Is(err, errContainerGone) {
			return nil, err
		}
		_, loc, lerr := s.lookup(ctx, sha)
		if lerr != nil {
			return nil, lerr
		}
		if loc == location {
			return nil, missing(sha, err)
		}
		if err := r.open(loc); err != nil {
			return nil, missing(sha, err)
		}
	}
	return &Blob{SectionReader: io.NewSectionReader(r, 0, size), SHA256: sha, closer: r.close}, nil
}

// errContainerGone says a pack file or object does not exist.
var errContainerGone = errors.New("blob container gone")

// locReader reads one blob at one location.
type locReader interface {
	io.ReaderAt
	close() error
}

// movingReader reads a blob and follows it when compaction moves it.
type movingReader struct {
	s    *Store
	ctx  context.Context
	sha  string
	size int64

	mu  sync.Mutex
	loc string
	r   locReader
}

func (m *movingReader) open(loc string) error {
	r, err := m.s.openAt(m.ctx, m.sha, m.size, loc)
	if err != nil {
		return err
	}
	m.loc, m.r = loc, r
	return nil
}

func (m *movingReader) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.r.ReadAt(p, off)
	if err == nil || !errors.Is(err, errContainerGone) {
		return n, err
	}
	_, loc, lerr := m.s.lookup(m.ctx, m.sha)
	if lerr != nil {
		return n, lerr
	}
	if loc == m.loc {
		return n, missing(m.sha, err)
	}
	old := m.r
	if err := m.open(loc); err != nil {
		return n, missing(m.sha, err)
	}
	old.close()
	k, err := m.r.ReadAt(p[n:], off+int64(n))
	return n + k, err
}

func (m *movingReader) close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.r == nil {
		return nil
	}
	err := m.r.close()
	m.r = nil
	return err
}

// openAt opens the reader of one location.
func (s *Store) openAt(ctx context.Context, sha string, size int64, loc string) (locReader, error) {
	kind, name, off, ok := parseLocation(loc)
	if !ok {
		return nil, errs.Internalf(fmt.Errorf("bad location %q", loc), "blob %s has an unreadable location", sha)
	}
	switch kind {
	case "pack":
		h, err := s.packReader(name)
		if err != nil {
			return nil, err
		}
		return &packReader{s: s, h: h, off: off}, nil
	default:
		if s.s3 == nil {
			return nil, missing(sha, fmt.Errorf("blob %s is stored in S3 (%s), which is not configured", sha, name)).
				WithHint("configure the s3 blob backend (--s3-endpoint, --s3-bucket) to read it")
		}
		return &s3Reader{s: s, ctx: ctx, sha: sha, size: size, key: name, base: off, cur: -1}, nil
	}
}

func missing(sha string, cause error) *errs.Error {
	return ErrBlobMissing.Newf("message content %s is missing from the blob store", sha).
		WithObject(sha).
		WithHint("the item's bytes were never committed or the blob files were removed; restore the blob directory or re-import the item").
		WithCause(cause)
}

// ErrBlobMissing is returned when committed content cannot be found.
var ErrBlobMissing = errs.Sentinel(errs.NotFound, "BlobMissing")

// fileHandle is a shared read handle of a pack file, closed when it is
// gone (deleted or the store closed) and no reader uses it.
type fileHandle struct {
	name string
	f    *os.File
	refs int
	gone bool
}

func (s *Store) packReader(name string) (*fileHandle, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if h := s.readers[name]; h != nil {
		h.refs++
		return h, nil
	}
	if s.dir == "" {
		return nil, fmt.Errorf("no blob directory configured to read pack %s", name)
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", errContainerGone, name)
	}
	if err != nil {
		return nil, err
	}
	h := &fileHandle{name: name, f: f, refs: 1}
	s.readers[name] = h
	return h, nil
}

func (s *Store) releaseHandle(h *fileHandle) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	h.refs--
	if h.refs == 0 && h.gone {
		h.f.Close()
	}
}

// forgetPack drops the shared handle of a deleted pack file: it closes as
// soon as its last reader is done, so the disk space comes back.
func (s *Store) forgetPack(name string) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	h := s.readers[name]
	if h == nil {
		return
	}
	delete(s.readers, name)
	h.gone = true
	if h.refs == 0 {
		h.f.Close()
	}
}

// SweepReaders closes the shared handles of pack files that no longer
// exist (deleted by another node's compaction), so their space is freed.
func (s *Store) SweepReaders() {
	s.readMu.Lock()
	var names []string
	for name := range s.readers {
		names = append(names, name)
	}
	s.readMu.Unlock()
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(s.dir, name)); errors.Is(err, os.ErrNotExist) {
			s.forgetPack(name)
		}
	}
}

// packReader reads a blob in a pack file.
type packReader struct {
	s    *Store
	h    *fileHandle
	off  int64
	once sync.Once
}

func (r *packReader) ReadAt(p []byte, off int64) (int, error) { return r.h.f.ReadAt(p, r.off+off) }

func (r *packReader) close() error {
	r.once.Do(func() { r.s.releaseHandle(r.h) })
	return nil
}

func packLocation(name string, off int64) string {
	return "pack:" + name + ":" + strconv.FormatInt(off, 10)
}

func s3Location(key string, off int64) string {
	return "s3:" + key + ":" + strconv.FormatInt(off, 10)
}

// containerOf returns the container part of a location ("pack:<file>",
// "s3:<key>"), "" for the database.
func containerOf(loc string) string {
	if i := strings.LastIndexByte(loc, ':'); i > 0 && loc != locationDB {
		return loc[:i]
	}
	return ""
}

// parseLocation splits "pack:<file>:<off>" or "s3:<key>:<off>".
func parseLocation(loc string) (kind, name string, off int64, ok bool) {
	kind, rest, ok := strings.Cut(loc, ":")
	if !ok || (kind != "pack" && kind != "s3") {
		return "", "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", "", 0, false
	}
	name = rest[:i]
	if kind == "pack" && (strings.ContainsAny(name, `/\`) || name == "." || name == "..") {
		return "", "", 0, false
	}
	if kind == "s3" && (!strings.HasPrefix(name, s3Prefix) || strings.Contains(name, "..")) {
		return "", "", 0, false
	}
	off, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || off < 0 {
		return "", "", 0, false
	}
	return kind, name, off, true
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
