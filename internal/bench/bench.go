// Package bench is tenantferry's shipped benchmark: it generates a
// deterministic mailbox, measures the raw loopback limit on the same bytes,
// optionally measures Dovecot's dsync on the same mailbox (dsync.go),
// migrates the mailbox natively between two in-process servers over
// loopback HTTP, and reports throughput, no-change and small-change
// incremental passes, the completion lock window and peak memory — as
// ratios against the reference measured in the same run (docs/architecture.md §9).
// Its batch mode (RunBatch, batch.go) moves N generated mailboxes in one
// batch to K target nodes on one database and blob store and reports the
// wave: aggregate throughput, start and Synced spreads, completion lock
// windows, passes at once, and each node's share and peak RSS.
//
// Invariants: the benchmark uses the product's real code paths (servers,
// replication API, engine, jobs, fsync on) and never asserts timings; it
// reports them.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/server"
)

// Options size the benchmark.
type Options struct {
	Items       int     // messages (default 10,000)
	Median      int     // median body bytes (default 8 KiB)
	AttachShare float64 // share of messages with an attachment (default 0.05)
	AttachKB    int     // attachment size in KiB (default 800: ~635 MB for 10,000 items, more than docs/architecture.md §9's ~500 MB)
	Seed        int64
	Dir         string // work directory (default a temporary one, removed)
	DB          string // source and target databases: "" SQLite, or a postgres:// base DSN is not supported here
	NewItems    int    // new items for the small incremental pass (default 100)
	FlagChanges int    // flag changes for the small incremental pass (default 500)
	// DSync also measures Dovecot's dsync reference (doveadm backup -R over
	// imapc from the source's IMAP listener); skipped with a note when
	// doveadm is not installed.
	DSync bool
	Log   io.Writer
	// TargetBlobs is the target server's blob backend: files (default),
	// db or s3 (then S3Endpoint, S3Bucket and S3CredentialsFile or the
	// AWS_* environment name an existing, empty bucket). The source keeps
	// files.
	TargetBlobs       string
	S3Endpoint        string
	S3Bucket          string
	S3CredentialsFile string
	// GWEvents, GWTasks and GWContacts size the groupware mailbox
	// (defaults 5,000, 500 and 2,000).
	GWEvents, GWTasks, GWContacts int
}

// Result is what the benchmark measured.
type Result struct {
	Items            int
	Bytes            int64
	GenerateSeconds  float64
	RawSeconds       float64 // tar stream of the same bytes over loopback TCP, fsynced
	RawMBps          float64
	SyncSeconds      float64 // batch start to Synced (validation + initial sync)
	SyncMBps         float64
	SyncItemsPerSec  float64
	RatioToRaw       float64 // SyncMBps / RawMBps
	NoopPassSeconds  float64 // incremental pass with no changes (engine, as recorded)
	SmallPassSeconds float64 // incremental pass with NewItems new + FlagChanges flag changes
	LockWindowMs     int64
	Consistency      string
	PeakRSSMB        float64 // peak resident memory during the migration

	// The dsync reference (zero when not measured; DSyncNote says why).
	// dsync reads through our IMAP server, so its figure includes our IMAP
	// server's cost.
	DSyncSeconds     float64 // doveadm backup -R imapc: into an empty Maildir, fsync on
	DSyncMBps        float64
	DSyncItems       int     // messages in the Maildir afterwards
	DSyncNoopSeconds float64 // the same command again, no change
	NativeToDSync    float64 // SyncMBps / DSyncMBps
	DSyncNote        string

	// The groupware line: a mailbox of GWEvents events, GWTasks tasks and
	// GWContacts contacts moved by a native initial sync.
	GWObjects           int
	GWBytes             int64
	GWSeconds           float64 // batch start to Synced
	GWItemsPerSec       float64
	GWRawSeconds        float64 // the raw loopback limit on the same bytes
	GWRawItemsPerSec    float64
	GWRatioToRaw        float64 // GWItemsPerSec / GWRawItemsPerSec
	GWCalendar          int64   // per-class counts the move reports
	GWTasks, GWContacts int64

	LoadAvgStart, LoadAvgEnd string // /proc/loadavg (1, 5, 15 min) at start and end
}

