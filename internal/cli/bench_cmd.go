package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
	"github.com/tenantferry/tenantferry/internal/bench"
)

func (e *env) benchCmd() *cobra.Command {
	var o bench.Options
	var bo batchFlags
	var jsonOut bool
	var cpuProfile string
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark a native migration against the raw loopback limit and Dovecot's dsync (docs/architecture.md §9)",
		Long: `Generates a deterministic mailbox, measures the raw loopback limit (a tar
stream of the same message bytes over loopback TCP, fsynced), measures
Dovecot's dsync on the same mailbox when doveadm is installed (doveadm backup
-R over imapc from the source server's IMAP listener into a Maildir, fsync
on, then a no-change re-run; dsync reads through our IMAP server, so its
figure includes our IMAP server's cost), migrates the mailbox between two
in-process servers over loopback HTTP, and prints MB/s, items/s, the ratios
to the raw limit and to dsync, the no-change and small incremental pass
times, the completion lock window and peak RSS. Defaults give the docs/architecture.md §9
mailbox: 10,000 messages, median 8 KiB, 5% with attachments, ~500 MB.
Then a second mailbox of 5,000 events, 500 tasks and 2,000 contacts moves
the same way: the groupware line (objects/s, and against the raw limit).

With --mailboxes N, the batch mode instead: N generated mailboxes of --size
each move in one batch from an in-process source server to --nodes target
nodes sharing one database (PostgreSQL for more than one node: --db, or
TENANTFERRY_DB; the benchmark works in a fresh schema it drops afterwards)
and one blob store (a shared directory, or the S3 bucket of
--target-blob-backend s3). On PostgreSQL the nodes are 'serve' child
processes of this binary (--in-process keeps them in this process), so the
peak RSS per node is its own. The batch is completed in bulk once every user
is Synced; it prints aggregate MB/s and items/s (first start to last
Synced), the start and Synced spreads, the most passes at once, the
completion lock windows, and each node's passes, completions and peak RSS;
--reference also moves one mailbox of the same total item count in the same
run. --median, --attach-share, --attach-kb and --seed shape the messages
(--attach-share 0 for small mailboxes without attachments).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if bo.mailboxes > 0 {
				return e.runBatchBench(cmd, o, bo, cpuProfile, jsonOut)
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return usageError("--cpuprofile: %v", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			for _, name := range []string{"size", "nodes", "db", "endpoint-limit", "migration-workers", "reference", "in-process", "memprofile"} {
				if cmd.Flags().Changed(name) {
					return usageError("--%s belongs to the batch mode: add --mailboxes N", name)
				}
			}
			res, err := bench.Run(cmd.Context(), o, e.stderr)
			if err != nil {
				return err
			}
			if jsonOut || e.output == "json" {
				b, _ := json.MarshalIndent(res, "", "  ")
				fmt.Fprintln(e.stdout, string(b))
				return nil
			}
			fmt.Fprintf(e.stdout, `mailbox              %d items, %.1f MB
raw loopback limit   %.0f MB/s (%.2fs)
initial sync         %.0f MB/s, %.0f items/s (%.2fs) = %.0f%% of raw
no-change pass       %.3fs
%d new + %d flags   %.3fs
lock window          %d ms (DataConsistencyScore %s)
peak RSS             %.0f MB
`, res.Items, float64(res.Bytes)/1e6, res.RawMBps, res.RawSeconds, res.SyncMBps, res.SyncItemsPerSec, res.SyncSeconds, res.RatioToRaw*100,
				res.NoopPassSeconds, o.NewItems, o.FlagChanges, res.SmallPassSeconds, res.LockWindowMs, res.Consistency, res.PeakRSSMB)
			if res.DSyncMBps > 0 {
				fmt.Fprintf(e.stdout, `dsync initial        %.0f MB/s (%.2fs, %d items); native = %.2f x dsync
dsync no-change      %.3fs
                     (dsync reads through our IMAP server: its figures include our IMAP cost)
`, res.DSyncMBps, res.DSyncSeconds, res.DSyncItems, res.NativeToDSync, res.DSyncNoopSeconds)
			}
			if res.DSyncNote != "" {
				fmt.Fprintf(e.stdout, "dsync                %s\n", res.DSyncNote)
			}
			fmt.Fprintf(e.stdout, "groupware            %d events + %d tasks + %d contacts (%.1f MB): %.0f objects/s (%.2fs) = %.0f%% of raw (%.0f objects/s)\n",
				res.GWCalendar, res.GWTasks, res.GWContacts, float64(res.GWBytes)/1e6, res.GWItemsPerSec, res.GWSeconds, res.GWRatioToRaw*100, res.GWRawItemsPerSec)
			fmt.Fprintf(e.stdout, "load average         %s at start, %s at end\n", res.LoadAvgStart, res.LoadAvgEnd)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&o.Items, "items", 10000, "messages in the generated mailbox")
	f.IntVar(&o.Median, "median", 8<<10, "median message body size in bytes")
	f.Float64Var(&o.AttachShare, "attach-share", 0.05, "share of messages with an attachment")
	f.IntVar(&o.AttachKB, "attach-kb", 800, "attachment size in KiB")
	f.Int64Var(&o.Seed, "seed", 1, "generator seed")
	f.StringVar(&o.Dir, "dir", "", "work directory (default: a temporary directory, removed afterwards)")
	f.IntVar(&o.NewItems, "new-items", 100, "new items for the small incremental pass")
	f.IntVar(&o.FlagChanges, "flag-changes", 500, "flag changes for the small incremental pass")
	f.StringVar(&o.TargetBlobs, "target-blob-backend", "files", "the target server's blob backend: files, db or s3")
	f.StringVar(&o.S3Endpoint, "s3-endpoint", "", "S3 service URL for --target-blob-backend s3")
	f.StringVar(&o.S3Bucket, "s3-bucket", "", "existing, empty S3 bucket for --target-blob-backend s3")
	f.StringVar(&o.S3CredentialsFile, "s3-credentials-file", "", "AWS shared-credentials file (default: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
	f.IntVar(&o.GWEvents, "gw-events", 5000, "events in the groupware mailbox (its own native move)")
	f.IntVar(&o.GWTasks, "gw-tasks", 500, "tasks in the groupware mailbox")
	f.IntVar(&o.GWContacts, "gw-contacts", 2000, "contacts in the groupware mailbox")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (batch mode: of this process from the batch's creation to its completion)")
	bo.register(f, e.getenv("TENANTFERRY_DB"))
	f.BoolVar(&o.DSync, "dsync", bench.DSyncAvailable(), "also measure Dovecot's dsync reference (doveadm backup -R over imapc; default on when doveadm is installed)")
	return c
}
