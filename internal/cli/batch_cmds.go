package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/units"
)

// readCSV reads the --csv file.
func readCSV(path string) (string, error) {
	if path == "" {
		return "", usageError("--csv FILE is required")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageError("cannot read --csv: %v", err)
	}
	return string(b), nil
}

var batchCols = []string{"Name", "Status", "TotalCount", "SyncedCount", "FinalizedCount", "FailedCount", "Endpoint"}
var userCols = []string{"EmailAddress", "Status", "PercentComplete", "ItemsSynced", "ItemsTotal", "ItemsSkipped", "MailItems", "CalendarItems", "ContactItems", "TaskItems", "DataConsistencyScore"}

func (e *env) batchCmd() *cobra.Command {
	var name, endpoint, csvFile, tdd, startAfter, completeAfter, interval, notify, reportInterval, pwc string
	var autoStart, autoComplete, notifyUsers bool
	var content contentArgs
	var create *cobra.Command
	create = e.apiCmd("create", "Create a migration batch from a CSV", cobra.NoArgs, true, view{},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			csv, err := readCSV(csvFile)
			if err != nil {
				return nil, err
			}
			body := apitypes.BatchCreate{Name: name, Endpoint: endpoint, Csv: csv,
				TargetDeliveryDomain: tdd, AutoStart: autoStart, AutoComplete: autoComplete, StartAfter: startAfter,
				CompleteAfter: completeAfter, IncrementalSyncInterval: interval,
				NotificationEmails: notify, ReportInterval: reportInterval, NotifyUsers: notifyUsers, PasswordContinuity: pwc}
			content.into(create, &body.ItemLimits, &body.ContentFilter)
			return c.do(ctx, http.MethodPost, tp+"/batches", body)
		})
	f := create.Flags()
	f.StringVar(&name, "name", "", "batch name; required")
	f.StringVar(&endpoint, "endpoint", "", "migration endpoint; required")
	f.StringVar(&csvFile, "csv", "", "CSV file with an EmailAddress column (target addresses); required")
	f.StringVar(&tdd, "target-delivery-domain", "", "target delivery domain; required except for an IMAP endpoint")
	f.BoolVar(&autoStart, "auto-start", false, "start the batch at once (or at --start-after)")
	f.BoolVar(&autoComplete, "auto-complete", false, "complete each user as soon as it is synced (or at --complete-after)")
	f.StringVar(&startAfter, "start-after", "", "start at this time (RFC 3339)")
	f.StringVar(&completeAfter, "complete-after", "", "complete at this time (RFC 3339)")
	f.StringVar(&interval, "incremental-sync-interval", "", "time between incremental syncs (default 24h, at least 1m)")
	content.flags(f)
	f.StringVar(&notify, "notification-emails", "", "addresses (comma-separated) that get the batch's reports when it is synced and when it is completed")
	f.StringVar(&reportInterval, "report-interval", "", "also mail the report this often while the batch runs (e.g. 24h; at least 1m)")
	f.BoolVar(&notifyUsers, "notify-users", false, "mail each user before its cutover (to the source address) and after it (to the new mailbox), from the tenant's migration templates")
	f.StringVar(&pwc, "password-continuity", "none", "none; carry (a same-server move keeps the user's password); link (the before-cutover mail carries a one-time set-password link; implies --notify-users)")
	create.Example = `  tenantferry batch create --tenant fabrikam --name wave1 --endpoint contoso-ep --csv wave1.csv \
    --target-delivery-domain fabrikam.tenantferry.test --auto-start --large-item-limit 10 --notification-emails it@fabrikam.example`

	action := func(verb, short string) *cobra.Command {
		var approve bool
		var at string
		c := e.apiCmd(verb+" N", short, cobra.ExactArgs(1), true, view{},
			func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodPost, tp+"/batches/"+esc(a[0])+"/"+verb, apitypes.BatchAction{ApproveSkippedItems: approve, CompleteAfter: at})
			})
		switch verb {
		case "complete":
			c.Flags().BoolVar(&approve, "approve-skipped-items", false, "complete even if skipped items make the DataConsistencyScore Investigate")
			c.Flags().StringVar(&at, "complete-after", "", "complete at this time (RFC 3339) instead of now")
			c.Example = `  tenantferry batch complete --tenant fabrikam wave1
  tenantferry batch complete --tenant fabrikam wave1 --complete-after 2026-12-05T22:00:00Z --yes`
			return e.confirmed(c, confirmation{typed: true, warn: func(n string) string {
				return "Completing batch " + n + " cuts its users over: each source mailbox becomes a MailUser forwarding to the target; this cannot be undone"
			}})
		case "remove":
			return e.confirmed(c, confirmation{warn: func(n string) string {
				return "This removes batch " + n + " (its reports stay; staged copies of unfinished moves are deleted)"
			}})
		}
		return c
	}
	var user, format string
	report := e.apiCmd("report N", "Show the users' reports: statistics, skipped items, log", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			q := ""
			if user != "" {
				q = "?user=" + url.QueryEscape(user)
			}
			switch format {
			case "", "json":
			case "csv":
			default:
				return nil, usageError("--format must be json or csv, not %q", format)
			}
			raw, err := c.do(ctx, http.MethodGet, tp+"/batches/"+esc(a[0])+"/report"+q, nil)
			if err == nil && format == "" && e.output == "table" {
				return nil, printReport(e.stdout, raw) // printed here: summary, skipped items, log lines
			}
			if err != nil || format != "csv" {
				return raw, err
			}
			rows, err := reportRows(raw)
			if err != nil {
				return nil, err
			}
			return nil, printCSV(e.stdout, rows) // printed here: nothing left to print
		})
	report.Flags().StringVar(&user, "user", "", "only this user")
	report.Flags().StringVar(&format, "format", "", "json (every detail) or csv (one row per user: statistics, skipped items, last log line)")
	return group("batch", "Manage migration batches",
		create,
		e.batchSetCmd(),
		e.batchAddUsersCmd(),
		action("start", "Start a batch"),
		action("stop", "Stop a batch"),
		action("sync-now", "Run an incremental sync now"),
		action("complete", "Complete a batch (cutover)"),
		action("remove", "Remove a batch (history stays)"),
		e.apiCmd("show N", "Show a batch", cobra.ExactArgs(1), true, view{}, get(sub("/batches", true))),
		e.apiCmd("list", "List batches", cobra.NoArgs, true, view{batchCols}, get(sub("/batches", false))),
		e.listCmd("users N", "List a batch's users with statistics", cobra.ExactArgs(1), true, view{userCols},
			func(tp string, a []string) string { return tp + "/batches/" + esc(a[0]) + "/users" }),
		report,
		e.batchDryRunCmd(),
		e.watchCmd(),
	)
}

