package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/freeport"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/jobs"
	"github.com/tenantferry/tenantferry/internal/server"
)

// targets are the batch benchmark's target nodes: K servers sharing one
// database and one blob store (a files directory every node's DATA/blobs
// links to, or the S3 bucket), all behind node 1's public URL and with one
// server key, as a scaled-out deployment runs them (README, "PostgreSQL /
// scale-out"). The benchmark drives them through ctl, an admin core on
// the same database: node 1 itself when the nodes run in-process, or a
// control instance that is built but never started (it serves nothing and
// runs no jobs) when they run as `tenantferry serve` child processes.
type targets struct {
	ctl    *server.Server
	ownCtl bool // ctl is the control instance, not a node
	inproc []*server.Server
	procs  []*nodeProc
	urls   []string // each node's base URL; urls[0] is every node's public URL
	dir    string
	drop   func() // drops the PostgreSQL schema of the run
}

// nodeProc is one node run as a child process.
type nodeProc struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{}
	err     error
}

// targetConfig is node i's configuration.
func targetConfig(o *BatchOptions, dir, dsn, publicURL, httpAddr string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = httpAddr, "off", "off", "off"
	cfg.EndpointAllow = []string{"127.0.0.0/8"} // the source is on loopback
	cfg.DB, cfg.PublicURL = dsn, publicURL
	cfg.LogLevel = "warn"
	if o.TargetBlobs != "" {
		cfg.BlobBackend = o.TargetBlobs
		cfg.S3Endpoint, cfg.S3Bucket, cfg.S3CredentialsFile = o.S3Endpoint, o.S3Bucket, o.S3CredentialsFile
	}
	cfg.MigrationWorkers = int64(o.MigrationWorkers)
	return cfg
}

// serveArgs are the `tenantferry serve` arguments of a configuration.
func serveArgs(cfg config.Config) []string {
	args := []string{"serve", "--data", cfg.DataDir, "--http", cfg.HTTP, "--imap", "off", "--smtp", "off", "--submission", "off",
		"--endpoint-allow", "127.0.0.0/8", "--public-url", cfg.PublicURL, "--log-level", cfg.LogLevel, "--blob-backend", cfg.BlobBackend}
	if cfg.DB != "" {
		args = append(args, "--db", cfg.DB)
	}
	if cfg.BlobBackend == "s3" {
		args = append(args, "--s3-endpoint", cfg.S3Endpoint, "--s3-bucket", cfg.S3Bucket)
		if cfg.S3CredentialsFile != "" {
			args = append(args, "--s3-credentials-file", cfg.S3CredentialsFile)
		}
	}
	if cfg.MigrationWorkers > 0 {
		args = append(args, "--migration-workers", strconv.FormatInt(cfg.MigrationWorkers, 10))
	}
	return args
}

