package demo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/units"
)

// totalSteps is the number of steps of docs/architecture.md §1.
const totalSteps = 14

// printer narrates the demo.
type printer struct{ w io.Writer }

func newPrinter(w io.Writer) *printer { return &printer{w: w} }

// line prints one line.
func (p *printer) line(format string, args ...any) { fmt.Fprintf(p.w, format+"\n", args...) }

// setup starts a setup phase (not a step of docs/architecture.md §1).
func (p *printer) setup(title, exchange string) {
	p.line("\n[setup] %s", title)
	if exchange != "" {
		p.line("        Exchange: %s", exchange)
	}
}

// step starts step n of docs/architecture.md §1 with its Exchange equivalent.
func (p *printer) step(n int, title, exchange string) {
	p.line("\n[%d/%d] %s", n, totalSteps, title)
	p.line("       Exchange: %s", exchange)
}

// continued goes on with step n under a subtitle: one step of docs/architecture.md §1
// shown in two parts keeps its number.
func (p *printer) continued(n int, title, exchange string) {
	p.line("\n[%d/%d, continued] %s", n, totalSteps, title)
	p.line("       Exchange: %s", exchange)
}

// cmd prints the equivalent tenantferry (or other tool's) command line.
func (p *printer) cmd(format string, args ...any) { p.line("  $ "+format, args...) }

// result prints a result line.
func (p *printer) result(format string, args ...any) { p.line("  → "+format, args...) }

// detail prints an indented line under a result.
func (p *printer) detail(format string, args ...any) { p.line("      "+format, args...) }

// fields prints name/value pairs like PowerShell's Format-List.
func (p *printer) fields(kv ...string) {
	w := 0
	for i := 0; i < len(kv); i += 2 {
		w = max(w, len(kv[i]))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.detail("%-*s : %s", w, kv[i], kv[i+1])
	}
}

// count renders an integer with thousands separators.
func count(n int64) string { return units.Count(n) }

// dur renders a duration for people: ms below a second, else 0.1 s.
func dur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// short abbreviates a secret for display.
func short(s string) string {
	if len(s) <= 6 {
		return "…"
	}
	return s[:6] + "…"
}

// quote shell-quotes s when needed.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'$`\\!*?&;|<>()") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
