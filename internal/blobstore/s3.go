package blobstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// S3Options configure the S3 backend.
type S3Options struct {
	// Endpoint is the S3 service URL, e.g. http://127.0.0.1:8333 or
	// https://s3.eu-west-1.amazonaws.com (no scheme means https).
	Endpoint string
	// Bucket holds the objects; it must exist.
	Bucket string
	// Region is the bucket's region ("" lets the client discover it;
	// SeaweedFS and MinIO accept any, e.g. us-east-1).
	Region string
	// AccessKey and SecretKey are the credentials. When both are empty they
	// come from CredentialsFile (an AWS shared-credentials file, profile
	// "default"), else from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
	AccessKey, SecretKey string
	// CredentialsFile is an AWS shared-credentials file (INI, profile
	// "default").
	CredentialsFile string
	// PartSize is the multipart part size of large items and the unit of a
	// ranged read (default DefaultS3PartSize; at least 5 MiB).
	PartSize int64
	// ObjectSize is the size at which a batch uploads its gathered small
	// items as one pack object (default DefaultS3ObjectSize).
	ObjectSize int64
	// CacheDir holds the local read cache (required). It is emptied when
	// the store opens.
	CacheDir string
	// CacheSize bounds the read cache in bytes (default
	// DefaultS3CacheSize).
	CacheSize int64
}

// Defaults of S3Options.
const (
	DefaultS3PartSize   = 8 << 20
	DefaultS3ObjectSize = 8 << 20
	DefaultS3CacheSize  = 1 << 30
	minS3PartSize       = 5 << 20
)

// Object key prefixes: pack objects of small items and objects of one large
// item. Every key is unique per write (a time and random part), never
// reused: see the package doc.
const (
	s3PackPrefix  = "blobs/p/"
	s3LargePrefix = "blobs/l/"
	s3Prefix      = "blobs/"
)

// ErrS3Unavailable is returned when the S3 service cannot be reached or
// refuses a request.
var ErrS3Unavailable = errs.Sentinel(errs.Unavailable, "S3Unavailable")

// ErrInvalidBlobStore is returned for a blob store configuration that
// cannot work (a missing directory, bucket or credential).
var ErrInvalidBlobStore = errs.Sentinel(errs.Invalid, "InvalidBlobStore")

// s3Client is the S3 service of one bucket.
type s3Client struct {
	c          *minio.Client
	bucket     string
	partSize   int64
	objectSize int64
}

func newS3Client(ctx context.Context, o S3Options) (*s3Client, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, ErrInvalidBlobStore.Newf("the s3 blob backend needs an endpoint and a bucket").
			WithHint("set --s3-endpoint (e.g. http://127.0.0.1:8333) and --s3-bucket")
	}
	raw := o.Endpoint
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, ErrInvalidBlobStore.Newf("the S3 endpoint %q is not a URL like https://host[:port]", o.Endpoint).
			WithHint("give the service URL without a bucket or path, e.g. http://127.0.0.1:8333")
	}
	creds, err := s3Credentials(o)
	if err != nil {
		return nil, err
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: o.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, ErrInvalidBlobStore.Newf("the S3 endpoint %q is not usable: %v", o.Endpoint, err)
	}
	s := &s3Client{c: c, bucket: o.Bucket, partSize: o.PartSize, objectSize: o.ObjectSize}
	if s.partSize <= 0 {
		s.partSize = DefaultS3PartSize
	}
	if s.partSize < minS3PartSize {
		s.partSize = minS3PartSize
	}
	if s.objectSize <= 0 {
		s.objectSize = DefaultS3ObjectSize
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := c.BucketExists(cctx, o.Bucket)
	if err != nil {
		return nil, s3Err(err, "reach bucket %s at %s", o.Bucket, o.Endpoint).
			WithHint("check --s3-endpoint, the credentials and that the S3 service runs")
	}
	if !ok {
		return nil, ErrInvalidBlobStore.Newf("the S3 bucket %q does not exist at %s", o.Bucket, o.Endpoint).
			WithObject(o.Bucket).WithHint("create the bucket first (e.g. aws s3 mb s3://%s, or mc mb), then start again", o.Bucket)
	}
	return s, nil
}