func (e *env) endpointTestCmd() *cobra.Command {
	var mailbox, tdd string
	c := e.apiCmd("test N", "Test an endpoint (and a mailbox): one line per check", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			raw, err := c.do(ctx, http.MethodPost, tp+"/endpoints/"+esc(a[0])+"/test", apitypes.EndpointTest{TestMailbox: mailbox, TargetDeliveryDomain: tdd})
			if err != nil {
				return nil, err
			}
			var r struct {
				Result, Message string
				Checks          []struct{ Name, Result, Code, Message string }
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, err
			}
			if e.output == "table" {
				for _, ch := range r.Checks {
					code := ch.Code
					if code == "" {
						code = "-"
					}
					e.printf("%-8s %-22s %-24s %s\n", ch.Result, ch.Name, code, ch.Message)
				}
				e.printf("Result: %s\n", r.Result)
			} else if err := e.print(raw, view{}); err != nil {
				return nil, err
			}
			if r.Result != "Success" {
				return nil, errs.New(errs.Conflict, "EndpointTestFailed", "%s", r.Message)
			}
			return nil, nil
		})
	c.Flags().StringVar(&mailbox, "test-mailbox", "", "target address of a user to test every move check for")
	c.Flags().StringVar(&tdd, "target-delivery-domain", "", "check the delivery-domain proxy for this domain")
	return c
}

func (e *env) prepareCmd() *cobra.Command {
	var endpoint, csvFile, tdd string
	var dryRun bool
	c := e.apiCmd("prepare", "Create or stamp target MailUsers from the source identities", cobra.NoArgs, true,
		view{[]string{"Line", "EmailAddress", "SourceEmailAddress", "Action", "Changes", "Error"}},
		func(ctx context.Context, c *client, tp string, _ []string) ([]byte, error) {
			csv, err := readCSV(csvFile)
			if err != nil {
				return nil, err
			}
			return c.do(ctx, http.MethodPost, tp+"/mailusers/prepare", apitypes.MailUsersPrepare{Endpoint: endpoint, Csv: csv,
				TargetDeliveryDomain: tdd, DryRun: dryRun})
		})
	c.Flags().StringVar(&endpoint, "endpoint", "", "migration endpoint of the source; required")
	c.Flags().StringVar(&csvFile, "csv", "", "CSV with EmailAddress (target) and optional SourceEmailAddress; required")
	c.Flags().StringVar(&tdd, "target-delivery-domain", "", "domain of the proxy to add (default: the tenant's initial domain)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show the changes without making them")
	return c
}

