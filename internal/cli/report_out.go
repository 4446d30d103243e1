package cli

import (
	"fmt"
	"io"
	"strings"
)

// reportSummary are the fields of a user's report shown as its summary
// (`batch report -o table`); the rest is in -o json.
var reportSummary = []string{"Status", "StatusDetail", "PercentComplete", "ItemsTotal", "ItemsSynced", "ItemsSkipped", "BytesTotal",
	"BytesTransferred", "AverageBytesPerSecond", "InitialSyncDuration", "LockWindow", "DataConsistencyScore", "Error"}

// printReport prints `batch report` as people read it: per user a summary
// ("Key : Value"), its skipped items as a table, and its log one line per
// entry — not one table cell holding everything.
func printReport(w io.Writer, raw []byte) error {
	val, err := decodeOrdered(raw)
	if err != nil {
		return err
	}
	users, ok := val.([]any)
	if !ok {
		return fmt.Errorf("batch report: not a list of users")
	}
	for i, u := range users {
		m, ok := u.(*omap)
		if !ok {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n", format(m.vals["EmailAddress"]))
		sum := &omap{vals: map[string]any{}}
		for _, k := range reportSummary {
			if v, ok := m.vals[k]; ok && v != nil && format(v) != "" {
				sum.keys, sum.vals[k] = append(sum.keys, k), v
			}
		}
		var b strings.Builder
		printList(&b, sum)
		fmt.Fprint(w, indent(b.String(), "  "))
		if skipped, _ := m.vals["SkippedItems"].([]any); len(skipped) > 0 {
			fmt.Fprintf(w, "  Skipped items (%d):\n", len(skipped))
			b.Reset()
			printTable(&b, skipped, []string{"Reason", "Mailbox", "Folder", "Subject", "Date", "Size"})
			fmt.Fprint(w, indent(b.String(), "    "))
		}
		if log, _ := m.vals["Report"].([]any); len(log) > 0 {
			fmt.Fprintf(w, "  Log (%d entries):\n", len(log))
			for _, l := range log {
				if e, ok := l.(*omap); ok {
					fmt.Fprintf(w, "    %s  %-7s  %s\n", format(e.vals["Time"]), format(e.vals["Level"]), format(e.vals["Message"]))
				}
			}
		}
	}
	return nil
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	if s == "" {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}
