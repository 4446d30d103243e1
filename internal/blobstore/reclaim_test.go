package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
)

// referrer is a test referrer: the set of blobs "rows" reference.
type referrer map[string]bool

func (r referrer) f(_ context.Context, _ db.Querier, shas []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range shas {
		if r[s] {
			out[s] = true
		}
	}
	return out, nil
}

// withContainers runs f on the backends with containers (files, s3) with
// an open store whose only referrer is refs.
func withContainers(t *testing.T, opts blobstore.Options, f func(t *testing.T, e *blobtest.Env, s *blobstore.Store, refs referrer)) {
	blobtest.Backends(t, opts, func(t *testing.T, e *blobtest.Env) {
		if e.Name == "db" {
			t.Skip("the database backend has no containers")
		}
		s := e.Open(t)
		refs := referrer{}
		s.AddReferrer("test", refs.f)
		f(t, e, s, refs)
	})
}

// later is a GC clock past every grace period of the test.
var later = time.Now().Add(48 * time.Hour)

func gcNow(t *testing.T, s *blobstore.Store) *blobstore.GCResult {
	t.Helper()
	res, err := s.GC(context.Background(), blobstore.GCOptions{Now: later, ReaderGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("GC errors: %v", res.Errors)
	}
	return res
}

func message(i, size int) []byte {
	b := bytes.Repeat([]byte(fmt.Sprintf("Subject: m%d\r\n\r\n", i)), 1)
	for len(b) < size {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b
}

// TestReclaimSpace is the compaction acceptance test on every backend:
// after most items are no longer referenced, GC deletes their rows and
// compaction rewrites the containers, and the bytes on disk, in the
// bucket or in the database shrink to about the live items, which stay
// byte-exact.
func TestReclaimSpace(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{SpillSize: 64 << 10, PackAge: time.Minute,
		S3: &blobstore.S3Options{ObjectSize: 256 << 10}}, func(t *testing.T, e *blobtest.Env) {
		ctx := context.Background()
		s := e.Open(t)
		refs := referrer{}
		s.AddReferrer("test", refs.f)
		var all [][]byte
		for round := 0; round < 4; round++ {
			b := s.NewBatch()
			for i := 0; i < 150; i++ {
				all = append(all, message(round*1000+i, 2000+i*13))
			}
			all = append(all, message(round*1000+999, 200<<10)) // a large item
			for _, m := range all[len(all)-151:] {
				ref, err := b.Add(bytes.NewReader(m))
				if err != nil {
					t.Fatal(err)
				}
				refs[ref.SHA256] = true
			}
			commit(t, e.DB, b)
			b.Close()
		}
		before := e.StoredBytes(t)
		var total int64
		for _, m := range all {
			total += int64(len(m))
		}
		if before < total {
			t.Fatalf("stored %d bytes for %d bytes of items", before, total)
		}
		// Nothing is collected while everything is referenced.
		res := gcNow(t, s)
		if res.BlobsDeleted != 0 {
			t.Fatalf("GC deleted %d referenced blobs", res.BlobsDeleted)
		}
		// Keep one item in ten.
		var keep [][]byte
		var kept int64
		for i, m := range all {
			if i%10 == 0 {
				keep = append(keep, m)
				kept += int64(len(m))
				continue
			}
			delete(refs, hexsum(m))
		}
		res = gcNow(t, s)
		if res.BlobsDeleted != int64(len(all)-len(keep)) {
			t.Fatalf("GC deleted %d blobs, want %d (%+v)", res.BlobsDeleted, len(all)-len(keep), res)
		}
		after := e.StoredBytes(t)
		t.Logf("%s: %d bytes of items, %d kept; stored %d bytes before, %d after (%+v)", e.Name, total, kept, before, after, res)
		if after > kept+kept/2+64<<10 {
			t.Fatalf("space not reclaimed: %d bytes stored for %d live bytes", after, kept)
		}
		for _, m := range keep {
			if got := readAll(t, s, hexsum(m)); !bytes.Equal(got, m) {
				t.Fatalf("kept item of %d bytes differs after compaction", len(m))
			}
		}
		for i, m := range all {
			if i%10 == 0 {
				continue
			}
			if _, err := s.Open(ctx, hexsum(m)); !errors.Is(err, blobstore.ErrBlobMissing) {
				t.Fatalf("collected blob opens: %v", err)
			}
			break
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Blobs != int64(len(keep)) || st.BlobBytes != kept {
			t.Fatalf("stats %+v, want %d blobs of %d bytes", st, len(keep), kept)
		}
		// A second round finds nothing more to do.
		res = gcNow(t, s)
		if res.BlobsDeleted != 0 || res.ContainersCompacted != 0 || res.BytesReclaimed != 0 {
			t.Fatalf("second GC round did work: %+v", res)
		}
	})
}

// TestGCGraceAndReference: a blob younger than the grace period is never
// collected, and Reference renews it; a referenced blob that GC deleted
// cannot be referenced again (the writer learns it and nothing commits).
func TestGCGraceAndReference(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{}, func(t *testing.T, e *blobtest.Env) {
		ctx := context.Background()
		s := e.Open(t)
		b := s.NewBatch()
		ref, err := b.Add(bytes.NewReader([]byte("orphan in waiting")))
		if err != nil {
			t.Fatal(err)
		}
		commit(t, e.DB, b)
		b.Close()
		res, err := s.GC(ctx, blobstore.GCOptions{})
		if err != nil || res.BlobsDeleted != 0 {
			t.Fatalf("young blob collected: %+v %v", res, err)
		}
		// Reference renews the GC clock: one hour later it is still young.
		if err := e.DB.Write(ctx, func(tx *db.Tx) error { return s.Reference(ctx, tx, []string{ref.SHA256}) }); err != nil {
			t.Fatal(err)
		}
		res, err = s.GC(ctx, blobstore.GCOptions{Now: time.Now().Add(59 * time.Minute)})
		if err != nil || res.BlobsDeleted != 0 {
			t.Fatalf("referenced blob collected: %+v %v", res, err)
		}
		gcNow(t, s)
		err = e.DB.Write(ctx, func(tx *db.Tx) error { return s.Reference(ctx, tx, []string{ref.SHA256}) })
		if !errors.Is(err, blobstore.ErrBlobMissing) {
			t.Fatalf("reference of a collected blob: %v", err)
		}
	})
}

// TestCommitFencedByCompaction: a writer whose bytes went into a container
// that compaction retired before the writer committed gets
// BlobContainerRetired, commits nothing, and succeeds with a new batch.
func TestCommitFencedByCompaction(t *testing.T) {
	withContainers(t, blobstore.Options{PackAge: time.Minute, S3: &blobstore.S3Options{ObjectSize: 1 << 20}}, func(t *testing.T, e *blobtest.Env, s *blobstore.Store, refs referrer) {
		ctx := context.Background()
		// A committed container with mostly dead bytes, and a slow writer
		// that wrote into the same shared pack (files) before compaction.
		b1 := s.NewBatch()
		var dead []string
		for i := 0; i < 20; i++ {
			r, _ := b1.Add(bytes.NewReader(message(i, 5000)))
			dead = append(dead, r.SHA256)
		}
		live, _ := b1.Add(bytes.NewReader(message(99, 5000)))
		refs[live.SHA256] = true
		commit(t, e.DB, b1)
		b1.Close()
		slow := s.NewBatch()
		defer slow.Close()
		slowRef, err := slow.Add(bytes.NewReader(message(500, 3000)))
		if err != nil {
			t.Fatal(err)
		}
		if err := slow.Sync(); err != nil {
			t.Fatal(err)
		}
		if e.Name == "s3" {
			// S3 objects are per batch: fence the slow writer's object as
			// an orphan (it is older than the orphan grace at "later").
			gcNow(t, s)
		} else {
			res := gcNow(t, s)
			if res.ContainersCompacted == 0 {
				t.Fatalf("nothing compacted: %+v", res)
			}
		}
		err = e.DB.Write(ctx, func(tx *db.Tx) error { return slow.Commit(ctx, tx) })
		if !errors.Is(err, blobstore.ErrContainerRetired) {
			t.Fatalf("commit into a retired container: %v", err)
		}
		if has, _ := s.Has(ctx, e.DB.Read(), slowRef.SHA256); has {
			t.Fatal("a fenced commit left a blob row")
		}
		retry := s.NewBatch()
		defer retry.Close()
		if _, err := retry.Add(bytes.NewReader(message(500, 3000))); err != nil {
			t.Fatal(err)
		}
		commit(t, e.DB, retry)
		if got := readAll(t, s, slowRef.SHA256); !bytes.Equal(got, message(500, 3000)) {
			t.Fatal("retried write differs")
		}
		if got := readAll(t, s, live.SHA256); !bytes.Equal(got, message(99, 5000)) {
			t.Fatal("live blob differs after compaction")
		}
	})
}

// TestOrphansRemoved: bytes written and made durable but never committed
// (a crash between Sync and Commit) are removed after the orphan grace.
func TestOrphansRemoved(t *testing.T) {
	blobtest.Backends(t, blobstore.Options{SpillSize: 8 << 10}, func(t *testing.T, e *blobtest.Env) {
		if e.Name == "db" {
			t.Skip("the database backend writes bytes in the transaction")
		}
		s := e.Open(t)
		b := s.NewBatch()
		for i := 0; i < 5; i++ {
			if _, err := b.Add(bytes.NewReader(message(i, 3000+i*20000))); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		b.Close()
		s.Close() // the "crashed" process
		if e.StoredBytes(t) == 0 {
			t.Fatal("nothing written")
		}
		s2 := e.Open(t)
		res := gcNow(t, s2)
		if res.OrphansDeleted == 0 {
			t.Fatalf("no orphan removed: %+v", res)
		}
		if n := e.StoredBytes(t); n != 0 {
			t.Fatalf("%d bytes left after orphan removal", n)
		}
	})
}

// TestReadAcrossCompaction: a blob opened before compaction moved it and
// deleted its container reads to the end, byte-exact.
func TestReadAcrossCompaction(t *testing.T) {
	withContainers(t, blobstore.Options{SpillSize: 16 << 10, PackAge: time.Minute,
		S3: &blobstore.S3Options{ObjectSize: 64 << 10, PartSize: 5 << 20}}, func(t *testing.T, e *blobtest.Env, s *blobstore.Store, refs referrer) {
		ctx := context.Background()
		b := s.NewBatch()
		var kept []byte
		for i := 0; i < 30; i++ {
			m := message(i, 1500)
			r, _ := b.Add(bytes.NewReader(m))
			if i == 7 {
				refs[r.SHA256], kept = true, m
			}
		}
		commit(t, e.DB, b)
		b.Close()
		bl, err := s.Open(ctx, hexsum(kept))
		if err != nil {
			t.Fatal(err)
		}
		defer bl.Close()
		head := make([]byte, 10)
		if _, err := io.ReadFull(bl, head); err != nil {
			t.Fatal(err)
		}
		res := gcNow(t, s)
		if res.ContainersCompacted == 0 || res.ContainersDeleted == 0 {
			t.Fatalf("container not compacted and deleted: %+v", res)
		}
		rest, err := io.ReadAll(bl)
		if err != nil {
			t.Fatal(err)
		}
		if got := append(head, rest...); !bytes.Equal(got, kept) {
			t.Fatal("read across compaction differs")
		}
	})
}

// TestAbandonedCompactionReclaimed: the copies of a compaction that died
// between writing its containers and relocating into them (kill -9) are
// deleted by the next round, without waiting for the orphan grace; and a
// relocation that comes after its staged containers were fenced fails
// rather than pointing rows into a container about to be deleted.
func TestAbandonedCompactionReclaimed(t *testing.T) {
	withContainers(t, blobstore.Options{SpillSize: 8 << 10, S3: &blobstore.S3Options{ObjectSize: 64 << 10, PartSize: 5 << 20}},
		func(t *testing.T, e *blobtest.Env, s *blobstore.Store, refs referrer) {
			ctx := context.Background()
			b := s.NewCompactionBatch()
			small := 3000 // S3: small items go to staged pack objects
			if e.Name == "files" {
				small = 9000 // small items would go to the shared pack, which is not the compaction's
			}
			for i := 0; i < 40; i++ {
				if _, err := b.Add(bytes.NewReader(message(i, small+(i%4)*10000))); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
			written := e.StoredBytes(t)
			if written == 0 {
				t.Fatal("nothing written")
			}
			// A round whose grace covers the batch leaves it alone.
			res, err := s.GC(ctx, blobstore.GCOptions{ReaderGrace: -1})
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("GC: %v %v", err, res.Errors)
			}
			if n := e.StoredBytes(t); n != written {
				t.Fatalf("a young compaction's copies were touched: %d → %d bytes", written, n)
			}
			// Past the grace, the round fences and deletes them (the
			// orphan grace, a day, has not passed).
			res, err = s.GC(ctx, blobstore.GCOptions{Grace: -1, ReaderGrace: -1})
			if err != nil || len(res.Errors) > 0 {
				t.Fatalf("GC: %v %v", err, res.Errors)
			}
			if res.ContainersDeleted == 0 || res.OrphansDeleted != 0 {
				t.Fatalf("abandoned compaction copies not deleted as retired containers: %+v", res)
			}
			if n := e.StoredBytes(t); n != 0 {
				t.Fatalf("%d of %d bytes left after the round", n, written)
			}
			err = e.DB.Write(ctx, func(tx *db.Tx) error { return b.Commit(ctx, tx) })
			if !errors.Is(err, blobstore.ErrContainerRetired) {
				t.Fatalf("commit into fenced staged containers: %v, want BlobContainerRetired", err)
			}
			b.Close()
		})
}