// watchPoll is how often batch watch refreshes.
const watchPoll = time.Second

// filterArgs are the content filter flags of batch create and move.
type filterArgs struct {
	since, before             string
	include, exclude, mapping []string
}

func (a *filterArgs) flags(f *pflag.FlagSet) {
	f.StringVar(&a.since, "since", "", "copy only items whose internal date is on or after this date (YYYY-MM-DD or RFC 3339)")
	f.StringVar(&a.before, "before", "", "copy only items whose internal date is before this date (YYYY-MM-DD or RFC 3339)")
	f.StringArrayVar(&a.include, "include-folder", nil, `copy only these folders and their subfolders: a path glob ("Projects/*") or a special use ("\Sent"); repeatable`)
	f.StringArrayVar(&a.exclude, "exclude-folder", nil, `never copy these folders and their subfolders: a path glob or a special use ("\Junk"); repeatable`)
	f.StringArrayVar(&a.mapping, "map-folder", nil, `rename folders: "REGEX -> REPLACEMENT" on the source path, e.g. "^INBOX/(.*)$ -> $1"; the first match wins; repeatable`)
}

func (a *filterArgs) into(f *apitypes.ContentFilter) {
	f.Since, f.Before, f.IncludeFolders, f.ExcludeFolders, f.MapFolders = a.since, a.before, a.include, a.exclude, a.mapping
}

// contentArgs are what batch create and move copy: the item limits and
// the content filter.
type contentArgs struct {
	maxSize, large, bad int64
	filter              filterArgs
}

func (a *contentArgs) flags(f *pflag.FlagSet) {
	itemLimitFlags(f, &a.maxSize, &a.large, &a.bad)
	a.filter.flags(f)
}

// into puts the flags into a request body (the counts only when given:
// absent, they are unlimited).
func (a *contentArgs) into(c *cobra.Command, l *apitypes.ItemLimits, f *apitypes.ContentFilter) {
	l.MaxItemSize = a.maxSize
	l.LargeItemLimit, l.BadItemLimit = ifChanged(c, "large-item-limit", a.large), ifChanged(c, "bad-item-limit", a.bad)
	a.filter.into(f)
}

// ifChanged returns the flag's value for a request field sent only when
// the flag was given (nil: absent, the server keeps or defaults it).
func ifChanged[T any](c *cobra.Command, flag string, v T) *T {
	if !c.Flags().Changed(flag) {
		return nil
	}
	return &v
}

// itemLimitFlags declares --max-item-size, --large-item-limit and
// --bad-item-limit (Exchange's counts; -1 unlimited).
func itemLimitFlags(f *pflag.FlagSet, maxSize, large, bad *int64) {
	f.Int64Var(maxSize, "max-item-size", 0, "skip items larger than this many bytes as large items (default 150 MiB)")
	f.Int64Var(large, "large-item-limit", -1, "how many large items a user may skip before it fails (-1: unlimited)")
	f.Int64Var(bad, "bad-item-limit", -1, "how many bad (unreadable or invalid) items a user may skip before it fails (-1: unlimited)")
}