// s3Credentials picks the credentials: explicit keys, then the file, then
// the environment.
func s3Credentials(o S3Options) (*credentials.Credentials, error) {
	switch {
	case o.AccessKey != "" || o.SecretKey != "":
		return credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""), nil
	case o.CredentialsFile != "":
		if _, err := os.Stat(o.CredentialsFile); err != nil {
			return nil, ErrInvalidBlobStore.Newf("the S3 credentials file %s cannot be read: %v", o.CredentialsFile, err).
				WithHint("give an AWS shared-credentials file with a [default] profile holding aws_access_key_id and aws_secret_access_key")
		}
		creds := credentials.NewFileAWSCredentials(o.CredentialsFile, "default")
		v, err := creds.GetWithContext(nil)
		if err != nil || v.AccessKeyID == "" {
			return nil, ErrInvalidBlobStore.Newf("the S3 credentials file %s has no usable [default] profile", o.CredentialsFile).
				WithHint("write aws_access_key_id and aws_secret_access_key under [default]")
		}
		return creds, nil
	case os.Getenv("AWS_ACCESS_KEY_ID") != "":
		return credentials.NewEnvAWS(), nil
	}
	return nil, ErrInvalidBlobStore.Newf("the s3 blob backend has no credentials").
		WithHint("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or --s3-credentials-file")
}

// s3Err wraps an S3 failure as S3Unavailable, keeping the cause.
func s3Err(err error, format string, args ...any) *errs.Error {
	return ErrS3Unavailable.Newf("S3: could not %s: %v", fmt.Sprintf(format, args...), err).WithCause(err).
		WithHint("check that the S3 service is reachable; the operation is retried")
}

// isNoSuchKey reports whether err says the object does not exist.
func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// newObjectKey returns a fresh, never reused key under prefix.
func newObjectKey(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s%012x-%s", prefix, time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// put uploads data as one object (a single PUT).
func (c *s3Client) put(ctx context.Context, key string, data []byte) error {
	_, err := c.c.PutObject(ctx, c.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	if err != nil {
		return s3Err(err, "upload %s", key)
	}
	return nil
}

// errCapture remembers the first error of the caller's reader, so a
// failure of the source (a size limit) is told apart from an S3 failure.
type errCapture struct {
	r   io.Reader
	err error
}

func (e *errCapture) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// putStream uploads r as one object with a streaming multipart upload
// (parts of partSize, one part in memory at a time). An error of r is
// returned as is and the upload is aborted.
func (c *s3Client) putStream(ctx context.Context, key string, r io.Reader) (int64, error) {
	ec := &errCapture{r: r}
	info, err := c.c.PutObject(ctx, c.bucket, key, ec, -1,
		minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: uint64(c.partSize)})
	if ec.err != nil {
		return 0, ec.err
	}
	if err != nil {
		return 0, s3Err(err, "upload %s", key)
	}
	return info.Size, nil
}

// getRange streams bytes [off, off+n) of an object into w. A missing
// object is errContainerGone.
func (c *s3Client) getRange(ctx context.Context, key string, off, n int64, w io.Writer) error {
	if n <= 0 {
		return nil
	}
	var opts minio.GetObjectOptions
	if err := opts.SetRange(off, off+n-1); err != nil {
		return errs.Internalf(err, "range of %s", key)
	}
	obj, err := c.c.GetObject(ctx, c.bucket, key, opts)
	if err != nil {
		return c.readErr(err, key)
	}
	defer obj.Close()
	got, err := io.Copy(w, obj)
	if err != nil {
		return c.readErr(err, key)
	}
	if got != n {
		return errs.Internalf(fmt.Errorf("got %d of %d bytes", got, n), "read %s at %d", key, off)
	}
	return nil
}

func (c *s3Client) readErr(err error, key string) error {
	if isNoSuchKey(err) {
		return fmt.Errorf("%w: %s", errContainerGone, key)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return errs.Internalf(err, "write read cache")
	}
	return s3Err(err, "read %s", key)
}

// remove deletes an object; a missing one is not an error.
func (c *s3Client) remove(ctx context.Context, key string) error {
	err := c.c.RemoveObject(ctx, c.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNoSuchKey(err) {
		return s3Err(err, "delete %s", key)
	}
	return nil
}

// objectInfo is one listed object.
type objectInfo struct {
	key      string
	size     int64
	modified time.Time
}

// list calls f for every object under prefix.
func (c *s3Client) list(ctx context.Context, prefix string, f func(objectInfo) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range c.c.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return s3Err(o.Err, "list %s", prefix)
		}
		if err := f(objectInfo{key: o.Key, size: o.Size, modified: o.LastModified}); err != nil {
			return err
		}
	}
	return nil
}
