package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// synced reports whether a user's initial pass ended.
func synced(u *migration.UserView) bool {
	return u.InitialSeedingCompletedTime != nil && u.Status != migration.StateValidating && u.Status != migration.StateSyncing
}

// completed reports whether a user's completion ended.
func completed(u *migration.UserView) bool {
	return u.Status == migration.StateCompleted || u.Status == migration.StateCompletedWithWarnings
}

// wait polls a batch until done holds for every user, handing each poll's
// users to sample (may be nil). A failed user or a dead node ends it.
func (r *batchRun) wait(ctx context.Context, batch string, done func(*migration.UserView) bool, sample func([]*migration.UserView)) ([]*migration.UserView, error) {
	every := 100 * time.Millisecond
	if r.o.Mailboxes > 100 {
		every = 500 * time.Millisecond // listing 1,000 users costs the nodes' database too
	}
	for {
		us, err := r.tg.ctl.Admin.BatchUsers(ctx, r.op, "fabrikam", batch)
		if err != nil {
			return nil, err
		}
		if sample != nil {
			sample(us)
		}
		all := true
		for _, u := range us {
			if u.Status == migration.StateFailed {
				return nil, errs.New(errs.Internal, "BenchmarkFailed", "the move of %s failed: %+v", u.EmailAddress, u.Error)
			}
			all = all && done(u)
		}
		if all && len(us) > 0 {
			return us, nil
		}
		if err := r.tg.alive(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

// sync creates the batch and waits until every user is Synced.
func (r *batchRun) sync(ctx context.Context) error {
	ctl, res := r.tg.ctl, r.res
	fmt.Fprintf(r.progress, "batch of %d users on %d target node(s) (%s, %s, blobs %s, MaxConcurrentMigrations %d)...\n",
		r.o.Mailboxes, r.o.Nodes, res.NodeMode, res.DB, res.TargetBlobs, res.EndpointLimit)
	resetPeakRSS()
	self0, nodes0, routes0, troutes0 := cpuSeconds("/proc/self/stat"), r.tg.cpu(), routeStats(r.src.PublicURL), r.tg.routes()
	t0 := time.Now()
	if _, err := ctl.Admin.CreateBatch(ctx, r.op, "fabrikam", migration.BatchSpec{Name: "bench", Endpoint: r.ts.Endpoint, CSV: r.csv(r.addresses()),
		TargetDeliveryDomain: r.ts.TargetTenant.InitialDomain, AutoStart: true}); err != nil {
		return err
	}
	us, err := r.wait(ctx, "bench", synced, func(us []*migration.UserView) {
		n := 0
		for _, u := range us {
			if u.Status == migration.StateValidating || u.Status == migration.StateSyncing {
				n++
			}
		}
		res.MaxSampled = max(res.MaxSampled, n)
	})
	if err != nil {
		return err
	}
	res.BatchSeconds = time.Since(t0).Seconds()
	res.BenchCPUSeconds = cpuSeconds("/proc/self/stat") - self0
	res.SourceRoutes = routeDelta(routes0, routeStats(r.src.PublicURL))
	res.TargetRoutes = routeDelta(troutes0, r.tg.routes())
	r.syncCPU = r.tg.cpu()
	for i := range r.syncCPU {
		r.syncCPU[i] -= nodes0[i]
	}
	var starts, ends []time.Time
	for _, u := range us {
		if u.StartTime == nil {
			return errs.New(errs.Internal, "BenchmarkFailed", "%s is %s without a start time", u.EmailAddress, u.Status)
		}
		starts, ends = append(starts, *u.StartTime), append(ends, *u.InitialSeedingCompletedTime)
		if want := int64(r.items[u.EmailAddress]); u.ItemsSynced != want {
			return errs.New(errs.Internal, "BenchmarkFailed", "%s synced %d of %d items", u.EmailAddress, u.ItemsSynced, want)
		}
	}
	sortTimes(starts)
	sortTimes(ends)
	sync := ends[len(ends)-1].Sub(starts[0])
	res.SyncSeconds = sync.Seconds()
	res.MBps, res.ItemsPerSec = mbps(res.Bytes, sync), float64(res.Items)/sync.Seconds()
	res.StartSpreadSeconds = starts[len(starts)-1].Sub(starts[0]).Seconds()
	res.SyncedSpreadSeconds = ends[len(ends)-1].Sub(ends[0]).Seconds()
	rep, err := ctl.Admin.BatchReport(ctx, r.op, "fabrikam", "bench", "")
	if err != nil {
		return err
	}
	var busy time.Duration
	res.MaxConcurrent, busy = peakOverlap(rep)
	res.MeanConcurrent = busy.Seconds() / res.SyncSeconds
	res.ValidateMs, res.CopyMs = phases(rep)
	fmt.Fprintf(r.progress, "  %d items, %s: %.1f MB/s, %.0f items/s (first start to last Synced %.2fs; batch created to last Synced %.2fs)\n",
		res.Items, mb_(res.Bytes), res.MBps, res.ItemsPerSec, res.SyncSeconds, res.BatchSeconds)
	fmt.Fprintf(r.progress, "  starts spread over %.2fs, Synced over %.2fs; at most %d initial passes at once (%d seen by polling), %.1f on average\n",
		res.StartSpreadSeconds, res.SyncedSpreadSeconds, res.MaxConcurrent, res.MaxSampled, res.MeanConcurrent)
	for _, side := range []struct {
		name   string
		routes []RouteStat
	}{{"source", res.SourceRoutes}, {"target", res.TargetRoutes}} {
		for i, rt := range side.routes {
			if i == 6 {
				break
			}
			fmt.Fprintf(r.progress, "  %s %-52s %7d requests (%.1f per user), %.1f ms each\n", side.name, rt.Route, rt.Requests,
				float64(rt.Requests)/float64(r.o.Mailboxes), rt.Seconds*1000/float64(rt.Requests))
		}
	}
	fmt.Fprintf(r.progress, "  per pass: validating %d/%d/%d ms, copying %d/%d/%d ms (min/median/max); CPU of the benchmark process %.1fs\n",
		res.ValidateMs.Min, res.ValidateMs.Median, res.ValidateMs.Max, res.CopyMs.Min, res.CopyMs.Median, res.CopyMs.Max, res.BenchCPUSeconds)
	return nil
}

func sortTimes(ts []time.Time) { sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) }) }