// startTargets starts o.Nodes target nodes under dir.
func startTargets(ctx context.Context, o *BatchOptions, dir string, logw io.Writer) (t *targets, err error) {
	t = &targets{dir: dir, drop: func() {}}
	defer func() {
		if err != nil {
			t.stop()
		}
	}()
	dsn := ""
	if o.DB != "" {
		if dsn, t.drop, err = freshSchema(o.DB); err != nil {
			return t, err
		}
	}
	shared := filepath.Join(dir, "target-blobs")
	if err := os.MkdirAll(shared, 0o700); err != nil {
		return t, err
	}
	for i := range o.Nodes {
		addr, err := freeport.Addr()
		if err != nil {
			return t, err
		}
		t.urls = append(t.urls, "http://"+addr)
		if err := nodeDir(filepath.Join(dir, nodeName(i)), shared); err != nil {
			return t, err
		}
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfgOf := func(i int) config.Config {
		return targetConfig(o, filepath.Join(dir, nodeName(i)), dsn, t.urls[0], strings.TrimPrefix(t.urls[i], "http://"))
	}
	if o.NodeBinary == "" || dsn == "" {
		// In-process: node 1 creates the server key the others share.
		for i := range o.Nodes {
			if i > 0 {
				if err := copyKey(filepath.Join(dir, nodeName(0)), filepath.Join(dir, nodeName(i))); err != nil {
					return t, err
				}
			}
			s, err := server.New(ctx, cfgOf(i), log.With("node", nodeName(i)))
			if err != nil {
				return t, err
			}
			t.inproc = append(t.inproc, s)
			if err := s.Start(ctx); err != nil {
				return t, err
			}
		}
		t.ctl = t.inproc[0]
		return t, nil
	}
	// Child processes: the control instance migrates the database and
	// creates the server key and the operator token first.
	ctlDir := filepath.Join(dir, "control")
	if err := nodeDir(ctlDir, shared); err != nil {
		return t, err
	}
	ccfg := targetConfig(o, ctlDir, dsn, t.urls[0], "127.0.0.1:0")
	if t.ctl, err = server.New(ctx, ccfg, log.With("node", "control")); err != nil {
		return t, err
	}
	t.ownCtl = true
	for i := range o.Nodes {
		if err := copyKey(ctlDir, filepath.Join(dir, nodeName(i))); err != nil {
			return t, err
		}
		p, err := spawn(o.NodeBinary, cfgOf(i), filepath.Join(dir, nodeName(i)+".log"))
		if err != nil {
			return t, err
		}
		t.procs = append(t.procs, p)
	}
	for i, p := range t.procs {
		if err := p.awaitHealthy(ctx, t.urls[i]); err != nil {
			return t, fmt.Errorf("%s: %w", nodeName(i), err)
		}
	}
	return t, nil
}

func nodeName(i int) string { return fmt.Sprintf("node%d", i+1) }

// nodeDir creates a node's data directory with DATA/blobs linked to the
// shared blob directory.
func nodeDir(d, shared string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	return os.Symlink(shared, filepath.Join(d, "blobs"))
}

// copyKey gives a node the deployment's server key.
func copyKey(from, to string) error {
	b, err := os.ReadFile(filepath.Join(from, identity.ServerKeyFile))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(to, identity.ServerKeyFile), b, 0o600)
}

