package blobstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

func hexsum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestMain(m *testing.M) { os.Exit(blobtest.Main(m)) }

// eachBackend runs f for every backend (files, db, s3) on every available
// dialect.
func eachBackend(t *testing.T, opts blobstore.Options, f func(t *testing.T, d *db.DB, s *blobstore.Store)) {
	blobtest.Backends(t, opts, func(t *testing.T, e *blobtest.Env) {
		f(t, e.DB, e.Open(t))
	})
}

func commit(t *testing.T, d *db.DB, b *blobstore.Batch) {
	t.Helper()
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(context.Background(), func(tx *db.Tx) error { return b.Commit(context.Background(), tx) }); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, s *blobstore.Store, sha string) []byte {
	t.Helper()
	bl, err := s.Open(context.Background(), sha)
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	got, err := io.ReadAll(bl)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != bl.Size() {
		t.Fatalf("size %d, read %d", bl.Size(), len(got))
	}
	return got
}

func TestBatchRoundTrip(t *testing.T) {
	// A small spill size makes the large-item (streamed) path run too.
	eachBackend(t, blobstore.Options{SpillSize: 4096, PackSize: 64 << 10}, func(t *testing.T, d *db.DB, s *blobstore.Store) {
		ctx := context.Background()
		var items [][]byte
		items = append(items, []byte{}, []byte("a\r\nb\x00c\rd\n"), bytes.Repeat([]byte("x"), 4096), bytes.Repeat([]byte("y"), 4097))
		big := make([]byte, 3<<20+17) // several DB chunks, several pack rolls
		for i := range big {
			big[i] = byte(i * 7)
		}
		items = append(items, big)
		for i := 0; i < 50; i++ {
			items = append(items, []byte(fmt.Sprintf("message %d\r\n", i)))
		}
		b := s.NewBatch()
		defer b.Close()
		for _, it := range items {
			ref, err := b.Add(bytes.NewReader(it))
			if err != nil {
				t.Fatal(err)
			}
			if ref.SHA256 != hexsum(it) || ref.Size != int64(len(it)) {
				t.Fatalf("ref %+v for %d bytes", ref, len(it))
			}
		}
		// Adding the same bytes again is a no-op.
		if _, err := b.Add(bytes.NewReader(items[1])); err != nil {
			t.Fatal(err)
		}
		if b.Len() != len(items) {
			t.Fatalf("len %d, want %d", b.Len(), len(items))
		}
		if has, _ := s.Has(ctx, d.Read(), hexsum(items[1])); has {
			t.Fatal("blob visible before commit")
		}
		if err := d.Write(ctx, func(tx *db.Tx) error { return b.Commit(ctx, tx) }); err == nil {
			t.Fatal("commit before sync accepted")
		}
		commit(t, d, b)
		// A committed batch can be committed again (retried transaction).
		if err := d.Write(ctx, func(tx *db.Tx) error { return b.Commit(ctx, tx) }); err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if has, err := s.Has(ctx, d.Read(), hexsum(it)); err != nil || !has {
				t.Fatalf("has=%v err=%v", has, err)
			}
			if got := readAll(t, s, hexsum(it)); !bytes.Equal(got, it) {
				t.Fatalf("content of %d-byte item differs", len(it))
			}
		}
		// ReadAt across chunk boundaries.
		bl, err := s.Open(ctx, hexsum(big))
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 100)
		if _, err := bl.ReadAt(p, 1<<20-50); err != nil || !bytes.Equal(p, big[1<<20-50:1<<20+50]) {
			t.Fatalf("ReadAt: %v", err)
		}
		bl.Close()
	})
}

func TestMissingAndUncommitted(t *testing.T) {
	eachBackend(t, blobstore.Options{}, func(t *testing.T, d *db.DB, s *blobstore.Store) {
		ctx := context.Background()
		b := s.NewBatch()
		ref, err := b.Add(bytes.NewReader([]byte("never committed")))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		b.Close() // crash before the database commit
		_, err = s.Open(ctx, ref.SHA256)
		if !errors.Is(err, blobstore.ErrBlobMissing) {
			t.Fatalf("want BlobMissing, got %v", err)
		}
		if e := errs.As(err); e.Kind != errs.NotFound || e.Hint == "" {
			t.Fatalf("bad error %+v", e)
		}
	})
}

type failingReader struct{ n int }

var errSource = errors.New("source went away")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errSource
	}
	n := min(len(p), f.n)
	for i := range p[:n] {
		p[i] = 'z'
	}
	f.n -= n
	return n, nil
}

func TestReaderErrorAbandonsItem(t *testing.T) {
	eachBackend(t, blobstore.Options{SpillSize: 1024}, func(t *testing.T, d *db.DB, s *blobstore.Store) {
		b := s.NewBatch()
		defer b.Close()
		for _, n := range []int{10, 5000} {
			if _, err := b.Add(&failingReader{n: n}); !errors.Is(err, errSource) {
				t.Fatalf("want the reader's error, got %v", err)
			}
		}
		if b.Len() != 0 {
			t.Fatalf("abandoned items counted: %d", b.Len())
		}
		want := bytes.Repeat([]byte("after"), 1000)
		ref, err := b.Add(bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		commit(t, d, b)
		if got := readAll(t, s, ref.SHA256); !bytes.Equal(got, want) {
			t.Fatal("item after an abandoned one is corrupt")
		}
	})
}

func TestConcurrentBatches(t *testing.T) {
	eachBackend(t, blobstore.Options{SpillSize: 2048, PackSize: 32 << 10}, func(t *testing.T, d *db.DB, s *blobstore.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errc := make(chan error, 8)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for round := 0; round < 5; round++ {
					b := s.NewBatch()
					var want [][]byte
					for i := 0; i < 20; i++ {
						m := bytes.Repeat([]byte(fmt.Sprintf("w%d r%d i%d|", w, round, i)), 1+i*20)
						want = append(want, m)
						if _, err := b.Add(bytes.NewReader(m)); err != nil {
							errc <- err
							return
						}
					}
					if err := b.Sync(); err != nil {
						errc <- err
						return
					}
					if err := d.Write(ctx, func(tx *db.Tx) error { return b.Commit(ctx, tx) }); err != nil {
						errc <- err
						return
					}
					b.Close()
					for _, m := range want {
						bl, err := s.Open(ctx, hexsum(m))
						if err != nil {
							errc <- err
							return
						}
						got, _ := io.ReadAll(bl)
						bl.Close()
						if !bytes.Equal(got, m) {
							errc <- fmt.Errorf("worker %d: content differs", w)
							return
						}
					}
				}
			}(w)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
	})
}

