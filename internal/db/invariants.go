package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// Invariant is one consistency rule of a package's tables, as a query
// returning the ids of the rows that break it.
type Invariant struct {
	Name  string // what must hold, as a finding names it
	Query string // SELECT of the offending rows' ids ('?' placeholders, none bound)
}

// CheckInvariants runs each invariant's query through q (a read snapshot,
// so all see one state), at most five rows each, and returns one finding
// per broken invariant: its name and the offending rows.
func CheckInvariants(ctx context.Context, q Querier, invs []Invariant) ([]string, error) {
	var bad []string
	for _, inv := range invs {
		ids, err := firstIDs(ctx, q, inv.Query+` LIMIT 5`)
		if err != nil {
			return nil, fmt.Errorf("consistency check %q: %w", inv.Name, err)
		}
		if len(ids) > 0 {
			bad = append(bad, fmt.Sprintf("%s (rows %s)", inv.Name, strings.Join(ids, ", ")))
		}
	}
	return bad, nil
}

// firstIDs returns the integer ids a query yields.
func firstIDs(ctx context.Context, q Querier, query string) ([]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	return ids, rows.Err()
}
