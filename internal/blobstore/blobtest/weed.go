// Package blobtest runs storage tests on every blob backend: files (pack
// files), db (the database) and s3 — a real SeaweedFS started on
// 127.0.0.1 for the test, never a fake. Backends is the matrix helper (like
// dbtest.Dialects); SeaweedFS is found at $TENANTFERRY_WEED or in
// ${TENANTFERRY_TOOLS:-/var/cache/tenantferry-tools}/weed-<WeedVersion>/weed
// (built by .ci/run), and the s3 variants skip with a message when it is
// absent.
//
// Invariants: each test gets its own database (dbtest), its own directory
// and its own bucket; a SeaweedFS process is started once per test binary
// when Main wraps the package's tests (else once per test) and stopped when
// they end; every port is a fresh loopback port.
package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/tenantferry/tenantferry/internal/freeport"
)

// WeedVersion is the SeaweedFS module version .ci/run builds.
const WeedVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// Test credentials of the SeaweedFS identity the helper configures.
const (
	AccessKey = "tenantferry-test"
	SecretKey = "tenantferry-test-secret"
)

// WeedPath returns the SeaweedFS binary, or "" when it is not installed.
func WeedPath() string {
	if p := os.Getenv("TENANTFERRY_WEED"); p != "" {
		return p
	}
	tools := os.Getenv("TENANTFERRY_TOOLS")
	if tools == "" {
		tools = "/var/cache/tenantferry-tools"
	}
	p := filepath.Join(tools, "weed-"+WeedVersion, "weed")
	if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// SkipMessage is why s3 variants skip without SeaweedFS.
const SkipMessage = "SeaweedFS (weed) not installed: .ci/run builds it into ${TENANTFERRY_TOOLS:-/var/cache/tenantferry-tools}/weed-" +
	WeedVersion + "/weed, or set TENANTFERRY_WEED"

// Weed is a running SeaweedFS with its S3 gateway.
type Weed struct {
	// Endpoint is the S3 URL (http://127.0.0.1:PORT).
	Endpoint string
	cmd      *exec.Cmd
	dir      string
	ownDir   bool
	client   *minio.Client
	exited   chan struct{}
	grpc     []int // gRPC ports: SeaweedFS leaves /tmp sockets named by them
}

var (
	shared     *Weed
	sharedErr  error
	sharedOnce sync.Once
	sharedOn   bool
)

// Main runs a package's tests with one SeaweedFS shared by all of them
// (started on first use, stopped at the end). Call it from TestMain:
// os.Exit(blobtest.Main(m)).
func Main(m *testing.M) int {
	sharedOn = true
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Start returns a running SeaweedFS: the package's shared one under Main,
// else one for this test, stopped when it ends. It skips the test when
// SeaweedFS is not installed.
func Start(t testing.TB) *Weed {
	t.Helper()
	bin := WeedPath()
	if bin == "" {
		t.Skip(SkipMessage)
	}
	if sharedOn {
		sharedOnce.Do(func() {
			dir, err := os.MkdirTemp("", "tenantferry-weed-")
			if err != nil {
				sharedErr = err
				return
			}
			shared, sharedErr = start(bin, dir)
			if shared != nil {
				shared.ownDir = true
			}
		})
		if sharedErr != nil {
			t.Fatalf("start SeaweedFS: %v", sharedErr)
		}
		return shared
	}
	w, err := start(bin, t.TempDir())
	if err != nil {
		t.Fatalf("start SeaweedFS: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

func start(bin, dir string) (*Weed, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		w, err := startOnce(bin, dir)
		if err == nil {
			return w, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(bin, dir string) (*Weed, error) {
	ports, err := freeport.Ports(8)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "s3.json")
	ident := fmt.Sprintf(`{"identities":[{"name":"tenantferry","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`,
		AccessKey, SecretKey)
	if err := os.WriteFile(cfg, []byte(ident), 0o600); err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	cmd := exec.Command(bin, "-logdir="+dir, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir="+data,
		"-master.port="+p(0), "-master.port.grpc="+p(1), "-volume.port="+p(2), "-volume.port.grpc="+p(3),
		"-filer", "-filer.port="+p(4), "-filer.port.grpc="+p(5),
		"-s3", "-s3.port="+p(6), "-s3.port.grpc="+p(7), "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.config="+cfg,
		"-filer.localSocket="+filepath.Join(dir, "filer.sock"), "-s3.localSocket="+filepath.Join(dir, "s3.sock"),
		"-master.telemetry=false", "-volume.max=0", "-master.volumeSizeLimitMB=64")
	logPath := filepath.Join(dir, "weed.log")
	if p := os.Getenv("TENANTFERRY_WEED_LOG"); p != "" {
		logPath = p // kept after the test, for debugging
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "TMPDIR="+dir) // its gRPC sockets
	// Own process group, killed with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	w := &Weed{Endpoint: "http://127.0.0.1:" + p(6), cmd: cmd, dir: dir, exited: make(chan struct{}),
		grpc: []int{ports[1], ports[3], ports[5], ports[7]}}
	go func() { cmd.Wait(); logf.Close(); close(w.exited) }()
	w.client, err = minio.New("127.0.0.1:"+p(6), &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1",
		BucketLookup: minio.BucketLookupPath})
	if err != nil {
		w.Stop()
		return nil, err
	}
	// Ready when a bucket can be created and written.
	deadline := time.Now().Add(60 * time.Second)
	probe := "probe-" + randHex()
	for {
		select {
		case <-w.exited:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("weed exited: %s", tail(log))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = w.client.MakeBucket(ctx, probe, minio.MakeBucketOptions{Region: "us-east-1"})
		if err == nil || minio.ToErrorResponse(err).Code == "BucketAlreadyOwnedByYou" {
			// Writable once the volume servers took their volumes.
			_, err = w.client.PutObject(ctx, probe, "probe", strings.NewReader("ready"), 5, minio.PutObjectOptions{})
		}
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			w.Stop()
			return nil, fmt.Errorf("SeaweedFS S3 not ready after 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return w, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func randHex() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Stop ends SeaweedFS (SIGTERM, then SIGKILL) and removes its files when
// the helper created the directory.
func (w *Weed) Stop() {
	if w.cmd.Process != nil {
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(2 * time.Second):
			syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			<-w.exited
		}
	}
	for _, p := range w.grpc {
		for _, kind := range []string{"master", "volume", "filer", "s3"} {
			os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", kind, p))
		}
	}
	if w.ownDir {
		os.RemoveAll(w.dir)
	}
}

// Bucket creates a fresh bucket for the test and returns its name.
func (w *Weed) Bucket(t testing.TB) string {
	t.Helper()
	name := "t-" + randHex()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.client.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

// BucketBytes measures a bucket: the number of objects and their total
// size, as the S3 service lists them.
func (w *Weed) BucketBytes(t testing.TB, bucket string) (objects int, bytes int64) {
	t.Helper()
	for o := range w.client.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list bucket %s: %v", bucket, o.Err)
		}
		objects++
		bytes += o.Size
	}
	return objects, bytes
}

// Client returns an S3 client of the service with the test credentials.
func (w *Weed) Client() *minio.Client { return w.client }
