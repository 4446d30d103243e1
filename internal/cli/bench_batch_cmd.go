package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tenantferry/tenantferry/internal/bench"
	"github.com/tenantferry/tenantferry/internal/units"
)

// batchFlags are the flags of `bench --mailboxes N` (the batch mode).
type batchFlags struct {
	mailboxes, messages, nodes, endpointLimit, workers int
	size, db, memProfile                               string
	reference, inProcess                               bool
}

func (b *batchFlags) register(f *pflag.FlagSet, envDB string) {
	f.IntVar(&b.mailboxes, "mailboxes", 0, "batch mode: move this many generated mailboxes in one batch (0: the single-mailbox benchmark)")
	f.StringVar(&b.size, "size", "200KB", "batch mode: size of each mailbox (200KB, 100MB; messages are generated until the next would pass it)")
	f.IntVar(&b.messages, "messages", 0, "batch mode: messages in each mailbox, instead of --size (the issue's 200-small-mailbox batch: --mailboxes 200 --messages 200)")
	f.IntVar(&b.nodes, "nodes", 1, "batch mode: target nodes sharing the database and blob store (more than 1 needs --db postgres://...)")
	f.StringVar(&b.db, "db", envDB, "batch mode: the target nodes' PostgreSQL (postgres://...; a fresh schema is created and dropped); default TENANTFERRY_DB, else SQLite")
	f.IntVar(&b.endpointLimit, "endpoint-limit", 0, "batch mode: the endpoint's MaxConcurrentMigrations (0: the default, 100)")
	f.IntVar(&b.workers, "migration-workers", 0, "batch mode: each node's --migration-workers (0: the default, from the cores)")
	f.BoolVar(&b.reference, "reference", false, "batch mode: also move one mailbox of the batch's total item count (the one-big-mailbox items/s)")
	f.BoolVar(&b.inProcess, "in-process", false, "batch mode: run the target nodes in this process instead of as 'serve' child processes")
	f.StringVar(&b.memProfile, "memprofile", "", "batch mode: write a heap profile of this process at its peak heap during the sync to this file (with --in-process it includes the nodes)")
}

// runBatchBench runs the batch mode and prints its result.
func (e *env) runBatchBench(cmd *cobra.Command, o bench.Options, b batchFlags, cpuProfile string, jsonOut bool) error {
	size, err := units.ParseBytes(b.size)
	if err != nil || size <= 0 {
		return usageError("--size: %q is not a size such as 200KB or 100MB", b.size)
	}
	bo := bench.BatchOptions{Mailboxes: b.mailboxes, Size: size, Messages: b.messages, Median: o.Median, AttachShare: o.AttachShare, AttachKB: o.AttachKB,
		Seed: o.Seed, Nodes: b.nodes, DB: b.db, MigrationWorkers: b.workers, EndpointLimit: b.endpointLimit, Reference: b.reference,
		TargetBlobs: o.TargetBlobs, S3Endpoint: o.S3Endpoint, S3Bucket: o.S3Bucket, S3CredentialsFile: o.S3CredentialsFile, MemProfile: b.memProfile, Dir: o.Dir, Log: e.stderr}
	if bo.DB != "" && !b.inProcess {
		if bo.NodeBinary, err = os.Executable(); err != nil {
			return err
		}
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return usageError("--cpuprofile: %v", err)
		}
		defer f.Close()
		bo.CPUProfile = f
	}
	res, err := bench.RunBatch(cmd.Context(), bo, e.stderr)
	if err != nil {
		return err
	}
	if jsonOut || e.output == "json" {
		out, _ := json.MarshalIndent(res, "", "  ")
		fmt.Fprintln(e.stdout, string(out))
		return nil
	}
	fmt.Fprintf(e.stdout, `batch                %d mailboxes, %s items, %.1f MB; %d node(s) %s on %s, blobs %s; MaxConcurrentMigrations %d
initial sync         %.1f MB/s, %.0f items/s (first start to last Synced %.2fs; batch created to last Synced %.2fs)
start spread         %.2fs (first to last start)
Synced spread        %.2fs (first to last Synced)
passes at once       %d (from the users' histories; %d seen by polling), %.1f on average
per pass             validating %d/%d/%d ms, copying %d/%d/%d ms (min/median/max); CPU during the sync: %.1fs benchmark process (source%s)
bulk completion      %.2fs; lock windows min %d ms, median %d ms, max %d ms (DataConsistencyScore %s for all)
`, res.Mailboxes, units.Count(res.Items), float64(res.Bytes)/1e6, res.Nodes, res.NodeMode, res.DB, res.TargetBlobs, res.EndpointLimit,
		res.MBps, res.ItemsPerSec, res.SyncSeconds, res.BatchSeconds, res.StartSpreadSeconds, res.SyncedSpreadSeconds,
		res.MaxConcurrent, res.MaxSampled, res.MeanConcurrent, res.ValidateMs.Min, res.ValidateMs.Median, res.ValidateMs.Max, res.CopyMs.Min, res.CopyMs.Median, res.CopyMs.Max,
		res.BenchCPUSeconds, map[bool]string{true: " and nodes", false: ""}[res.NodeMode == "in-process"], res.CompletionSeconds, res.LockWindowMs.Min, res.LockWindowMs.Median, res.LockWindowMs.Max, res.Consistency)
	for _, n := range res.NodeStats {
		fmt.Fprintf(e.stdout, "%-20s %d initial passes, %d completions, %s items (%.1f MB) copied; CPU during the sync %.1fs; peak RSS %.0f MB\n",
			n.Name, n.Moves, n.Completions, units.Count(n.ItemsCopied), float64(n.BytesCopied)/1e6, n.SyncCPUSeconds, n.PeakRSSMB)
	}
	if res.NodeMode == "in-process" {
		fmt.Fprintf(e.stdout, "                     (in-process nodes: the peak RSS is this process's, source server included)\n")
	}
	if res.RefItems > 0 {
		fmt.Fprintf(e.stdout, "one big mailbox      %s items, %.1f MB: %.0f items/s, %.1f MB/s (%.2fs); the batch = %.0f%% of its items/s\n",
			units.Count(res.RefItems), float64(res.RefBytes)/1e6, res.RefItemsPerSec, res.RefMBps, res.RefSeconds, res.RatioToRef*100)
	}
	fmt.Fprintf(e.stdout, "setup                %.1fs generating the source mailboxes\nload average         %s at start, %s at end\n",
		res.GenerateSeconds, res.LoadAvgStart, res.LoadAvgEnd)
	return nil
}
