package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// Batch collects many items for one durable write. Use it from one
// goroutine: Add items, Sync once, then Commit inside the database
// transaction that references the refs, then Close. Commit may run more than
// once (a retried transaction); Close always.
type Batch struct {
	s       *Store
	items   []pending
	index   map[string]int   // sha256 → index in items
	ends    map[*pack]int64  // pack → end of this batch's last record in it
	private *pack            // current pack for this batch's large items
	privs   []*pack          // every private pack, closed by Close
	temps   []*os.File       // spilled items of the Database backend
	buf     []byte           // small records not yet written (shared pack, or the next S3 pack object)
	bufIdx  []int            // items whose records are in buf
	bufPos  []int            // their offsets in buf
	objects map[string]int64 // S3 objects uploaded: container → size
	uploads []*upload        // S3 pack objects being uploaded
	dirty   bool             // bytes added since the last Sync
	bytes   int64            // total size of distinct items
	started time.Time        // first write (see maxBatchAge)
	closed  bool
	// stage: a compaction's batch records each container of its own (S3
	// object, private pack) as staged before writing to it; staged holds
	// their names.
	stage  bool
	staged map[string]bool
	// budget: the batch's buffers come from the store's memory budget
	// (NewBudgetedBatch); waitCtx bounds its waits for them (the writer's
	// context: a cancelled pass stops waiting).
	budget  bool
	waitCtx context.Context
}

type pending struct {
	ref  Ref
	loc  string   // pack location (Pack backend)
	data []byte   // bytes (Database backend, small items)
	file *os.File // bytes (Database backend, spilled items)
}

// NewBatch starts a write batch.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, index: map[string]int{}, ends: map[*pack]int64{}, objects: map[string]int64{}}
}

// NewBudgetedBatch starts a write batch whose buffers are shares of the
// store's memory budget (Options.MemoryBudget): its Add waits for room
// when the budget's batches hold it all. Use it for writers whose input
// progresses on its own, such as sync passes reading a source server:
// a batch holds its share between Adds, so a writer paced by a client (an
// IMAP APPEND, an SMTP transaction) would let idle clients starve the
// node's other writers, and takes NewBatch instead. When ctx ends, an Add
// waiting for room returns an error wrapping ctx's cause (the batch stays
// usable for Close).
func (s *Store) NewBudgetedBatch(ctx context.Context) *Batch {
	b := s.NewBatch()
	b.budget, b.waitCtx = true, ctx
	return b
}

// Len returns the number of distinct items added.
func (b *Batch) Len() int { return len(b.items) }

// Bytes returns the total size of the distinct items added.
func (b *Batch) Bytes() int64 { return b.bytes }

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// copyBufPool holds the buffers large items stream through: large writes
// keep the syscall count per item low, small ones the memory of many
// concurrent batches.
var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

var zeroHeader [headerSize]byte