// batchSetCmd is `batch set` (Set-MigrationBatch): only the flags given
// are sent.
func (e *env) batchSetCmd() *cobra.Command {
	var startAfter, completeAfter, interval, notify, reportInterval string
	var autoComplete bool
	var maxSize, large, bad int64
	var c *cobra.Command
	c = e.apiCmd("set N", "Change a batch: its schedule, auto-completion, incremental sync interval, item limits, notification addresses, report interval",
		cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, cl *client, tp string, a []string) ([]byte, error) {
			body := apitypes.BatchSet{StartAfter: ifChanged(c, "start-after", startAfter), CompleteAfter: ifChanged(c, "complete-after", completeAfter),
				AutoComplete: ifChanged(c, "auto-complete", autoComplete), IncrementalSyncInterval: ifChanged(c, "incremental-sync-interval", interval),
				MaxItemSize: ifChanged(c, "max-item-size", maxSize), LargeItemLimit: ifChanged(c, "large-item-limit", large),
				BadItemLimit: ifChanged(c, "bad-item-limit", bad), NotificationEmails: ifChanged(c, "notification-emails", notify),
				ReportInterval: ifChanged(c, "report-interval", reportInterval)}
			return cl.do(ctx, http.MethodPatch, tp+"/batches/"+esc(a[0]), body)
		})
	f := c.Flags()
	f.StringVar(&startAfter, "start-after", "", `start at this time (RFC 3339; "" clears it)`)
	f.StringVar(&completeAfter, "complete-after", "", `complete at this time (RFC 3339; "" clears it)`)
	f.BoolVar(&autoComplete, "auto-complete", false, "complete each user as soon as it is synced (or at --complete-after)")
	f.StringVar(&interval, "incremental-sync-interval", "", "time between incremental syncs (at least 1m)")
	itemLimitFlags(f, &maxSize, &large, &bad)
	f.StringVar(&notify, "notification-emails", "", "addresses (comma-separated) that get the batch's reports")
	f.StringVar(&reportInterval, "report-interval", "", "also mail the report this often while the batch runs (at least 1m; 0: only when synced and completed)")
	c.Example = `  tenantferry batch set wave1 --tenant fabrikam --complete-after 2026-12-24T18:00:00Z --notification-emails it@fabrikam.example
  tenantferry batch set wave1 --tenant fabrikam --large-item-limit 20 --bad-item-limit 5 --report-interval 12h`
	return c
}

// batchAddUsersCmd is `batch add-users N --csv F`.
func (e *env) batchAddUsersCmd() *cobra.Command {
	var csvFile string
	c := e.apiCmd("add-users N", "Add the users of a CSV to a batch (queued at once in a started batch)", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			csv, err := readCSV(csvFile)
			if err != nil {
				return nil, err
			}
			return c.do(ctx, http.MethodPost, tp+"/batches/"+esc(a[0])+"/users", apitypes.BatchAddUsers{Csv: csv})
		})
	c.Flags().StringVar(&csvFile, "csv", "", "CSV file with an EmailAddress column (the users to add); required")
	return c
}

// migrationUserCmd is `migrationuser` (Get/Stop/Start/Remove-MigrationUser):
// one user of an active batch, by target address.
func (e *env) migrationUserCmd() *cobra.Command {
	userPath := func(tp string, a []string) string { return tp + "/migration-users/" + esc(a[0]) }
	action := func(verb, short string) *cobra.Command {
		var approve bool
		c := e.apiCmd(verb+" ADDRESS", short, cobra.ExactArgs(1), true, view{},
			func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodPost, userPath(tp, a)+"/"+verb, apitypes.MigrationUserAction{ApproveSkippedItems: approve})
			})
		switch verb {
		case "complete":
			c.Flags().BoolVar(&approve, "approve-skipped-items", false, "complete even if skipped items make the DataConsistencyScore Investigate")
			return e.confirmed(c, confirmation{warn: func(n string) string {
				return "This cuts " + n + " over now: its source mailbox becomes a MailUser forwarding here; this cannot be undone"
			}})
		case "remove":
			return e.confirmed(c, confirmation{warn: func(n string) string {
				return "This takes " + n + " out of its batch; the staged copy of an unfinished move is deleted"
			}})
		}
		return c
	}
	var completeAfter string
	var large, bad int64
	var set *cobra.Command
	set = e.apiCmd("set ADDRESS", "Change one user's own CompleteAfter and item limits (they win over its batch's)", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			body := apitypes.MigrationUserSet{CompleteAfter: ifChanged(set, "complete-after", completeAfter),
				LargeItemLimit: ifChanged(set, "large-item-limit", large), BadItemLimit: ifChanged(set, "bad-item-limit", bad)}
			return c.do(ctx, http.MethodPatch, userPath(tp, a), body)
		})
	set.Flags().StringVar(&completeAfter, "complete-after", "", `complete this user at this time (RFC 3339; "" returns it to its batch's schedule)`)
	set.Flags().Int64Var(&large, "large-item-limit", -2, "large items this user may skip (-1: unlimited, -2: its batch's)")
	set.Flags().Int64Var(&bad, "bad-item-limit", -2, "bad items this user may skip (-1: unlimited, -2: its batch's)")
	set.Example = `  tenantferry migrationuser set --tenant fabrikam ann@fabrikam.example --large-item-limit 3
  tenantferry migrationuser start --tenant fabrikam ann@fabrikam.example`
	return group("migrationuser", "Control one user of a migration batch",
		set,
		e.apiCmd("list", "List the users of the tenant's active batches", cobra.NoArgs, true, view{append([]string{"Batch"}, userCols...)},
			get(func(tp string, _ []string) string { return tp + "/migration-users" })),
		e.apiCmd("show ADDRESS", "Show one user's status and statistics", cobra.ExactArgs(1), true, view{}, get(userPath)),
		action("stop", "Stop one user (a syncing one after its current chunk)"),
		action("start", "Resume one stopped or failed user (or sync a synced one now)"),
		action("remove", "Take one user out of its batch; staged content of an unfinished move is deleted"),
		action("complete", "Complete one user now (cutover), the rest of its batch staying"),
		action("approve-skipped-items", "Approve one user's skipped items; a completion they stopped goes on"),
		action("resync", "Compare the user's whole source with the target again and repair the differences (after a Poor DataConsistencyScore)"),
	)
}

