package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/units"
)

// The batch benchmark (tenantferry bench --mailboxes N): one batch of N
// generated mailboxes moved from an in-process source server to K target
// nodes sharing one database and one blob store, then completed in bulk.
// It measures what a migration wave costs — aggregate throughput, how far
// apart the users start and finish, the completion lock windows, how many
// moves ran at once and on which node — and, with Reference, the items/s of
// one big mailbox of the same total item count moved in the same run.
//
// Like the single-mailbox benchmark, it uses the product's real paths
// (admin core, trust, mailuser prepare, CSV batch, River jobs, the
// replication API over loopback HTTP, fsync on) and never asserts
// timings. It fails loudly when a user does not end Completed with
// DataConsistencyScore Perfect and every generated item synced.

// BatchOptions size the batch benchmark.
type BatchOptions struct {
	Mailboxes int   // users of the batch, one generated source mailbox each
	Size      int64 // bytes per mailbox: generated messages in order until the next would pass Size
	// Messages, when positive, is the message count of every mailbox
	// instead of Size (the "mailboxes of 200 small messages").
	Messages int
	// Median, AttachShare and AttachKB shape the generated messages
	// (defaults 8 KiB, none, 800 KiB); Seed+i seeds mailbox i, so every
	// mailbox holds different bytes (the target reuses content a tenant
	// already holds, which identical mailboxes would turn into no copy).
	Median      int
	AttachShare float64
	AttachKB    int
	Seed        int64
	// Nodes is the number of target nodes (default 1). More than one
	// needs DB: nodes share a PostgreSQL database.
	Nodes int
	// DB is the target database: "" is SQLite in node 1's data directory
	// (one node, in-process), or a postgres:// URL in whose database the
	// benchmark creates a fresh schema and drops it afterwards.
	DB string
	// NodeBinary, with a PostgreSQL DB, runs the target nodes as
	// `NodeBinary serve` child processes (the CLI passes its own
	// executable), so each node's peak RSS is its own; "" runs them in
	// the benchmark's process.
	NodeBinary string
	// MigrationWorkers is each node's --migration-workers (0: the
	// default, from the cores).
	MigrationWorkers int
	// EndpointLimit is the endpoint's MaxConcurrentMigrations (0: the
	// default, 100).
	EndpointLimit int
	// Reference also moves one mailbox of the batch's total item count
	// (same message shape) in the same run: the one-big-mailbox items/s.
	Reference bool
	// TargetBlobs is the target nodes' blob backend: files (default; one
	// directory every node's DATA/blobs links to) or s3 (then S3Endpoint,
	// S3Bucket and S3CredentialsFile or AWS_* name an existing bucket).
	TargetBlobs       string
	S3Endpoint        string
	S3Bucket          string
	S3CredentialsFile string
	// CPUProfile, when set, receives a CPU profile of the benchmark's
	// process from the batch's creation to the end of its completion (the
	// source server, and the nodes when they run in-process).
	CPUProfile io.Writer
	// MemProfile, when set, is a file that receives a heap profile of the
	// benchmark's process taken when its heap in use peaked during the
	// sync (rewritten at every new peak; sampled four times a second).
	MemProfile string
	Dir        string    // work directory (default a temporary one, removed)
	Log        io.Writer // server logs (warnings and errors)
}

// BatchResult is what the batch benchmark measured. Times of users are
// the moves' own (StartTime: the initial pass began; Synced: it ended).
type BatchResult struct {
	Mailboxes   int
	Nodes       int
	NodeMode    string // "processes" or "in-process"
	DB          string // sqlite or postgres
	TargetBlobs string
	// EndpointLimit is MaxConcurrentMigrations (the default when not set).
	EndpointLimit   int
	Items           int64 // generated, all mailboxes
	Bytes           int64
	GenerateSeconds float64 // creating and filling the source mailboxes

	SyncSeconds         float64 // first start to last Synced
	MBps                float64 // Bytes / SyncSeconds
	ItemsPerSec         float64
	BatchSeconds        float64 // batch creation to last Synced (includes the scheduler's start)
	StartSpreadSeconds  float64 // first to last start
	SyncedSpreadSeconds float64 // first to last Synced
	// MaxConcurrent is the most initial passes that overlapped, from the
	// users' state histories (→ Validating to → Synced); MaxSampled the
	// most users seen in Validating or Syncing at once by the polls.
	MaxConcurrent int
	MaxSampled    int
	// MeanConcurrent is the passes' summed durations over SyncSeconds:
	// how many ran on average (below the limit: slots stood idle).
	MeanConcurrent float64
	// Where a user's initial pass spends its time, from the histories:
	// → Validating to → Syncing (validation, source lookups, registering
	// the move) and → Syncing to → Synced (listing and copying).
	ValidateMs, CopyMs Spread
	// BenchCPUSeconds is the CPU time of the benchmark's own process
	// during the initial sync: the source server (and the nodes when they
	// run in-process). Each node's is in NodeStats; the rest of the
	// machine's 2 × SyncSeconds went to the database and other work.
	BenchCPUSeconds float64
	// SourceRoutes is what the source server answered during the initial
	// sync, per route of its HTTP API (the replication API): requests and
	// their summed durations, busiest first.
	SourceRoutes []RouteStat
	// TargetRoutes is the same for the target nodes' HTTP APIs (summed
	// over the nodes): the token endpoint and keys the source fetches.
	TargetRoutes []RouteStat

	CompletionSeconds float64 // bulk complete command to last Completed
	LockWindowMs      Spread
	Consistency       string // "Perfect" for every user, or the first other score

	NodeStats []NodeStat

	// The one-big-mailbox reference (Reference): Items items in one
	// mailbox, start to Synced.
	RefItems       int64
	RefBytes       int64
	RefSeconds     float64
	RefItemsPerSec float64
	RefMBps        float64
	RatioToRef     float64 // ItemsPerSec / RefItemsPerSec

	LoadAvgStart, LoadAvgEnd string
}

