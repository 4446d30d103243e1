package blobtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// Names are the backends of the matrix, in the order Backends runs them.
var Names = []string{"files", "db", "s3"}

// Env is one cell of the matrix: a fresh database and the options of a
// blob store on one backend.
type Env struct {
	// Name is files, db or s3.
	Name string
	// DB is the cell's database (SQLite or PostgreSQL).
	DB *db.DB
	// Options open a store on the backend (Open does it).
	Options blobstore.Options
	// Weed and Bucket are set for s3.
	Weed   *Weed
	Bucket string
}

// Backends runs f once per backend and available dialect, as subtests
// named BACKEND/DIALECT. base carries tuning (SpillSize, PackSize, ...);
// the helper fills in the backend, directory and S3 settings. The s3
// cells skip when SeaweedFS is not installed.
func Backends(t *testing.T, base blobstore.Options, f func(t *testing.T, e *Env)) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
				f(t, NewEnv(t, name, d, base))
			})
		})
	}
}

// NewEnv prepares one backend over d.
func NewEnv(t testing.TB, name string, d *db.DB, base blobstore.Options) *Env {
	t.Helper()
	e := &Env{Name: name, DB: d, Options: base}
	e.Options.S3 = nil // tuning of the s3 cell only
	e.Options.Dir = filepath.Join(t.TempDir(), "blobs")
	switch name {
	case "files":
		e.Options.Backend = blobstore.Pack
	case "db":
		e.Options.Backend = blobstore.Database
	case "s3":
		e.Weed = Start(t)
		e.Bucket = e.Weed.Bucket(t)
		e.Options.Backend = blobstore.S3
		s3 := blobstore.S3Options{}
		if base.S3 != nil {
			s3 = *base.S3
		}
		s3.Endpoint, s3.Bucket, s3.Region = e.Weed.Endpoint, e.Bucket, "us-east-1"
		s3.AccessKey, s3.SecretKey = AccessKey, SecretKey
		s3.CacheDir = filepath.Join(t.TempDir(), "s3cache")
		e.Options.S3 = &s3
	default:
		t.Fatalf("unknown blob backend %q", name)
	}
	return e
}

// Open opens a store on the cell's backend, closed when the test ends.
func (e *Env) Open(t testing.TB) *blobstore.Store {
	t.Helper()
	s, err := blobstore.New(e.DB, e.Options)
	if err != nil {
		t.Fatalf("open %s blob store: %v", e.Name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// StoredBytes measures the space the backend holds, from outside the
// store: the pack files' sizes on disk, the objects' sizes in the bucket,
// or the bytes in the blob_data table.
func (e *Env) StoredBytes(t testing.TB) int64 {
	t.Helper()
	switch e.Name {
	case "files":
		var n int64
		ents, err := os.ReadDir(e.Options.Dir)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, de := range ents {
			if fi, err := de.Info(); err == nil {
				n += fi.Size()
			}
		}
		return n
	case "s3":
		_, n := e.Weed.BucketBytes(t, e.Bucket)
		return n
	}
	var n int64
	if err := e.DB.Read().QueryRowContext(context.Background(), `SELECT COALESCE(SUM(LENGTH(data)), 0) FROM blob_data`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