// reportRows turns `batch report` JSON into one row per user for CSV
// (Exchange's "download report for users"): the statistics in the
// report's order, then the number and a summary of the skipped items and
// the last log line.
func reportRows(raw []byte) (any, error) {
	val, err := decodeOrdered(raw)
	if err != nil {
		return nil, err
	}
	users, _ := val.([]any)
	for _, u := range users {
		m, ok := u.(*omap)
		if !ok {
			continue
		}
		var parts []string
		skipped, _ := m.vals["SkippedItems"].([]any)
		for _, x := range skipped {
			if sk, ok := x.(*omap); ok {
				parts = append(parts, fmt.Sprintf("%s/%s (%s bytes, %s)", format(sk.vals["Folder"]), format(sk.vals["Subject"]), format(sk.vals["Size"]), format(sk.vals["Reason"])))
			}
		}
		last := ""
		if log, _ := m.vals["Report"].([]any); len(log) > 0 {
			if l, ok := log[len(log)-1].(*omap); ok {
				last = format(l.vals["Level"]) + ": " + format(l.vals["Message"])
			}
		}
		keys := m.keys[:0]
		for _, k := range m.keys {
			if k != "SkippedItems" && k != "Report" {
				keys = append(keys, k)
			}
		}
		m.keys = append(keys, "SkippedItemCount", "SkippedItemList", "LastLogLine")
		m.vals["SkippedItemCount"], m.vals["SkippedItemList"], m.vals["LastLogLine"] = fmt.Sprint(len(skipped)), strings.Join(parts, "; "), last
	}
	return val, nil
}

// moveCmd is `move ADDRESS` (New-MoveRequest): a single move, run as a
// one-user batch named move-ADDRESS and started at once.
func (e *env) moveCmd() *cobra.Command {
	var endpoint, tdd, user, password, completeAfter, notify string
	var suspend bool
	var content contentArgs
	var c *cobra.Command
	c = e.apiCmd("move ADDRESS", "Move one mailbox (New-MoveRequest): a one-user batch named for it, started at once", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, cl *client, tp string, a []string) ([]byte, error) {
			body := apitypes.Move{EmailAddress: a[0], Endpoint: endpoint, TargetDeliveryDomain: tdd, UserName: user, Password: password,
				SuspendWhenReadyToComplete: suspend, CompleteAfter: completeAfter, NotificationEmails: notify}
			content.into(c, &body.ItemLimits, &body.ContentFilter)
			return cl.do(ctx, http.MethodPost, tp+"/moves", body)
		})
	f := c.Flags()
	f.StringVar(&endpoint, "endpoint", "", "migration endpoint; required")
	f.StringVar(&tdd, "target-delivery-domain", "", "target delivery domain; required except for an IMAP endpoint")
	f.StringVar(&user, "user-name", "", "IMAP endpoint: the source login")
	f.StringVar(&password, "password", "", "IMAP endpoint: the source password")
	f.BoolVar(&suspend, "suspend-when-ready-to-complete", false, "stop at Synced; complete later with 'migrationuser complete'")
	f.StringVar(&completeAfter, "complete-after", "", "complete at this time (RFC 3339) instead of once synced")
	content.flags(f)
	f.StringVar(&notify, "notification-emails", "", "addresses (comma-separated) that get the move's reports")
	c.Example = `  tenantferry move ann@fabrikam.tenantferry.test --tenant fabrikam --endpoint contoso-ep --target-delivery-domain fabrikam.tenantferry.test
  tenantferry migrationuser show --tenant fabrikam ann@fabrikam.tenantferry.test`
	return c
}