// freshSchema creates an empty schema in the PostgreSQL database of base
// and returns a DSN that uses it and a function that drops it.
func freshSchema(base string) (string, func(), error) {
	if !strings.HasPrefix(base, "postgres") {
		return "", nil, errs.Invalidf("InvalidBenchDB", "--db %q is not a postgres:// URL", base)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "tfbench_" + hex.EncodeToString(b)
	adm, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	if _, err := adm.Exec("CREATE SCHEMA " + schema); err != nil {
		adm.Close()
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop := func() {
		adm.Exec("DROP SCHEMA " + schema + " CASCADE")
		adm.Close()
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// spawn starts `bin serve` with the configuration, its stderr to logPath.
func spawn(bin string, cfg config.Config, logPath string) (*nodeProc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &nodeProc{cmd: exec.Command(bin, serveArgs(cfg)...), logPath: logPath, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p, nil
}

// awaitHealthy waits until the node answers /healthz.
func (p *nodeProc) awaitHealthy(ctx context.Context, base string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("serve exited: %v\n%s", p.err, p.tail())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve did not become healthy\n%s", p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail is the end of the node's log.
func (p *nodeProc) tail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// alive fails when a child node has exited.
func (t *targets) alive() error {
	for i, p := range t.procs {
		select {
		case <-p.exited:
			return errs.New(errs.Internal, "BenchNodeDied", "%s exited: %v\n%s", nodeName(i), p.err, p.tail())
		default:
		}
	}
	return nil
}

// mode says how the nodes run.
func (t *targets) mode() string {
	if len(t.procs) > 0 {
		return "processes"
	}
	return "in-process"
}

// nodeIDs maps each node's job-runner id (River's attempted_by) to its
// index.
func (t *targets) nodeIDs(ctx context.Context) (map[string]int, error) {
	ids := map[string]int{}
	for i, s := range t.inproc {
		ids[s.Jobs.NodeID] = i
	}
	if len(t.procs) == 0 {
		return ids, nil
	}
	ns, err := jobs.Nodes(ctx, t.ctl.DB.Read())
	if err != nil {
		return nil, err
	}
	for _, n := range ns {
		for i, p := range t.procs {
			if p.cmd.Process.Pid == n.PID {
				ids[n.ID] = i
			}
		}
	}
	return ids, nil
}

// peakRSS returns each node's peak resident memory in MB (VmHWM of its
// process; in-process nodes share the benchmark's process, so they get
// that figure).
func (t *targets) peakRSS() []float64 {
	var out []float64
	for range t.inproc {
		out = append(out, peakRSSMB())
	}
	for _, p := range t.procs {
		out = append(out, vmHWM(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)))
	}
	return out
}

// cpu returns the CPU seconds (user + system) each child node used so
// far (nil in-process).
func (t *targets) cpu() []float64 {
	var out []float64
	for _, p := range t.procs {
		out = append(out, cpuSeconds(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)))
	}
	return out
}

// cpuSeconds reads utime + stime from a /proc/PID/stat file (Linux counts
// them in USER_HZ, 100 per second).
func cpuSeconds(stat string) float64 {
	b, err := os.ReadFile(stat)
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the command may hold spaces
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

// copied reads a node's items and bytes copied by migration passes from
// its /metrics (per process: in-process nodes share one registry each).
func copied(base string) (items, bytes int64) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "tenantferry_migration_items_copied_total":
			items = int64(v)
		case "tenantferry_migration_bytes_copied_total":
			bytes = int64(v)
		}
	}
	return items, bytes
}

// stop shuts every node down (SIGTERM, then SIGKILL after 30 s) and
// drops the run's schema.
func (t *targets) stop() {
	for _, p := range t.procs {
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range t.procs {
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	for i := len(t.inproc) - 1; i >= 0; i-- {
		t.inproc[i].Shutdown(context.Background())
	}
	if t.ownCtl && t.ctl != nil {
		t.ctl.Shutdown(context.Background())
	}
	if t.drop != nil {
		t.drop()
	}
}

// RouteStat is the time a server spent answering one HTTP route.
type RouteStat struct {
	Route    string
	Requests int64
	Seconds  float64 // summed request durations (concurrent requests add up)
}

// routeStats reads the per-route request counts and summed durations
// from a server's /metrics.
func routeStats(base string) map[string]RouteStat {
	out := map[string]RouteStat{}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, `{route="`)
		if !ok || (name != "tenantferry_http_request_seconds_sum" && name != "tenantferry_http_request_seconds_count") {
			continue
		}
		route, val, ok := strings.Cut(rest, `"} `)
		if !ok {
			continue
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
		st := out[route]
		st.Route = route
		if strings.HasSuffix(name, "_sum") {
			st.Seconds = v
		} else {
			st.Requests = int64(v)
		}
		out[route] = st
	}
	return out
}

// routes sums routeStats over the target nodes.
func (t *targets) routes() map[string]RouteStat {
	sum := map[string]RouteStat{}
	for _, u := range t.urls {
		for r, st := range routeStats(u) {
			cur := sum[r]
			cur.Route, cur.Requests, cur.Seconds = r, cur.Requests+st.Requests, cur.Seconds+st.Seconds
			sum[r] = cur
		}
	}
	return sum
}

// routeDelta is after − before, busiest route first.
func routeDelta(before, after map[string]RouteStat) []RouteStat {
	var out []RouteStat
	for r, a := range after {
		b := before[r]
		if d := (RouteStat{Route: r, Requests: a.Requests - b.Requests, Seconds: a.Seconds - b.Seconds}); d.Requests > 0 {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seconds > out[j].Seconds })
	return out
}