// Spread is the minimum, median and maximum of a set of figures.
type Spread struct{ Min, Median, Max int64 }

// NodeStat is one target node's share of the batch.
type NodeStat struct {
	Name      string
	PID       int
	PeakRSSMB float64 // VmHWM of its process (in-process nodes: the benchmark's process, source included)
	// SyncCPUSeconds is its process's CPU time during the initial sync
	// (0 in-process: see BenchCPUSeconds).
	SyncCPUSeconds float64
	Moves          int   // initial passes it ran
	Completions    int   // completions it ran
	ItemsCopied    int64 // from its /metrics (all passes)
	BytesCopied    int64
}

func (o *BatchOptions) defaults() error {
	if o.Mailboxes <= 0 {
		return errs.Invalidf("InvalidBenchSize", "--mailboxes must be at least 1")
	}
	if o.Size <= 0 {
		o.Size = 200 << 10
	}
	if o.Median <= 0 {
		o.Median = 8 << 10
	}
	if o.AttachKB <= 0 {
		o.AttachKB = 800
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Nodes > 1 && o.DB == "" {
		return errs.Invalidf("BenchNeedsPostgres", "--nodes %d needs a database the nodes share, and SQLite belongs to one process", o.Nodes).
			WithHint("pass --db postgres://USER@HOST/DB (or set TENANTFERRY_DB): the benchmark creates a fresh schema there and drops it afterwards")
	}
	return nil
}

// mailgenOptions are mailbox i's generator options.
func (o *BatchOptions) mailgenOptions(seed int64, owner string, count int) mailgen.Options {
	share := o.AttachShare
	if share == 0 {
		share = -1 // mailgen reads 0 as its default; no attachments
	}
	return mailgen.Options{Seed: seed, Count: count, Owner: owner, Median: o.Median, Attach: share, AttachKB: o.AttachKB}
}

// batchRun is one run's state.
type batchRun struct {
	o        BatchOptions
	progress io.Writer
	src      *server.Server
	tg       *targets
	op       *admin.Principal
	ts       *admin.TrustSetup
	items    map[string]int // generated items per target address
	syncCPU  []float64      // each child node's CPU seconds during the initial sync
	res      *BatchResult
}

// RunBatch runs the batch benchmark, printing progress to progress.
func RunBatch(ctx context.Context, o BatchOptions, progress io.Writer) (*BatchResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tenantferry-bench-batch-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	r := &batchRun{o: o, progress: progress, op: &admin.Principal{Operator: true, Name: "bench"}, items: map[string]int{},
		res: &BatchResult{Mailboxes: o.Mailboxes, Nodes: o.Nodes, DB: "sqlite", TargetBlobs: o.TargetBlobs, LoadAvgStart: loadAvg()}}
	if o.DB != "" {
		r.res.DB = "postgres"
	}
	if r.res.TargetBlobs == "" {
		r.res.TargetBlobs = "files"
	}
	src, err := startSource(ctx, filepath.Join(dir, "source"), logw)
	if err != nil {
		return nil, err
	}
	defer src.Shutdown(context.Background())
	r.src = src
	fmt.Fprintf(progress, "starting %d target node(s)...\n", o.Nodes)
	tg, err := startTargets(ctx, &r.o, dir, logw)
	if err != nil {
		return nil, err
	}
	defer tg.stop()
	r.tg, r.res.NodeMode = tg, tg.mode()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return nil, err
		}
	}
	stopMem := watchHeapPeak(o.MemProfile)
	err = r.sync(ctx)
	stopMem()
	if err == nil {
		err = r.complete(ctx)
	}
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	if err := r.nodeStats(ctx); err != nil {
		return nil, err
	}
	if err := r.reference(ctx); err != nil {
		return nil, err
	}
	r.res.LoadAvgEnd = loadAvg()
	return r.res, nil
}

// startSource starts the in-process source server (SQLite, files).
func startSource(ctx context.Context, dir string, logw io.Writer) (*server.Server, error) {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = "127.0.0.1:0", "off", "off", "off"
	cfg.EndpointAllow = []string{"127.0.0.0/8"}
	s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", "source"))
	if err != nil {
		return nil, err
	}
	return s, s.Start(ctx)
}

// alias names mailbox i.
func alias(i int) string { return fmt.Sprintf("b%05d", i+1) }

