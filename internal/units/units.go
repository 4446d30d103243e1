// Package units renders quantities for people: byte counts and durations in
// logs, CLI output, the demo and the benchmark. Invariant: pure functions,
// no state.
package units

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Count renders an integer with thousands separators (1,234,567).
func Count(n int64) string {
	if n < 0 {
		return "-" + Count(-n)
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Bytes renders a byte count with binary units (B, KiB, MiB, GiB).
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Sleep waits for d or until ctx ends, whichever comes first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ParseBytes parses a size as admins write it: a byte count ("1048576"),
// or a number with a unit B, KB, MB, GB or TB (also KiB, MiB, GiB, TiB;
// all binary, 1 GB = 1024^3 bytes, as Exchange and Dovecot count
// quotas), or "unlimited" (0). Fractions are allowed ("1.5GB").
func ParseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "UNLIMITED" {
		return 0, nil
	}
	t, mult := cutUnit(t)
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: write a byte count, a number with KB, MB, GB or TB, or unlimited", s)
	}
	return int64(math.Round(f * float64(mult))), nil
}

// cutUnit splits an upper-cased size into its number and the unit's
// multiplier.
func cutUnit(t string) (string, int64) {
	for i, u := range []string{"T", "G", "M", "K"} {
		for _, suf := range []string{u + "IB", u + "B", u} {
			if num, ok := strings.CutSuffix(t, suf); ok {
				return num, int64(1) << (10 * (4 - i))
			}
		}
	}
	return strings.TrimSuffix(t, "B"), 1
}