// peakOverlap is the most initial passes that overlapped, from each
// user's history: its first "→ Validating" to its first "→ Synced" (a
// pass that ends frees its slot before one starting at the same instant);
// busy is the sum of those passes' durations.
func peakOverlap(rep []*migration.ReportView) (peak int, busy time.Duration) {
	var spans []Span
	for _, u := range rep {
		var start, end time.Time
		for _, l := range u.Report {
			switch {
			case start.IsZero() && strings.HasSuffix(l.Message, "→ "+migration.StateValidating):
				start = l.Time
			case end.IsZero() && strings.HasSuffix(l.Message, "→ "+migration.StateSynced):
				end = l.Time
			}
		}
		if !start.IsZero() && !end.IsZero() {
			spans = append(spans, Span{start, end})
			busy += end.Sub(start)
		}
	}
	return PeakOverlap(spans), busy
}

// Span is a stretch of time something ran (a pass holding a slot).
type Span struct{ Start, End time.Time }

// PeakOverlap is the most spans that overlapped at one instant; a span
// that ends frees its place before one starting at the same instant.
func PeakOverlap(spans []Span) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, sp := range spans {
		edges = append(edges, edge{sp.Start, +1}, edge{sp.End, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	return peak
}

// phases returns the spreads of each user's validation (→ Validating to
// → Syncing) and copy (→ Syncing to → Synced) in its first pass.
func phases(rep []*migration.ReportView) (validate, copying Spread) {
	var vs, cs []int64
	for _, u := range rep {
		var at [3]time.Time
		for _, l := range u.Report {
			for i, st := range []string{migration.StateValidating, migration.StateSyncing, migration.StateSynced} {
				if at[i].IsZero() && strings.HasSuffix(l.Message, "→ "+st) {
					at[i] = l.Time
				}
			}
		}
		if !at[0].IsZero() && !at[1].IsZero() && !at[2].IsZero() {
			vs, cs = append(vs, at[1].Sub(at[0]).Milliseconds()), append(cs, at[2].Sub(at[1]).Milliseconds())
		}
	}
	return spread(vs), spread(cs)
}

// complete completes the batch in bulk and checks every user.
func (r *batchRun) complete(ctx context.Context) error {
	res := r.res
	fmt.Fprintf(r.progress, "completing the batch in bulk...\n")
	t0 := time.Now()
	if _, err := r.tg.ctl.Admin.BatchCommand(ctx, r.op, "fabrikam", "bench", admin.BatchComplete, false); err != nil {
		return err
	}
	us, err := r.wait(ctx, "bench", completed, nil)
	if err != nil {
		return err
	}
	res.CompletionSeconds = time.Since(t0).Seconds()
	var windows []int64
	res.Consistency = "Perfect"
	for _, u := range us {
		if u.Status != migration.StateCompleted || u.DataConsistencyScore != "Perfect" {
			return errs.New(errs.Internal, "BenchmarkFailed", "%s ended %s with DataConsistencyScore %s", u.EmailAddress, u.Status, u.DataConsistencyScore)
		}
		if want := int64(r.items[u.EmailAddress]); u.ItemsSynced != want {
			return errs.New(errs.Internal, "BenchmarkFailed", "%s completed with %d of %d items", u.EmailAddress, u.ItemsSynced, want)
		}
		windows = append(windows, u.LockWindowMs)
	}
	res.LockWindowMs = spread(windows)
	fmt.Fprintf(r.progress, "  %d users Completed (Perfect) in %.2fs; lock windows min %d ms, median %d ms, max %d ms\n",
		len(us), res.CompletionSeconds, res.LockWindowMs.Min, res.LockWindowMs.Median, res.LockWindowMs.Max)
	return nil
}

// spread is the minimum, median and maximum of vs.
func spread(vs []int64) Spread {
	if len(vs) == 0 {
		return Spread{}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] < vs[j] })
	return Spread{Min: vs[0], Median: vs[len(vs)/2], Max: vs[len(vs)-1]}
}

