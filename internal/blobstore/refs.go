package blobstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// RowRef is a reference to a blob held by another package's row: the
// hash, the size the referrer recorded (-1: not checked) and the
// referrer's row id, for reports.
type RowRef struct {
	SHA256 string
	Size   int64
	Row    int64
}

// BadRefs returns the refs whose blob has no committed row, or a size
// other than the one recorded, looked up through q (the caller's read
// snapshot) 500 hashes at a time. Consistency checks of the packages that
// reference blobs use it; it reads only this package's table.
func BadRefs(ctx context.Context, q db.Querier, refs []RowRef) ([]RowRef, error) {
	var bad []RowRef
	for start := 0; start < len(refs); start += 500 {
		chunk := refs[start:min(start+500, len(refs))]
		args := make([]any, len(chunk))
		for i, r := range chunk {
			args[i] = r.SHA256
		}
		rows, err := q.QueryContext(ctx, `SELECT sha256, size FROM blobs WHERE sha256 IN (`+db.InList(len(chunk))+`)`, args...)
		if err != nil {
			return nil, errs.Internalf(err, "check blob references")
		}
		sizes := map[string]int64{}
		for rows.Next() {
			var sha string
			var n int64
			if err := rows.Scan(&sha, &n); err != nil {
				rows.Close()
				return nil, errs.Internalf(err, "check blob references")
			}
			sizes[sha] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, errs.Internalf(err, "check blob references")
		}
		for _, r := range chunk {
			if n, ok := sizes[r.SHA256]; !ok || r.Size >= 0 && n != r.Size {
				bad = append(bad, r)
			}
		}
	}
	return bad, nil
}

// CheckRefs is BadRefs as a consistency-check finding: "" when every ref
// is good, else name followed by up to five of the referrers' rows.
func CheckRefs(ctx context.Context, q db.Querier, refs []RowRef, name string) (string, error) {
	bad, err := BadRefs(ctx, q, refs)
	if err != nil || len(bad) == 0 {
		return "", err
	}
	var ids []string
	for _, r := range bad[:min(5, len(bad))] {
		ids = append(ids, strconv.FormatInt(r.Row, 10))
	}
	return fmt.Sprintf("%s (rows %s)", name, strings.Join(ids, ", ")), nil
}
