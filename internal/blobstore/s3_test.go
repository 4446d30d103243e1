package blobstore_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/tenantferry/tenantferry/internal/blobstore"
	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

func s3Env(t *testing.T, opts blobstore.Options) *blobtest.Env {
	return blobtest.NewEnv(t, "s3", dbtest.Open(t, db.SQLite), opts)
}

// TestS3PacksSmallItems: 10,000 small messages written in the engine's
// chunks of 2,000 are a handful of pack objects, not 10,000 PUTs, and each
// pack object carries an index of its records.
func TestS3PacksSmallItems(t *testing.T) {
	e := s3Env(t, blobstore.Options{})
	s := e.Open(t)
	var shas []string
	for chunk := 0; chunk < 5; chunk++ {
		b := s.NewBatch()
		for i := 0; i < 2000; i++ {
			ref, err := b.Add(bytes.NewReader(message(chunk*2000+i, 1500)))
			if err != nil {
				t.Fatal(err)
			}
			shas = append(shas, ref.SHA256)
		}
		commit(t, e.DB, b)
		b.Close()
	}
	objects, size := e.Weed.BucketBytes(t, e.Bucket)
	t.Logf("10,000 messages: %d objects, %d bytes", objects, size)
	if objects > 10 {
		t.Fatalf("10,000 small messages took %d objects", objects)
	}
	for _, i := range []int{0, 4321, 9999} {
		if got := readAll(t, s, shas[i]); !bytes.Equal(got, message(i, 1500)) {
			t.Fatalf("message %d differs", i)
		}
	}
	// The index at the end of an object lists its records.
	n := 0
	for o := range e.Weed.Client().ListObjects(context.Background(), e.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		obj, err := e.Weed.Client().GetObject(context.Background(), e.Bucket, o.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		idx, ok := blobstore.ParsePackIndex(body)
		if !ok {
			t.Fatalf("object %s has no index", o.Key)
		}
		for _, ent := range idx {
			if hexsum(body[ent.Offset:ent.Offset+ent.Size]) != ent.SHA256 {
				t.Fatalf("index entry %+v does not match the bytes", ent)
			}
		}
		n += len(idx)
	}
	if n != 10000 {
		t.Fatalf("indexes list %d records, want 10000", n)
	}
}

// TestS3LargeItemRangedRead: a large item is one multipart object; a
// ranged read fetches exactly the part that holds the range, and the read
// cache stays within its bound while the whole item streams.
func TestS3LargeItemRangedRead(t *testing.T) {
	const part = 5 << 20
	e := s3Env(t, blobstore.Options{S3: &blobstore.S3Options{PartSize: part, CacheSize: part + part/2}})
	s := e.Open(t)
	big := make([]byte, 4*part+12345)
	for i := range big {
		big[i] = byte(i*31 + i>>13)
	}
	b := s.NewBatch()
	ref, err := b.Add(bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	commit(t, e.DB, b)
	b.Close()
	var key string
	for o := range e.Weed.Client().ListObjects(context.Background(), e.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		key = o.Key
		if o.Size != int64(len(big)) {
			t.Fatalf("object of %d bytes for a %d-byte item", o.Size, len(big))
		}
	}
	oi, err := e.Weed.Client().StatObject(context.Background(), e.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.Trim(oi.ETag, `"`), "-5") {
		t.Fatalf("ETag %s: not a 5-part multipart upload", oi.ETag)
	}
	ctx := context.Background()
	r, err := s.OpenRange(ctx, ref.SHA256, 2*part+100, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, big[2*part+100:2*part+1100]) {
		t.Fatalf("ranged read differs: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.CacheBytes != part {
		t.Fatalf("a ranged read cached %d bytes, want one part (%d)", st.CacheBytes, part)
	}
	if whole := readAll(t, s, ref.SHA256); !bytes.Equal(whole, big) {
		t.Fatal("large item differs")
	}
	if st, _ = s.Stats(ctx); st.CacheBytes > part+part/2 {
		t.Fatalf("read cache holds %d bytes, above its bound", st.CacheBytes)
	}
}

// TestS3Credentials: the store refuses a missing bucket and wrong keys
// with clear errors, and reads keys from a shared-credentials file.
func TestS3Credentials(t *testing.T) {
	e := s3Env(t, blobstore.Options{})
	o := e.Options
	s3 := *o.S3
	s3.Bucket = "no-such-bucket"
	o.S3 = &s3
	if _, err := blobstore.New(e.DB, o); !errorsIs(err, blobstore.ErrInvalidBlobStore) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing bucket: %v", err)
	}
	s3 = *e.Options.S3
	s3.SecretKey = "wrong"
	o.S3 = &s3
	if _, err := blobstore.New(e.DB, o); err == nil {
		t.Fatal("wrong secret key accepted")
	}
	s3 = *e.Options.S3
	s3.AccessKey, s3.SecretKey = "", ""
	s3.CredentialsFile = t.TempDir() + "/credentials"
	writeFile(t, s3.CredentialsFile, "[default]\naws_access_key_id = "+blobtest.AccessKey+"\naws_secret_access_key = "+blobtest.SecretKey+"\n")
	o.S3 = &s3
	st, err := blobstore.New(e.DB, o)
	if err != nil {
		t.Fatalf("credentials file: %v", err)
	}
	st.Close()
}