// batchDryRunCmd is `batch dry-run N [--user ADDR]`: what the moves copy,
// per folder, under the batch's filter; nothing is written.
func (e *env) batchDryRunCmd() *cobra.Command {
	var user string
	c := e.apiCmd("dry-run N", "List what the batch's moves copy per folder (items, bytes) under its filter, writing nothing", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, cl *client, tp string, a []string) ([]byte, error) {
			q := ""
			if user != "" {
				q = "?user=" + url.QueryEscape(user)
			}
			raw, err := cl.do(ctx, http.MethodGet, tp+"/batches/"+esc(a[0])+"/dry-run"+q, nil)
			if err != nil || e.output != "table" {
				return raw, err
			}
			var rows []struct {
				EmailAddress, Mailbox string
				Items, Bytes          int64
				Folders               []struct {
					Path, TargetPath string
					Items, Bytes     int64
				}
				Error *struct{ Code, Message string }
			}
			if err := json.Unmarshal(raw, &rows); err != nil {
				return nil, err
			}
			e.printf("%-32s %-8s %-28s %-28s %8s %10s\n", "EmailAddress", "Mailbox", "Folder", "TargetFolder", "Items", "Size")
			for _, r := range rows {
				if r.Error != nil {
					e.printf("%-32s %-8s %s: %s\n", r.EmailAddress, r.Mailbox, r.Error.Code, r.Error.Message)
					continue
				}
				for _, f := range r.Folders {
					e.printf("%-32s %-8s %-28s %-28s %8d %10s\n", r.EmailAddress, r.Mailbox, f.Path, f.TargetPath, f.Items, units.Bytes(f.Bytes))
				}
				e.printf("%-32s %-8s %-28s %-28s %8d %10s\n", r.EmailAddress, r.Mailbox, "(total)", "", r.Items, units.Bytes(r.Bytes))
			}
			return nil, nil
		})
	c.Flags().StringVar(&user, "user", "", "only this user")
	c.Example = "  tenantferry batch create --tenant fabrikam --name w1 --endpoint contoso-ep --csv w1.csv --since 2024-01-01 --exclude-folder '\\Junk'\n" +
		"  tenantferry batch dry-run --tenant fabrikam w1"
	return c
}

// templateCmd is `migration-template show|set|reset KIND`: the tenant's
// texts of the mails to moved users (before and after the cutover).
func (e *env) templateCmd() *cobra.Command {
	path := func(tp string, a []string) string { return tp + "/migration-templates/" + esc(a[0]) }
	var subject, file string
	set := e.apiCmd("set KIND", "Replace the before or after template (Go text/template with .DisplayName .EmailAddress .SourceAddress .Tenant .CompleteAfter .Server .SetPasswordURL .LinkExpires)", cobra.ExactArgs(1), true, view{},
		func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
			if file == "" {
				return nil, usageError("--file FILE (the body) is required")
			}
			body, err := os.ReadFile(file)
			if err != nil {
				return nil, usageError("cannot read --file: %v", err)
			}
			return c.do(ctx, http.MethodPut, path(tp, a), apitypes.MigrationTemplateSet{Subject: subject, Body: string(body)})
		})
	set.Flags().StringVar(&subject, "subject", "", "the subject (a template too); required")
	set.Flags().StringVar(&file, "file", "", "file with the body; required")
	set.Example = `  tenantferry migration-template show before --tenant fabrikam -o json
  tenantferry migration-template set before --tenant fabrikam --subject "Moving {{.EmailAddress}} on {{.CompleteAfter}}" --file before.txt`
	return group("migration-template", "Show and change the mails to moved users (before and after their cutover; batch create --notify-users)",
		e.apiCmd("show KIND", "Show the before or after template (the built-in one unless set)", cobra.ExactArgs(1), true, view{}, get(path)),
		set,
		e.apiCmd("reset KIND", "Return to the built-in template", cobra.ExactArgs(1), true, view{},
			func(ctx context.Context, c *client, tp string, a []string) ([]byte, error) {
				return c.do(ctx, http.MethodDelete, path(tp, a), nil)
			}),
	)
}