func (o *Options) defaults() {
	if o.Items == 0 {
		o.Items = 10000
	}
	if o.Median == 0 {
		o.Median = 8 << 10
	}
	if o.AttachShare == 0 {
		o.AttachShare = 0.05
	}
	if o.AttachKB == 0 {
		o.AttachKB = 800
	}
	if o.NewItems == 0 {
		o.NewItems = 100
	}
	if o.FlagChanges == 0 {
		o.FlagChanges = 500
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.GWEvents == 0 {
		o.GWEvents = 5000
	}
	if o.GWTasks == 0 {
		o.GWTasks = 500
	}
	if o.GWContacts == 0 {
		o.GWContacts = 2000
	}
}

// Run runs the benchmark, printing progress to progress.
func Run(ctx context.Context, o Options, progress io.Writer) (*Result, error) {
	o.defaults()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "tenantferry-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		if o.DSync && os.Geteuid() == 0 {
			os.Chmod(d, 0o711) // dsync's mail user (nobody) must reach its Maildir below
		}
		dir = d
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	start := func(name string) (*server.Server, error) {
		cfg := config.Default()
		cfg.DataDir = filepath.Join(dir, name)
		cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = "127.0.0.1:0", "off", "off", "off"
		cfg.EndpointAllow = []string{"127.0.0.0/8"} // the two servers talk over loopback
		if name == "source" && o.DSync {
			cfg.IMAP = "127.0.0.1:0" // dsync's imapc reads the source over IMAP
		}
		cfg.DB = o.DB
		if name == "target" && o.TargetBlobs != "" {
			cfg.BlobBackend = o.TargetBlobs
			cfg.S3Endpoint, cfg.S3Bucket, cfg.S3CredentialsFile = o.S3Endpoint, o.S3Bucket, o.S3CredentialsFile
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		s, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logw, nil)))
		if err != nil {
			return nil, err
		}
		return s, s.Start(ctx)
	}
	src, err := start("source")
	if err != nil {
		return nil, err
	}
	defer src.Shutdown(context.Background())
	tgt, err := start("target")
	if err != nil {
		return nil, err
	}
	defer tgt.Shutdown(context.Background())
	op := &admin.Principal{Operator: true, Name: "bench"}
	res := &Result{Items: o.Items, LoadAvgStart: loadAvg()}

	// 1. Generate the source mailbox.
	if _, err := src.Admin.CreateTenant(ctx, op, "contoso"); err != nil {
		return nil, err
	}
	if _, err := tgt.Admin.CreateTenant(ctx, op, "fabrikam"); err != nil {
		return nil, err
	}
	user, err := src.Admin.CreateRecipient(ctx, op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: "bench", Password: "bench-pw"})
	if err != nil {
		return nil, err
	}
	mb, err := src.Store.Mailbox(ctx, user.TenantID, user.ExchangeGuid)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "generating %d messages (median %d B, %.0f%% with %d KiB attachments)...\n", o.Items, o.Median, o.AttachShare*100, o.AttachKB)
	t0 := time.Now()
	if res.Bytes, err = generate(ctx, src.Store, mb.ID, mailgen.Options{Seed: o.Seed, Count: o.Items, Owner: user.PrimarySmtpAddress,
		Median: o.Median, Attach: o.AttachShare, AttachKB: o.AttachKB}); err != nil {
		return nil, err
	}
	res.GenerateSeconds = time.Since(t0).Seconds()
	fmt.Fprintf(progress, "  %d messages, %s in %.1fs\n", o.Items, mb_(res.Bytes), res.GenerateSeconds)

	// 2. The raw loopback limit on the same bytes.
	fmt.Fprintf(progress, "measuring the raw loopback limit (tar stream of the same bytes over TCP, fsynced)...\n")
	raw, err := rawLoopback(ctx, src.Store, mb.ID, filepath.Join(dir, "raw.tar"))
	if err != nil {
		return nil, err
	}
	res.RawSeconds = raw.Seconds()
	res.RawMBps = mbps(res.Bytes, raw)
	fmt.Fprintf(progress, "  %.0f MB/s\n", res.RawMBps)

	// 2b. Dovecot's dsync on the same mailbox, before the native sync.
	switch {
	case !o.DSync:
		res.DSyncNote = "not measured (--dsync=false)"
	case !DSyncAvailable():
		res.DSyncNote = "not measured: doveadm is not installed (Debian: dovecot-imapd)"
	default:
		fmt.Fprintf(progress, "Dovecot dsync reference (doveadm backup -R over imapc from the source's IMAP listener into a Maildir, fsync on; it reads through our IMAP server)...\n")
		d, err := dsyncReference(ctx, src.Addr("imap"), user.PrimarySmtpAddress, "bench-pw", dir)
		if err != nil {
			res.DSyncNote = "failed: " + err.Error()
			fmt.Fprintf(progress, "  dsync %s\n", res.DSyncNote)
			break
		}
		res.DSyncSeconds, res.DSyncNoopSeconds, res.DSyncItems = d.initial.Seconds(), d.noop.Seconds(), d.items
		res.DSyncMBps = mbps(res.Bytes, d.initial)
		fmt.Fprintf(progress, "  %d messages in %.2fs: %.0f MB/s; no-change re-run %.3fs\n", d.items, res.DSyncSeconds, res.DSyncMBps, res.DSyncNoopSeconds)
		if d.items != o.Items {
			res.DSyncNote = fmt.Sprintf("the Maildir holds %d of %d messages", d.items, o.Items)
		}
	}

	// 3. Trust, prepare, batch: the initial sync.
	ts, err := admin.SetupMigrationTrust(ctx, src.Admin, op, "contoso", src.PublicURL, tgt.Admin, op, "fabrikam")
	if err != nil {
		return nil, err
	}
	if _, err := src.Admin.AddMember(ctx, op, "contoso", ts.ScopeGroup, "bench"); err != nil {
		return nil, err
	}
	csv := []byte("EmailAddress\nbench@" + ts.TargetTenant.InitialDomain + "\n")
	if _, err := tgt.Admin.PrepareMailUsers(ctx, op, "fabrikam", ts.Endpoint, csv, ts.TargetTenant.InitialDomain, false); err != nil {
		return nil, err
	}
	resetPeakRSS()
	fmt.Fprintf(progress, "initial sync (native replication over loopback HTTP)...\n")
	t0 = time.Now()
	if _, err := tgt.Admin.CreateBatch(ctx, op, "fabrikam", migration.BatchSpec{Name: "bench", Endpoint: ts.Endpoint, CSV: csv,
		TargetDeliveryDomain: ts.TargetTenant.InitialDomain, AutoStart: true}); err != nil {
		return nil, err
	}
	u, err := waitUser(ctx, tgt, op, "bench", func(u *migration.UserView) bool { return u.Status == migration.StateSynced && u.StatusDetail == "" })
	if err != nil {
		return nil, err
	}
	sync := time.Since(t0)
	res.SyncSeconds = sync.Seconds()
	res.SyncMBps = mbps(res.Bytes, sync)
	res.SyncItemsPerSec = float64(o.Items) / sync.Seconds()
	res.RatioToRaw = res.SyncMBps / res.RawMBps
	fmt.Fprintf(progress, "  %d items, %s in %.2fs: %.0f MB/s, %.0f items/s (%.0f%% of raw)\n", u.ItemsSynced, mb_(u.BytesTransferred),
		res.SyncSeconds, res.SyncMBps, res.SyncItemsPerSec, res.RatioToRaw*100)
	if res.DSyncMBps > 0 {
		res.NativeToDSync = res.SyncMBps / res.DSyncMBps
	}

	// 4. A no-change incremental pass.
	if res.NoopPassSeconds, err = incremental(ctx, tgt, op); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "no-change incremental pass: %.3fs\n", res.NoopPassSeconds)

	// 5. NewItems new messages and FlagChanges flag changes.
	if err := change(ctx, src.Store, mb.ID, o); err != nil {
		return nil, err
	}
	if res.SmallPassSeconds, err = incremental(ctx, tgt, op); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "incremental pass with %d new items and %d flag changes: %.3fs\n", o.NewItems, o.FlagChanges, res.SmallPassSeconds)

	// 6. Completion: the lock window.
	if _, err := tgt.Admin.BatchCommand(ctx, op, "fabrikam", "bench", admin.BatchComplete, false); err != nil {
		return nil, err
	}
	u, err = waitUser(ctx, tgt, op, "bench", func(u *migration.UserView) bool {
		return u.Status == migration.StateCompleted || u.Status == migration.StateCompletedWithWarnings
	})
	if err != nil {
		return nil, err
	}
	res.LockWindowMs, res.Consistency = u.LockWindowMs, u.DataConsistencyScore
	res.PeakRSSMB = peakRSSMB()
	res.LoadAvgEnd = loadAvg()
	fmt.Fprintf(progress, "completion: lock window %d ms, DataConsistencyScore %s; peak RSS %.0f MB\n", res.LockWindowMs, res.Consistency, res.PeakRSSMB)

	// 7. Calendars and contacts: a second mailbox of events, tasks and
	// contacts, its raw limit and its initial sync.
	if err := groupwarePhase(ctx, src, tgt, op, ts, o, dir, progress, res); err != nil {
		return nil, err
	}
	return res, nil
}

