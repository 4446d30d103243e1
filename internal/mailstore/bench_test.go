package mailstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailstore"
)

// The 100k-item fixture is shared by the benchmarks of one dialect and torn
// down in TestMain, so building it is never timed.
const fixtureItems = 100_000

type fixture struct {
	s      *mailstore.Store
	mb     *mailstore.Mailbox
	folder *mailstore.Folder
}

var (
	fixMu    sync.Mutex
	fixtures = map[db.Dialect]*fixture{}
	cleanups []func()
)

func TestMain(m *testing.M) {
	code := blobtest.Main(m)
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// openBenchDB opens a fresh database that outlives a single benchmark.
func openBenchDB(dialect db.Dialect) (*db.DB, string, error) {
	dir, err := os.MkdirTemp("", "mailstore-bench-")
	if err != nil {
		return nil, "", err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	dsn := ""
	if dialect == db.Postgres {
		base := os.Getenv(dbtest.EnvPostgres)
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return nil, "", err
		}
		var rb [6]byte
		rand.Read(rb[:])
		schema := "tfb_" + hex.EncodeToString(rb[:])
		if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
			admin.Close()
			return nil, "", err
		}
		cleanups = append(cleanups, func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() })
		u, err := url.Parse(base)
		if err != nil {
			return nil, "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	d, err := db.Open(context.Background(), db.Options{DSN: dsn, DataDir: dir})
	if err != nil {
		return nil, "", err
	}
	cleanups = append(cleanups, func() { d.Close() })
	return d, dir, nil
}

// getFixture returns the dialect's mailbox with 100,000 small items in one
// folder (about half \Seen), built through the batch append path.
func getFixture(b *testing.B, dialect db.Dialect) *fixture {
	b.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	if f := fixtures[dialect]; f != nil {
		return f
	}
	start := time.Now()
	d, dir, err := openBenchDB(dialect)
	if err != nil {
		b.Fatal(err)
	}
	bs, err := blobstore.New(d, blobstore.Options{Dir: filepath.Join(dir, "blobs")})
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, func() { bs.Close() })
	s := mailstore.New(d, bs)
	mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
	if err != nil {
		b.Fatal(err)
	}
	inbox := mustFolder(b, s, mb.ID, "INBOX")
	for n := 0; n < fixtureItems; {
		batch := s.NewAppendBatch(mb.ID)
		for i := 0; i < 2000 && n < fixtureItems; i, n = i+1, n+1 {
			var flags []string
			if n%2 == 0 {
				flags = []string{mailstore.FlagSeen}
			}
			if err := batch.Add(bg, mailstore.AppendItem{FolderID: inbox.ID, Content: bytes.NewReader([]byte(msg(n))), Flags: flags,
				InternalDate: time.Unix(1600000000+int64(n), 0)}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := batch.Commit(bg, nil); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	b.Logf("%s fixture: %d items built in %v", dialect, fixtureItems, time.Since(start).Round(time.Millisecond))
	f := &fixture{s: s, mb: mb, folder: inbox}
	fixtures[dialect] = f
	return f
}

// benchDialects runs f as a sub-benchmark per available dialect.
func benchDialects(b *testing.B, f func(b *testing.B, dialect db.Dialect)) {
	b.Run("sqlite", func(b *testing.B) { f(b, db.SQLite) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			b.Skip("set " + dbtest.EnvPostgres + " to benchmark PostgreSQL")
		}
		f(b, db.Postgres)
	})
}

// BenchmarkSelect100k measures what IMAP SELECT calls: a consistent
// snapshot of a 100,000-message folder (UIDs, flags, MODSEQs, counts).
func BenchmarkSelect100k(b *testing.B) {
	benchDialects(b, func(b *testing.B, dialect db.Dialect) {
		fx := getFixture(b, dialect)
		for b.Loop() {
			snap, err := fx.s.Select(bg, fx.mb.ID, fx.folder.ID)
			if err != nil {
				b.Fatal(err)
			}
			if len(snap.Messages) != fixtureItems || snap.Unseen != fixtureItems/2 {
				b.Fatalf("snapshot has %d messages, %d unseen", len(snap.Messages), snap.Unseen)
			}
		}
	})
}

// BenchmarkChangesSinceNoop100k measures a no-change incremental pass over
// the 100,000-item mailbox: HighestModSeq, then ItemChanges, Tombstones and
// FolderChanges since it (all empty).
func BenchmarkChangesSinceNoop100k(b *testing.B) {
	benchDialects(b, func(b *testing.B, dialect db.Dialect) {
		fx := getFixture(b, dialect)
		for b.Loop() {
			m, err := fx.s.HighestModSeq(bg, fx.mb.ID)
			if err != nil {
				b.Fatal(err)
			}
			items, _, err := fx.s.ItemChanges(bg, fx.mb.ID, mailstore.Cursor{ModSeq: m}, m, 1000)
			if err != nil {
				b.Fatal(err)
			}
			ts, _, err := fx.s.Tombstones(bg, fx.mb.ID, mailstore.Cursor{ModSeq: m}, m, 1000)
			if err != nil {
				b.Fatal(err)
			}
			fs, err := fx.s.FolderChanges(bg, fx.mb.ID, m)
			if err != nil {
				b.Fatal(err)
			}
			if len(items)+len(ts)+len(fs) != 0 {
				b.Fatal("changes in a no-change pass")
			}
		}
	})
}

// BenchmarkAppendBatch measures the batch write path with fsync: each
// operation streams one batch to the blob store, fsyncs it once and commits
// one transaction. MB/s counts message bytes.
func BenchmarkAppendBatch(b *testing.B) {
	for _, c := range []struct {
		name  string
		size  int
		items int
	}{{"8KiBx500", 8 << 10, 500}, {"1MiBx16", 1 << 20, 16}} {
		b.Run(c.name, func(b *testing.B) {
			// The reference: the same bytes appended to one plain file with
			// one fsync per batch (the disk's limit for this write pattern).
			b.Run("raw-file-fsync", func(b *testing.B) {
				f, err := os.Create(filepath.Join(b.TempDir(), "raw"))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				buf := make([]byte, c.size)
				rand.Read(buf)
				b.SetBytes(int64(c.size * c.items))
				for b.Loop() {
					for i := 0; i < c.items; i++ {
						if _, err := f.Write(buf); err != nil {
							b.Fatal(err)
						}
					}
					if err := f.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			})
			benchDialects(b, func(b *testing.B, dialect db.Dialect) {
				d := dbtest.Open(b, dialect)
				s := newStore(b, d)
				mb, err := s.CreateMailbox(bg, mailstore.NewMailbox{TenantID: tenantA, GUID: guid1, DefaultFolders: true})
				if err != nil {
					b.Fatal(err)
				}
				inbox := mustFolder(b, s, mb.ID, "INBOX")
				// Distinct bodies (content addressing would dedupe repeats).
				bodies := make([][]byte, c.items)
				for i := range bodies {
					head := fmt.Sprintf("Subject: bench %d\r\nMessage-ID: <b%d@bench.test>\r\n\r\n", i, i)
					body := make([]byte, c.size-len(head))
					rand.Read(body)
					bodies[i] = append([]byte(head), body...)
				}
				b.SetBytes(int64(c.size * c.items))
				round := 0
				for b.Loop() {
					round++
					batch := s.NewAppendBatch(mb.ID)
					for i, m := range bodies {
						m[len(m)-1] = byte(round) // new content each round
						m[len(m)-2] = byte(round >> 8)
						if err := batch.Add(bg, mailstore.AppendItem{FolderID: inbox.ID, Content: bytes.NewReader(m), Origin: fmt.Sprintf("r%d-%d", round, i)}); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := batch.Commit(bg, nil); err != nil {
						b.Fatal(err)
					}
					batch.Close()
				}
			})
		})
	}
}

// BenchmarkReuseLookupPage measures what the replication engine asks per
// page of 1,000 listed items to decide which need their bytes: since issue
// 7 (hole 1), one HeldContent call (content this mailbox's tenant holds);
// before, one blob-store lookup per item (content anyone holds), kept here
// as the reference. Half the hashes are in the 100k fixture.
func BenchmarkReuseLookupPage(b *testing.B) {
	benchDialects(b, func(b *testing.B, dialect db.Dialect) {
		f := getFixture(b, dialect)
		if dialect == db.Postgres {
			// Current statistics, as autovacuum keeps them on a live server
			// (the fixture's bulk load outruns it).
			if _, err := f.s.DB().W.ExecContext(bg, `ANALYZE items`); err != nil {
				b.Fatal(err)
			}
		}
		shas := make([]string, 1000)
		for i := range shas {
			if i%2 == 0 {
				s := sha256.Sum256([]byte(msg(i * 50)))
				shas[i] = hex.EncodeToString(s[:])
			} else {
				shas[i] = fmt.Sprintf("%064x", i)
			}
		}
		b.Run("held-content", func(b *testing.B) {
			for b.Loop() {
				held, err := f.s.HeldContent(bg, f.mb.ID, shas)
				if err != nil || len(held) != 500 {
					b.Fatalf("%d held, %v", len(held), err)
				}
			}
		})
		b.Run("per-item-has", func(b *testing.B) {
			for b.Loop() {
				n := 0
				for _, s := range shas {
					ok, err := f.s.Blobs().Has(bg, f.s.DB().Read(), s)
					if err != nil {
						b.Fatal(err)
					}
					if ok {
						n++
					}
				}
				if n != 500 {
					b.Fatalf("%d present", n)
				}
			}
		})
	})
}
