package migration

import (
	"context"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
	"github.com/tenantferry/tenantferry/internal/units"
)

// Item limits follow Exchange: MaxItemSize is a size cap (an item above
// it is skipped as a large item); LargeItemLimit and BadItemLimit count
// the skipped large and bad (unreadable, invalid) items a user may have.
// A pass that ends with more of either fails the user with
// LargeItemLimitExceeded or BadItemLimitExceeded; raising the limit (for
// the batch or the user) and starting the user again lets it go on, its
// skipped items already recorded.
const (
	// DefaultMaxItemSize is a batch's size cap unless set.
	DefaultMaxItemSize = 150 << 20
	// LimitUnlimited is an item limit that never fails a user (the
	// default): the DataConsistencyScore and the approval of skipped
	// items decide.
	LimitUnlimited int64 = -1
	// LimitBatch is a user's item limit that is its batch's.
	LimitBatch int64 = -2
	// MinReportInterval is the shortest ReportInterval.
	MinReportInterval = time.Minute
)

// Errors of the item limits.
var (
	// ErrLargeItemLimitExceeded: a user has more skipped large items than
	// its LargeItemLimit.
	ErrLargeItemLimitExceeded = errs.Sentinel(errs.Conflict, "LargeItemLimitExceeded")
	// ErrBadItemLimitExceeded: a user has more skipped bad items than its
	// BadItemLimit.
	ErrBadItemLimitExceeded = errs.Sentinel(errs.Conflict, "BadItemLimitExceeded")
	// ErrInvalidItemLimit: a limit below LimitUnlimited.
	ErrInvalidItemLimit = errs.Sentinel(errs.Invalid, "InvalidItemLimit")
	// ErrInvalidMaxItemSize: a size cap that is not positive.
	ErrInvalidMaxItemSize = errs.Sentinel(errs.Invalid, "InvalidMaxItemSize")
	// ErrInvalidReportInterval: a ReportInterval below MinReportInterval.
	ErrInvalidReportInterval = errs.Sentinel(errs.Invalid, "InvalidReportInterval")
)

// checkItemLimit validates a LargeItemLimit or BadItemLimit (field).
func checkItemLimit(field string, v *int64) error {
	if v != nil && *v < LimitUnlimited {
		return ErrInvalidItemLimit.Newf("%s must be a count of items (0 or more) or -1 for unlimited, not %d", field, *v).
			WithObject(field).WithHint("pass e.g. --%s 10, or --%s -1 for no limit", flagName(field), flagName(field))
	}
	return nil
}

// checkMaxItemSize validates a size cap.
func checkMaxItemSize(v *int64) error {
	if v != nil && *v <= 0 {
		return ErrInvalidMaxItemSize.Newf("MaxItemSize must be a positive number of bytes, not %d", *v).
			WithObject("MaxItemSize").WithHint("pass e.g. --max-item-size 157286400 (150 MiB)")
	}
	return nil
}

// checkReportInterval validates a ReportInterval (0 turns interval
// reports off).
func checkReportInterval(v *time.Duration) error {
	if v != nil && *v != 0 && *v < MinReportInterval {
		return ErrInvalidReportInterval.Newf("ReportInterval %s is shorter than %s", *v, MinReportInterval).
			WithObject("ReportInterval").WithHint("pass e.g. --report-interval 24h, or 0 for reports only when synced and completed")
	}
	return nil
}

func flagName(field string) string {
	switch field {
	case "LargeItemLimit":
		return "large-item-limit"
	case "BadItemLimit":
		return "bad-item-limit"
	}
	return field
}

// effectiveLimit is a user's limit: its own, else its batch's.
func effectiveLimit(user, batch int64) int64 {
	if user != LimitBatch {
		return user
	}
	return batch
}

// checkSkippedLimits fails a pass whose user has more skipped large or
// bad items than its limits allow; q sees the pass's skipped items.
func (s *Service) checkSkippedLimits(ctx context.Context, q db.Querier, b *Batch, m *Move) error {
	large, bad := effectiveLimit(m.LargeItemLimit, b.LargeItemLimit), effectiveLimit(m.BadItemLimit, b.BadItemLimit)
	if large == LimitUnlimited && bad == LimitUnlimited {
		return nil
	}
	counts := map[replication.SkipClass]int64{}
	rows, err := q.QueryContext(ctx, `SELECT class, COUNT(*) FROM move_skipped WHERE move_id = ? GROUP BY class`, m.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var class string
		var n int64
		if err := rows.Scan(&class, &n); err != nil {
			return err
		}
		counts[replication.SkipClass(class)] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n := counts[replication.SkipLargeItem]; large != LimitUnlimited && n > large {
		return ErrLargeItemLimitExceeded.Newf("%s has %d skipped large items (over %s or refused by the target), more than its LargeItemLimit of %d",
			m.Email, n, units.Bytes(b.MaxItemSize), large).WithObject(m.Email).
			WithHint("review them with 'tenantferry batch report %s --user %s', raise the limit with 'tenantferry migrationuser set %s --large-item-limit %d', then 'tenantferry migrationuser start %s'",
				b.Name, m.Email, m.Email, n, m.Email)
	}
	if n := counts[replication.SkipBadItem]; bad != LimitUnlimited && n > bad {
		return ErrBadItemLimitExceeded.Newf("%s has %d skipped bad items (unreadable or invalid), more than its BadItemLimit of %d", m.Email, n, bad).
			WithObject(m.Email).
			WithHint("review them with 'tenantferry batch report %s --user %s', raise the limit with 'tenantferry migrationuser set %s --bad-item-limit %d', then 'tenantferry migrationuser start %s'",
				b.Name, m.Email, m.Email, n, m.Email)
	}
	return nil
}

// limits validates the spec's item limits and fills in their defaults.
func (spec BatchSpec) limits() (BatchSpec, error) {
	if spec.MaxItemSize == 0 {
		spec.MaxItemSize = DefaultMaxItemSize
	}
	if err := checkMaxItemSize(&spec.MaxItemSize); err != nil {
		return spec, err
	}
	unlimited := LimitUnlimited
	for _, l := range []struct {
		field string
		v     **int64
	}{{"LargeItemLimit", &spec.LargeItemLimit}, {"BadItemLimit", &spec.BadItemLimit}} {
		if *l.v == nil {
			*l.v = &unlimited
		}
		if err := checkItemLimit(l.field, *l.v); err != nil {
			return spec, err
		}
	}
	return spec, checkReportInterval(&spec.ReportInterval)
}