// waitUser polls a benchmark batch's single user until done reports true.
func waitUser(ctx context.Context, s *server.Server, op *admin.Principal, batch string, done func(*migration.UserView) bool) (*migration.UserView, error) {
	for {
		us, err := s.Admin.BatchUsers(ctx, op, "fabrikam", batch)
		if err != nil {
			return nil, err
		}
		if len(us) != 1 {
			return nil, errs.Internalf(nil, "benchmark batch has %d users", len(us))
		}
		u := us[0]
		if u.Status == migration.StateFailed {
			return nil, errs.New(errs.Internal, "BenchmarkFailed", "the move failed: %+v", u.Error)
		}
		if done(u) {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// incremental runs sync-now and returns the engine time of the pass.
func incremental(ctx context.Context, s *server.Server, op *admin.Principal) (float64, error) {
	before, err := s.Admin.BatchUsers(ctx, op, "fabrikam", "bench")
	if err != nil {
		return 0, err
	}
	last := before[0].LastSuccessfulSyncTime
	if _, err := s.Admin.BatchCommand(ctx, op, "fabrikam", "bench", admin.BatchSyncNow, false); err != nil {
		return 0, err
	}
	u, err := waitUser(ctx, s, op, "bench", func(u *migration.UserView) bool {
		return u.Status == migration.StateSynced && u.StatusDetail == "" && u.LastSuccessfulSyncTime != nil && (last == nil || u.LastSuccessfulSyncTime.After(*last))
	})
	if err != nil {
		return 0, err
	}
	d, err := time.ParseDuration(u.LastSyncDuration)
	return d.Seconds(), err
}

// change adds new messages and changes flags on the source.
func change(ctx context.Context, st *mailstore.Store, mailboxID int64, o Options) error {
	if _, err := generate(ctx, st, mailboxID, mailgen.Options{Seed: o.Seed + 1000, Count: o.NewItems, Median: o.Median, Attach: o.AttachShare, AttachKB: o.AttachKB}); err != nil {
		return err
	}
	inbox, err := st.FolderBySpecialUse(ctx, mailboxID, mailstore.UseInbox)
	if err != nil {
		return err
	}
	snap, err := st.Select(ctx, mailboxID, inbox.ID)
	if err != nil {
		return err
	}
	var set mailstore.UIDSet
	for i := 0; i < o.FlagChanges && i < len(snap.Messages); i++ {
		set = append(set, mailstore.UIDRange{Start: snap.Messages[i].UID, Stop: snap.Messages[i].UID})
	}
	_, err = st.StoreFlags(ctx, mailboxID, inbox.ID, set, mailstore.FlagsAdd, []string{"$BenchChanged"})
	return err
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func mb_(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
