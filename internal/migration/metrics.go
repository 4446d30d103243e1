package migration

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the migration metrics: move requests per state
// (read from the database at scrape time, so every node of a cluster
// reports the same figures) and the items and bytes this node copied.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{&stateCollector{s: s}, s.copiedItems, s.copiedBytes, s.slotWaits, s.slotWakeups, s.passYields}
}

var moveStatesDesc = prometheus.NewDesc("tenantferry_migration_moves", "Move requests of active batches by state.", []string{"state"}, nil)

type stateCollector struct{ s *Service }

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- moveStatesDesc }

// moveStates are the states reported even when no move is in them (a
// dashboard's series then exist from the start, at zero).
var moveStates = []string{StateQueued, StateValidating, StateSyncing, StateSynced, StateIncrementalSyncing, StateCompleting,
	StateCompleted, StateCompletedWithWarnings, StateFailed, StateStopping, StateStopped, StateRemoving}

// Collect implements prometheus.Collector: every state of moveStates (0
// when empty) and any other state found.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.s.D.Read().QueryContext(ctx, `SELECT state, COUNT(*) FROM moves WHERE active = ? GROUP BY state`, true)
	if err != nil {
		return
	}
	defer rows.Close()
	counts := map[string]float64{}
	for rows.Next() {
		var state string
		var n float64
		if rows.Scan(&state, &n) == nil {
			counts[state] = n
		}
	}
	for _, st := range moveStates {
		ch <- prometheus.MustNewConstMetric(moveStatesDesc, prometheus.GaugeValue, counts[st], st)
		delete(counts, st)
	}
	for st, n := range counts {
		ch <- prometheus.MustNewConstMetric(moveStatesDesc, prometheus.GaugeValue, n, st)
	}
}

func newCopyCounters() (items, bytes prometheus.Counter) {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantferry_migration_items_copied_total", Help: "Items written to target mailboxes by migration passes on this node."}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantferry_migration_bytes_copied_total", Help: "Bytes of items written to target mailboxes by migration passes on this node."})
}

func newSlotCounters() (waits, wakeups prometheus.Counter) {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantferry_migration_slot_waits_total",
			Help: "Passes on this node that found their endpoint at its concurrency limit and waited."}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantferry_migration_slot_wakeups_total",
			Help: "Waiting passes this node woke when it released an endpoint concurrency slot."})
}

// newYieldCounter counts passes that gave their worker back (passctl.go).
func newYieldCounter() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: "tenantferry_migration_pass_yields_total",
		Help: "Passes on this node that yielded their worker to waiting moves at the end of a time slice."})
}