// setup creates the tenants and the N source mailboxes, sets up the trust
// and prepares the target MailUsers.
func (r *batchRun) setup(ctx context.Context) error {
	ctl, o := r.tg.ctl, r.o
	if _, err := r.src.Admin.CreateTenant(ctx, r.op, "contoso"); err != nil {
		return err
	}
	if _, err := ctl.Admin.CreateTenant(ctx, r.op, "fabrikam"); err != nil {
		return err
	}
	ts, err := admin.SetupMigrationTrust(ctx, r.src.Admin, r.op, "contoso", r.src.PublicURL, ctl.Admin, r.op, "fabrikam")
	if err != nil {
		return err
	}
	r.ts = ts
	if o.EndpointLimit > 0 {
		if _, err := ctl.Admin.UpdateEndpoint(ctx, r.op, "fabrikam", ts.Endpoint, directory.EndpointUpdate{MaxConcurrentMigrations: o.EndpointLimit}); err != nil {
			return err
		}
	}
	ep, err := ctl.Admin.GetEndpoint(ctx, r.op, "fabrikam", ts.Endpoint)
	if err != nil {
		return err
	}
	r.res.EndpointLimit = ep.MaxConcurrentMigrations
	shape := "up to " + units.Bytes(o.Size)
	if o.Messages > 0 {
		shape = fmt.Sprintf("%d messages", o.Messages)
	}
	fmt.Fprintf(r.progress, "generating %d mailboxes of %s (median %d B, %.0f%% with %d KiB attachments)...\n",
		o.Mailboxes, shape, o.Median, o.AttachShare*100, o.AttachKB)
	t0 := time.Now()
	if err := r.sourceMailboxes(ctx); err != nil {
		return err
	}
	r.res.GenerateSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(r.progress, "  %d mailboxes, %d items, %s in %.1fs\n", o.Mailboxes, r.res.Items, mb_(r.res.Bytes), r.res.GenerateSeconds)
	_, err = ctl.Admin.PrepareMailUsers(ctx, r.op, "fabrikam", ts.Endpoint, r.csv(r.addresses()), ts.TargetTenant.InitialDomain, false)
	return err
}

// sourceMailboxes creates and fills the N source mailboxes, four at a
// time (a password hash and a few SQLite commits each: not timed).
func (r *batchRun) sourceMailboxes(ctx context.Context) error {
	o := r.o
	items, sizes, errs := make([]int, o.Mailboxes), make([]int64, o.Mailboxes), make([]error, o.Mailboxes)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				count, limit := 1<<30, o.Size
				if o.Messages > 0 {
					count, limit = o.Messages, 0
				}
				items[i], sizes[i], errs[i] = r.sourceMailbox(ctx, alias(i), o.mailgenOptions(o.Seed+int64(i), "", count), limit)
			}
		}()
	}
	for i := range o.Mailboxes {
		next <- i
		if (i+1)%100 == 0 {
			fmt.Fprintf(r.progress, "  %d mailboxes\n", i+1)
		}
	}
	close(next)
	wg.Wait()
	for i := range o.Mailboxes {
		if errs[i] != nil {
			return errs[i]
		}
		r.items[alias(i)+"@"+r.ts.TargetTenant.InitialDomain] = items[i]
		r.res.Items += int64(items[i])
		r.res.Bytes += sizes[i]
	}
	return nil
}

// sourceMailbox creates a source user in the move's scope and fills its
// mailbox (limit bytes at most, 0: o.Count messages).
func (r *batchRun) sourceMailbox(ctx context.Context, name string, o mailgen.Options, limit int64) (int, int64, error) {
	user, err := r.src.Admin.CreateRecipient(ctx, r.op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: name, Password: "bench-pw"})
	if err != nil {
		return 0, 0, err
	}
	if _, err := r.src.Admin.AddMember(ctx, r.op, "contoso", r.ts.ScopeGroup, name); err != nil {
		return 0, 0, err
	}
	mb, err := r.src.Store.Mailbox(ctx, user.TenantID, user.ExchangeGuid)
	if err != nil {
		return 0, 0, err
	}
	o.Owner = user.PrimarySmtpAddress
	return generateUpTo(ctx, r.src.Store, mb.ID, o, limit)
}

// addresses are the batch's target addresses.
func (r *batchRun) addresses() []string {
	var out []string
	for i := range r.o.Mailboxes {
		out = append(out, alias(i)+"@"+r.ts.TargetTenant.InitialDomain)
	}
	return out
}

// csv is a batch CSV of addresses.
func (r *batchRun) csv(addrs []string) []byte {
	b := []byte("EmailAddress\n")
	for _, a := range addrs {
		b = append(b, a+"\n"...)
	}
	return b
}

// watchHeapPeak writes a heap profile to path whenever the heap in use
// reaches a new peak, until the returned function is called ("": nothing).
func watchHeapPeak(path string) func() {
	if path == "" {
		return func() {}
	}
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		var peak uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse <= peak {
				continue
			}
			peak = ms.HeapInuse
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}()
	return func() { close(done); <-stopped }
}
