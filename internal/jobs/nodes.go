package jobs

import (
	"context"

	"github.com/tenantferry/tenantferry/internal/db"
)

// Node is a registered job-runner process (a row of nodes): its River
// client id, which River records in a job's attempted_by, and its process.
type Node struct {
	ID       string
	Hostname string
	PID      int
}

// Nodes lists the registered nodes, so that a caller that knows processes
// (the batch benchmark) can tell which one ran a job.
func Nodes(ctx context.Context, q db.Querier) ([]Node, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, hostname, pid FROM nodes ORDER BY started_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		if err := rows.Scan(&n.ID, &n.Hostname, &n.PID); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