// Add streams one item from r into the batch, computing its SHA-256 and size
// while writing. Items up to the spill size are buffered, and gathered
// records are appended to the shared pack about once per MiB (and by Sync);
// larger items stream into a pack file private to this batch, never held in
// memory. An error from r (for example
// a size limit enforced by the caller) abandons the item and is returned
// as is; the batch stays usable. Adding the same bytes twice stores them
// once.
func (b *Batch) Add(r io.Reader) (Ref, error) {
	if b.closed {
		return Ref{}, errs.Internalf(errors.New("batch closed"), "add to a closed blob batch")
	}
	if b.started.IsZero() {
		b.started = time.Now()
	}
	if b.s.backend == Database {
		return b.addDB(r)
	}
	// The item is read straight into the gather buffer (a share of the
	// node's memory budget): its record stays there, or, when it is
	// larger than packMax, its first bytes are the prefix of a large item.
	if b.buf == nil {
		buf, err := b.s.mem.getBuf(b.waitCtx, b.budget)
		if err != nil {
			return Ref{}, err
		}
		b.buf = buf
	}
	start := len(b.buf)
	buf, n, err := readAppend(append(b.buf, zeroHeader[:]...), r, int(b.s.packMax())+1)
	if err != nil {
		b.truncBuf(start)
		return Ref{}, err
	}
	if int64(n) > b.s.packMax() {
		ref, err := b.addLarge(buf[start+headerSize:], r)
		b.truncBuf(start)
		return ref, err
	}
	data := buf[start+headerSize:]
	sum := sha256.Sum256(data)
	ref := Ref{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if _, ok := b.index[ref.SHA256]; ok {
		b.truncBuf(start)
		return ref, nil
	}
	putHeader(buf[start:start+headerSize], ref.Size, sum[:])
	b.buf = buf
	b.bufIdx = append(b.bufIdx, len(b.items))
	b.bufPos = append(b.bufPos, start)
	b.push(pending{ref: ref})
	if b.bufFull() {
		if err := b.flushBuf(); err != nil {
			return Ref{}, err
		}
	}
	return ref, nil
}

// truncBuf cuts the gather buffer back to n bytes, and gives it back to
// the memory budget when nothing is left in it.
func (b *Batch) truncBuf(n int) {
	if n == 0 && b.buf != nil {
		b.s.mem.putBuf(b.buf, b.budget)
		b.buf = nil
		return
	}
	b.buf = b.buf[:n]
}

// addDB adds an item with the Database backend: buffered whole up to the
// spill size, else spilled to a temporary file.
func (b *Batch) addDB(r io.Reader) (Ref, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 2*int(b.s.spillSize) { // keep only the common small buffers
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	buf.Reset()
	n, err := io.CopyN(buf, r, b.s.packMax()+1)
	if err != nil && err != io.EOF {
		return Ref{}, err
	}
	if n > b.s.packMax() {
		return b.addLarge(buf.Bytes(), r)
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	ref := Ref{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if _, ok := b.index[ref.SHA256]; ok {
		return ref, nil
	}
	b.push(pending{ref: ref, data: append([]byte{}, data...)}) // never nil: NOT NULL column
	return ref, nil
}

// bufFull reports whether the gathered records are due to be written: a
// write to the shared pack, or an S3 pack object (its index included).
func (b *Batch) bufFull() bool {
	if b.s.backend == S3 {
		return int64(len(b.buf)+len(b.bufPos)*indexEntrySize) >= b.s.s3.objectSize
	}
	return len(b.buf) >= writeChunk
}

// writeChunk is how many bytes of small records a batch gathers before it
// appends them to the shared pack in one write.
const writeChunk = 1 << 20

// s3Timeout bounds one S3 upload of a batch.
const s3Timeout = 10 * time.Minute

// flushBuf writes the gathered small records — appended to the shared pack
// in one write, or uploaded as one S3 pack object — and gives their items
// a location.
func (b *Batch) flushBuf() error {
	if len(b.buf) == 0 {
		return nil
	}
	if b.s.backend == S3 {
		key := newObjectKey(s3PackPrefix)
		if err := b.stageContainer("s3:" + key); err != nil {
			return err
		}
		body := appendPackIndex(b.buf, b.bufPos)
		if err := b.upload(key, body); err != nil {
			return err
		}
		for k, i := range b.bufIdx {
			b.items[i].loc = s3Location(key, int64(b.bufPos[k])+headerSize)
		}
		b.objects["s3:"+key] = int64(len(body))
		b.buf, b.bufIdx, b.bufPos = nil, b.bufIdx[:0], b.bufPos[:0] // the upload gives the buffer back
		return nil
	}
	p, off, err := b.s.w.appendShared(b.buf)
	if err != nil {
		return err
	}
	for k, i := range b.bufIdx {
		b.items[i].loc = packLocation(p.name, off+int64(b.bufPos[k])+headerSize)
	}
	if end := off + int64(len(b.buf)); end > b.ends[p] {
		b.ends[p] = end
	}
	b.s.mem.putBuf(b.buf, b.budget)
	b.buf, b.bufIdx, b.bufPos = nil, b.bufIdx[:0], b.bufPos[:0]
	return nil
}

// stageContainer records name as staged when the batch is a
// compaction's (see stateStaged).
func (b *Batch) stageContainer(name string) error {
	if !b.stage {
		return nil
	}
	if err := b.s.stage(name); err != nil {
		return err
	}
	if b.staged == nil {
		b.staged = map[string]bool{}
	}
	b.staged[name] = true
	return nil
}

func (b *Batch) push(it pending) {
	b.index[it.ref.SHA256] = len(b.items)
	b.items = append(b.items, it)
	b.bytes += it.ref.Size
	b.dirty = true
}

// maxUploads bounds the pack objects a batch uploads at once (each holds
// its body in memory).
const maxUploads = 1

// upload is one pack object on its way to S3.
type upload struct {
	done chan struct{}
	err  error
}

// upload puts a pack object in the background, so the batch gathers the
// next items meanwhile; Sync waits for every upload. With maxUploads in
// flight it first waits for the oldest. body is a gather buffer: the upload
// gives it back to the memory budget when it ends.
func (b *Batch) upload(key string, body []byte) error {
	if len(b.uploads) >= maxUploads {
		if err := b.waitUploads(1); err != nil {
			return err
		}
	}
	u := &upload{done: make(chan struct{})}
	b.uploads = append(b.uploads, u)
	go func() {
		defer close(u.done)
		defer b.s.mem.putBuf(body, b.budget)
		ctx, cancel := context.WithTimeout(context.Background(), s3Timeout)
		defer cancel()
		u.err = b.s.s3.put(ctx, key, body)
	}()
	return nil
}

// waitUploads waits for the oldest n uploads (n < 0: all) and returns the
// first error.
func (b *Batch) waitUploads(n int) error {
	if n < 0 || n > len(b.uploads) {
		n = len(b.uploads)
	}
	var first error
	for _, u := range b.uploads[:n] {
		<-u.done
		if u.err != nil && first == nil {
			first = u.err
		}
	}
	b.uploads = b.uploads[n:]
	return first
}

// addLarge streams an item whose first bytes are in prefix and the rest in r.
func (b *Batch) addLarge(prefix []byte, r io.Reader) (Ref, error) {
	h := sha256.New()
	h.Write(prefix)
	switch b.s.backend {
	case Database:
		return b.spillTemp(h, prefix, r)
	case S3:
		return b.addLargeS3(h, prefix, r)
	}
	if b.private == nil || b.private.size >= b.s.packSize {
		p, err := b.s.w.newPrivate()
		if err != nil {
			return Ref{}, err
		}
		if err := b.stageContainer("pack:" + p.name); err != nil {
			p.failed = true
			b.privs = append(b.privs, p)
			return Ref{}, err
		}
		b.private = p
		b.privs = append(b.privs, p)
	}
	p := b.private
	start := p.size
	w := io.NewOffsetWriter(p.f, start)
	fail := func(err error) (Ref, error) {
		// The pack is private: cut the abandoned record off.
		if terr := p.f.Truncate(start); terr != nil {
			p.failed = true
			b.private = nil
		}
		p.size = start
		return Ref{}, err
	}
	if _, err := w.Write(zeroHeader[:]); err != nil {
		return fail(errs.Internalf(err, "write pack file %s", p.name))
	}
	if _, err := w.Write(prefix); err != nil {
		return fail(errs.Internalf(err, "write pack file %s", p.name))
	}
	cb := copyBufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.TeeReader(r, h), *cb)
	copyBufPool.Put(cb)
	if err != nil {
		if isWriteErr(err) {
			return fail(errs.Internalf(err, "write pack file %s", p.name))
		}
		return fail(err)
	}
	size := int64(len(prefix)) + n
	sum := h.Sum(nil)
	var hb [headerSize]byte
	putHeader(hb[:], size, sum)
	if _, err := p.f.WriteAt(hb[:], start); err != nil {
		return fail(errs.Internalf(err, "write pack file %s", p.name))
	}
	p.mu.Lock()
	p.size = start + headerSize + size
	p.mu.Unlock()
	ref := Ref{SHA256: hex.EncodeToString(sum), Size: size}
	if end := p.size; end > b.ends[p] {
		b.ends[p] = end
	}
	if _, ok := b.index[ref.SHA256]; ok {
		b.dirty = true // the duplicate's bytes are garbage, but harmless
		return ref, nil
	}
	b.push(pending{ref: ref, loc: packLocation(p.name, start+headerSize)})
	return ref, nil
}

// addLargeS3 streams a large item into an object of its own with a
// multipart upload.
func (b *Batch) addLargeS3(h hash.Hash, prefix []byte, r io.Reader) (Ref, error) {
	key := newObjectKey(s3LargePrefix)
	if err := b.stageContainer("s3:" + key); err != nil {
		return Ref{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s3Timeout)
	defer cancel()
	if b.budget {
		if err := b.s.mem.acquirePart(b.waitCtx); err != nil { // the multipart upload holds one part in memory
			return Ref{}, err
		}
		defer b.s.mem.releasePart()
	}
	size, err := b.s.s3.putStream(ctx, key, io.MultiReader(bytes.NewReader(prefix), io.TeeReader(r, h)))
	if err != nil {
		return Ref{}, err
	}
	ref := Ref{SHA256: hex.EncodeToString(h.Sum(nil)), Size: size}
	if _, ok := b.index[ref.SHA256]; ok {
		b.s.s3.remove(ctx, key) // never referenced: garbage now rather than later
		return ref, nil
	}
	b.objects["s3:"+key] = size
	b.push(pending{ref: ref, loc: s3Location(key, 0)})
	return ref, nil
}

// spillTemp streams a large item of the Database backend to a temp file.
func (b *Batch) spillTemp(h hash.Hash, prefix []byte, r io.Reader) (Ref, error) {
	f, err := os.CreateTemp("", "tenantferry-blob-*")
	if err != nil {
		return Ref{}, errs.Internalf(err, "create spill file")
	}
	os.Remove(f.Name()) // unlinked: vanishes with the handle
	if _, err := f.Write(prefix); err != nil {
		f.Close()
		return Ref{}, errs.Internalf(err, "write spill file")
	}
	n, err := io.Copy(f, io.TeeReader(r, h))
	if err != nil {
		f.Close()
		if isWriteErr(err) {
			return Ref{}, errs.Internalf(err, "write spill file")
		}
		return Ref{}, err
	}
	sum := h.Sum(nil)
	ref := Ref{SHA256: hex.EncodeToString(sum), Size: int64(len(prefix)) + n}
	if _, ok := b.index[ref.SHA256]; ok {
		f.Close()
		return ref, nil
	}
	b.temps = append(b.temps, f)
	b.push(pending{ref: ref, file: f})
	return ref, nil
}

// isWriteErr tells a failure of our own file from an error of the caller's
// reader, which io.Copy returns unchanged.
func isWriteErr(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) || errors.Is(err, io.ErrShortWrite)
}

// Sync makes every byte added so far durable: one fsync per pack file the
// batch wrote to (normally one), and skipped when a concurrent batch's fsync
// already covered them; with S3 the upload of the last pack object. With
// the Database backend it does nothing (the bytes become durable with the
// transaction).
func (b *Batch) Sync() error {
	if err := b.flushBuf(); err != nil {
		return err
	}
	if err := b.waitUploads(-1); err != nil {
		return err
	}
	for p, end := range b.ends {
		if err := p.sync(end); err != nil {
			return err
		}
	}
	b.dirty = false
	return nil
}

// maxBatchAge bounds the time between a batch's first write and its
// commit. Dead container rows are kept far longer (deadRowRetention), so a
// fence a batch could run into is never forgotten while it may commit.
const maxBatchAge = 24 * time.Hour

// Commit records the batch's refs in tx (blobs rows; with the Database
// backend also the bytes). A blob that is already stored keeps its
// location and has its GC clock refreshed. The containers the batch wrote
// to are registered first: if one of them was retired meanwhile
// (compaction), Commit fails with BlobContainerRetired and the caller
// retries with a new batch. Sync must have returned successfully after the
// last Add. Commit can be run again in a retried transaction.
func (b *Batch) Commit(ctx context.Context, tx *db.Tx) error {
	if err := b.precommit(ctx, tx); err != nil {
		return err
	}
	now := db.Now()
	// Insert in key order: concurrent batches sharing blobs then take the
	// unique-index locks in the same order and cannot deadlock.
	order := b.sorted()
	if b.s.backend == Database {
		for _, it := range order {
			if err := b.commitDB(ctx, tx, it, now); err != nil {
				return err
			}
		}
		return nil
	}
	const rows = 200
	for start := 0; start < len(order); start += rows {
		chunk := order[start:min(start+rows, len(order))]
		var q strings.Builder
		q.WriteString(`INSERT INTO blobs (sha256, size, location, container, created_at) VALUES `)
		args := make([]any, 0, 5*len(chunk))
		for i, it := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			args = append(args, it.ref.SHA256, it.ref.Size, it.loc, containerOf(it.loc), now)
		}
		q.WriteString(` ON CONFLICT (sha256) DO UPDATE SET created_at = excluded.created_at`)
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return errs.Internalf(err, "record blobs")
		}
	}
	return nil
}

// precommit checks the batch is synced and young enough, and registers
// its containers (the fence).
func (b *Batch) precommit(ctx context.Context, tx *db.Tx) error {
	if b.dirty {
		return errs.Internalf(errors.New("commit before sync"), "blob batch committed before its bytes were synced")
	}
	if len(b.items) == 0 {
		return nil
	}
	if time.Since(b.started) > maxBatchAge {
		return ErrContainerRetired.Newf("a blob batch started %s ago is too old to commit", time.Since(b.started).Round(time.Second)).
			WithHint("the write is retried with fresh bytes")
	}
	cs := map[string]int64{}
	for p := range b.ends {
		p.mu.Lock()
		cs["pack:"+p.name] = p.size
		p.mu.Unlock()
	}
	maps.Copy(cs, b.objects)
	if err := b.s.registerContainers(ctx, tx, cs, b.staged); err != nil {
		if errors.Is(err, ErrContainerRetired) {
			for p := range b.ends {
				p.mu.Lock()
				p.failed = true // never append to it again
				p.mu.Unlock()
			}
		}
		return err
	}
	return nil
}

func (b *Batch) sorted() []*pending {
	order := make([]*pending, len(b.items))
	for i := range b.items {
		order[i] = &b.items[i]
	}
	sort.Slice(order, func(i, j int) bool { return order[i].ref.SHA256 < order[j].ref.SHA256 })
	return order
}

func (b *Batch) commitDB(ctx context.Context, tx *db.Tx, it *pending, now int64) error {
	res, err := tx.ExecContext(ctx, `UPDATE blobs SET created_at = ? WHERE sha256 = ?`, now, it.ref.SHA256)
	if err != nil {
		return errs.Internalf(err, "record blob %s", it.ref.SHA256)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil // already stored
	}
	res, err = tx.ExecContext(ctx, `INSERT INTO blobs (sha256, size, location, container, created_at) VALUES (?, ?, ?, '', ?) ON CONFLICT (sha256) DO NOTHING`,
		it.ref.SHA256, it.ref.Size, locationDB, now)
	if err != nil {
		return errs.Internalf(err, "record blob %s", it.ref.SHA256)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // stored by a concurrent batch
	}
	var chunk []byte
	for seq := int64(0); seq == 0 || seq*dbChunkSize < it.ref.Size; seq++ {
		off := seq * dbChunkSize
		end := min(off+dbChunkSize, it.ref.Size)
		if it.file != nil {
			if chunk == nil {
				chunk = make([]byte, dbChunkSize)
			}
			if _, err := it.file.ReadAt(chunk[:end-off], off); err != nil {
				return errs.Internalf(err, "read spill file of blob %s", it.ref.SHA256)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_data (sha256, seq, data) VALUES (?, ?, ?)`, it.ref.SHA256, seq, chunk[:end-off]); err != nil {
				return errs.Internalf(err, "store blob %s", it.ref.SHA256)
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO blob_data (sha256, seq, data) VALUES (?, ?, ?)`, it.ref.SHA256, seq, it.data[off:end]); err != nil {
			return errs.Internalf(err, "store blob %s", it.ref.SHA256)
		}
	}
	return nil
}

// Close releases the batch: private pack handles, spill files, buffers.
// Bytes of a batch closed without Commit are garbage.
func (b *Batch) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	b.waitUploads(-1) // bytes of an uncommitted batch are garbage either way
	if b.buf != nil {
		b.s.mem.putBuf(b.buf, b.budget)
	}
	var first error
	for _, p := range b.privs {
		p.syncMu.Lock()
		if err := p.closeFile(); err != nil && first == nil {
			first = err
		}
		if p.size == 0 {
			// Every record was cut off (a refused write): nothing refers
			// to the file.
			os.Remove(filepath.Join(p.dir, p.name))
		}
		p.syncMu.Unlock()
		b.s.w.forget(p)
	}
	for _, f := range b.temps {
		f.Close()
	}
	b.items, b.index, b.ends, b.privs, b.temps, b.private, b.buf, b.objects = nil, nil, nil, nil, nil, nil, nil, nil
	return first
}