// nodeStats attributes the batch's passes and completions to the nodes
// (River records the node of each attempt) and reads each node's peak RSS
// and copy counters.
func (r *batchRun) nodeStats(ctx context.Context) error {
	ids, err := r.tg.nodeIDs(ctx)
	if err != nil {
		return err
	}
	firstPass, completion, err := r.jobNodes(ctx)
	if err != nil {
		return err
	}
	rss := r.tg.peakRSS()
	for i := range r.o.Nodes {
		st := NodeStat{Name: nodeName(i), PeakRSSMB: rss[i]}
		if len(r.tg.procs) > 0 {
			st.PID, st.SyncCPUSeconds = r.tg.procs[i].cmd.Process.Pid, r.syncCPU[i]
		}
		for _, n := range firstPass {
			if idx, ok := ids[n]; ok && idx == i {
				st.Moves++
			}
		}
		for _, n := range completion {
			if idx, ok := ids[n]; ok && idx == i {
				st.Completions++
			}
		}
		st.ItemsCopied, st.BytesCopied = copied(r.tg.urls[i])
		r.res.NodeStats = append(r.res.NodeStats, st)
		fmt.Fprintf(r.progress, "  %s: %d initial passes, %d completions, %d items (%s) copied; CPU during the sync %.1fs; peak RSS %.0f MB\n",
			st.Name, st.Moves, st.Completions, st.ItemsCopied, mb_(st.BytesCopied), st.SyncCPUSeconds, st.PeakRSSMB)
	}
	return nil
}

