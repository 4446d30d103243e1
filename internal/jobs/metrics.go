package jobs

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// depthStates are the job states the queue-depth metric reports: work
// waiting (available, scheduled for later, retryable after a failure)
// and work under way (running). Finished jobs (completed, cancelled,
// discarded) are not queue depth.
var depthStates = []string{"available", "running", "scheduled", "retryable"}

var depthDesc = prometheus.NewDesc("tenantferry_jobs",
	"Jobs in the queues (River) by queue and state (available, running, scheduled, retryable), deployment-wide: read from the database at scrape time.",
	[]string{"queue", "state"}, nil)

// Collector returns the queue-depth collector: tenantferry_jobs{queue,
// state}, from one GROUP BY query over river_job per scrape, so every
// node of a deployment reports the same figures. Every queue of this
// node and every state has a series, zero when empty; nothing is
// labelled per tenant.
func (r *Runner) Collector() prometheus.Collector { return &depthCollector{r: r} }

type depthCollector struct{ r *Runner }

// Describe implements prometheus.Collector.
func (c *depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

// Collect implements prometheus.Collector. A failed query reports
// nothing (the scrape goes on with the other metrics).
func (c *depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	depth, err := c.r.Depth(ctx)
	if err != nil {
		c.r.log.Warn("jobs: queue depth for /metrics", "err", err)
		return
	}
	for _, q := range sortedKeys(depth) {
		for _, st := range depthStates {
			ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(depth[q][st]), q, st)
		}
	}
}

// Depth counts the jobs of each queue by state (those of depthStates),
// every queue of this node included, at zero when empty.
func (r *Runner) Depth(ctx context.Context) (map[string]map[string]int64, error) {
	depth := map[string]map[string]int64{}
	for _, q := range r.queues {
		depth[q] = map[string]int64{}
	}
	rows, err := r.d.Read().QueryContext(ctx, `SELECT queue, state, COUNT(*) FROM river_job
		WHERE state IN ('available', 'running', 'scheduled', 'retryable') GROUP BY queue, state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var q, st string
		var n int64
		if err := rows.Scan(&q, &st, &n); err != nil {
			return nil, err
		}
		if depth[q] == nil {
			depth[q] = map[string]int64{}
		}
		depth[q][st] = n
	}
	return depth, rows.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