func TestPackFilesAreSelfDescribing(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	s, err := blobstore.New(d, blobstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := s.NewBatch()
	defer b.Close()
	msg := []byte("Subject: hi\r\n\r\nbody\r\n")
	if _, err := b.Add(bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	commit(t, d, b)
	packs, _ := filepath.Glob(filepath.Join(dir, "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	raw, _ := os.ReadFile(packs[0])
	if string(raw[:4]) != "TFB1" || !bytes.Equal(raw[44:], msg) || hex.EncodeToString(raw[12:44]) != hexsum(msg) {
		t.Fatalf("unexpected pack layout % x", raw[:44])
	}
	// A second store (another process) writes to its own pack file.
	s2, err := blobstore.New(d, blobstore.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	b2 := s2.NewBatch()
	defer b2.Close()
	if _, err := b2.Add(bytes.NewReader([]byte("other node"))); err != nil {
		t.Fatal(err)
	}
	commit(t, d, b2)
	packs, _ = filepath.Glob(filepath.Join(dir, "*.pack"))
	if len(packs) != 2 {
		t.Fatalf("packs after second writer: %v", packs)
	}
	// Each store reads the other's blobs.
	if got := readAll(t, s2, hexsum(msg)); !bytes.Equal(got, msg) {
		t.Fatal("cross-store read differs")
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// twoBufferStore opens a pack store on SQLite whose memory budget holds
// two gather buffers.
func twoBufferStore(t *testing.T) (*db.DB, *blobstore.Store) {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	probe, err := blobstore.New(d, blobstore.Options{Backend: blobstore.Pack, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	bufCap := probe.GatherBufCap()
	probe.Close()
	s, err := blobstore.New(d, blobstore.Options{Backend: blobstore.Pack, Dir: t.TempDir(), MemoryBudget: 2 * bufCap})
	if err != nil {
		t.Fatal(err)
	}
	return d, s
}

// TestBudgetWaitEndsWithContext: an Add waiting for room in the memory
// budget returns when its batch's context ends (a stopped or handed-over
// pass), with the context's cause, and holds nothing afterwards.
func TestBudgetWaitEndsWithContext(t *testing.T) {
	_, s := twoBufferStore(t)
	defer s.Close()
	for i := range 2 {
		b := s.NewBudgetedBatch(context.Background())
		defer b.Close()
		if _, err := b.Add(bytes.NewReader([]byte(fmt.Sprintf("item %d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	stopped := errors.New("the pass was stopped")
	ctx, cancel := context.WithCancelCause(context.Background())
	waiting := s.NewBudgetedBatch(ctx)
	defer waiting.Close()
	added := make(chan error, 1)
	go func() {
		_, err := waiting.Add(bytes.NewReader([]byte("item 2")))
		added <- err
	}()
	wait.For(t, 10*time.Second, "the third batch to wait for a buffer", func() error {
		if n := s.GatherWaiting(); n != 1 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	})
	cancel(stopped)
	select {
	case err := <-added:
		if !errors.Is(err, stopped) {
			t.Fatalf("Add after the context ended: %v, want the context's cause", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Add still waits for a buffer 10 s after its context ended")
	}
	if n := s.GatherWaiting(); n != 0 {
		t.Fatalf("%d still waiting", n)
	}
}

// TestBatchesShareMemoryBudget: budgeted write batches take their gather
// buffers from the store's budget, so with room for two a third batch's
// Add waits until one of the others writes its records out; a batch out
// of budget never waits.
func TestBatchesShareMemoryBudget(t *testing.T) {
	d, s := twoBufferStore(t)
	defer s.Close()
	var batches []*blobstore.Batch
	for i := range 3 {
		b := s.NewBudgetedBatch(context.Background())
		defer b.Close()
		batches = append(batches, b)
		if i < 2 {
			if _, err := b.Add(bytes.NewReader([]byte(fmt.Sprintf("item %d", i)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	added := make(chan error, 1)
	go func() {
		_, err := batches[2].Add(bytes.NewReader([]byte("item 2")))
		added <- err
	}()
	wait.For(t, 10*time.Second, "the third batch to wait for a buffer", func() error {
		if n := s.GatherWaiting(); n != 1 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	})
	select {
	case err := <-added:
		t.Fatalf("the third batch added an item while two buffers were held (err %v)", err)
	default:
	}
	free := s.NewBatch()
	defer free.Close()
	if _, err := free.Add(bytes.NewReader([]byte("free item"))); err != nil {
		t.Fatal(err)
	}
	commit(t, d, free)
	commit(t, d, batches[0]) // Sync writes its records out and gives its buffer back
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	commit(t, d, batches[2])
	if got := readAll(t, s, hexsum([]byte("item 2"))); string(got) != "item 2" {
		t.Fatalf("read %q", got)
	}
}