// jobNodes returns, per move, the node that ran its first sync job (the
// initial pass) and the node that ran its completion: the last attempt's
// node of each job that ran.
func (r *batchRun) jobNodes(ctx context.Context) (firstPass, completion map[string]string, err error) {
	syncKind, completeKind := migration.SyncArgs{}.Kind(), migration.CompleteArgs{}.Kind()
	firstPass, completion = map[string]string{}, map[string]string{}
	// Running too: River records a job's completion asynchronously, a
	// moment after the work (and the move's state) committed.
	params := river.NewJobListParams().Kinds(syncKind, completeKind).States(rivertype.JobStateCompleted, rivertype.JobStateRunning).
		OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(10000)
	for {
		page, err := r.tg.ctl.Jobs.Client.JobList(ctx, params)
		if err != nil {
			return nil, nil, err
		}
		for _, j := range page.Jobs {
			var a struct {
				MoveID string `json:"move_id"`
			}
			if json.Unmarshal(j.EncodedArgs, &a) != nil || len(j.AttemptedBy) == 0 {
				continue
			}
			node := j.AttemptedBy[len(j.AttemptedBy)-1]
			switch {
			case j.Kind == syncKind && firstPass[a.MoveID] == "":
				firstPass[a.MoveID] = node
			case j.Kind == completeKind:
				completion[a.MoveID] = node
			}
		}
		if len(page.Jobs) < 10000 {
			return firstPass, completion, nil
		}
		params = params.After(page.LastCursor)
	}
}

// reference moves one mailbox of the batch's total item count (same
// message shape) in a batch of its own: the one-big-mailbox items/s.
func (r *batchRun) reference(ctx context.Context) error {
	if !r.o.Reference {
		return nil
	}
	res, ctl := r.res, r.tg.ctl
	fmt.Fprintf(r.progress, "reference: one mailbox of %d items...\n", res.Items)
	n, b, err := r.sourceMailbox(ctx, "bref", r.o.mailgenOptions(r.o.Seed+1_000_000, "", int(res.Items)), 0)
	if err != nil {
		return err
	}
	res.RefItems, res.RefBytes = int64(n), b
	addr := "bref@" + r.ts.TargetTenant.InitialDomain
	r.items[addr] = n
	csv := r.csv([]string{addr})
	if _, err := ctl.Admin.PrepareMailUsers(ctx, r.op, "fabrikam", r.ts.Endpoint, csv, r.ts.TargetTenant.InitialDomain, false); err != nil {
		return err
	}
	if _, err := ctl.Admin.CreateBatch(ctx, r.op, "fabrikam", migration.BatchSpec{Name: "bench-ref", Endpoint: r.ts.Endpoint, CSV: csv,
		TargetDeliveryDomain: r.ts.TargetTenant.InitialDomain, AutoStart: true}); err != nil {
		return err
	}
	us, err := r.wait(ctx, "bench-ref", synced, nil)
	if err != nil {
		return err
	}
	u := us[0]
	if u.ItemsSynced != int64(n) || u.StartTime == nil {
		return errs.New(errs.Internal, "BenchmarkFailed", "the reference mailbox synced %d of %d items", u.ItemsSynced, n)
	}
	d := u.InitialSeedingCompletedTime.Sub(*u.StartTime)
	res.RefSeconds, res.RefItemsPerSec, res.RefMBps = d.Seconds(), float64(n)/d.Seconds(), mbps(b, d)
	res.RatioToRef = res.ItemsPerSec / res.RefItemsPerSec
	fmt.Fprintf(r.progress, "  %d items, %s in %.2fs: %.0f items/s, %.1f MB/s; the batch reached %.0f%% of its items/s\n",
		n, mb_(b), res.RefSeconds, res.RefItemsPerSec, res.RefMBps, res.RatioToRef*100)
	return nil
}
