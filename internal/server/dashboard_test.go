package server_test

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// dashboardPanel is what checkDashboard reads of a Grafana panel.
type dashboardPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // of a collapsed row
}

// dashboardMetric finds metric names in PromQL: ours, and the Go and
// process collectors'.
var dashboardMetric = regexp.MustCompile(`\b(?:tenantferry|process|go)_[a-z0-9_]+`)

// checkDashboard parses docs/grafana-dashboard.json and checks it against
// the body of a /metrics scrape: every metric name in its queries (panel
// targets and template variables) is exposed (a histogram's or summary's
// _bucket, _sum and _count by their family), every panel queries the
// ${DS_PROMETHEUS} data source, and the dashboard covers the metrics
// issue 12 item 5 names.
func checkDashboard(t *testing.T, scrape string) {
	t.Helper()
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		SchemaVersion int `json:"schemaVersion"`
		UID, Title    string
		Panels        []dashboardPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want 39 or later", d.SchemaVersion)
	}
	families := map[string]string{} // name → type
	for _, line := range strings.Split(scrape, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = f[3]
		}
	}
	exposed := func(name string) bool {
		if families[name] != "" {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && (families[base] == "histogram" || families[base] == "summary") {
				return suf != "_bucket" || families[base] == "histogram"
			}
		}
		return false
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		for _, name := range dashboardMetric.FindAllString(expr, -1) {
			used[name] = true
			if !exposed(name) {
				t.Errorf("%s queries %s, which the server does not expose", where, name)
			}
		}
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" {
			hasDS = true
		}
		check("variable "+v.Name, string(v.Query))
	}
	if !hasDS {
		t.Error("no DS_PROMETHEUS data source variable")
	}
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
				t.Errorf("panel %q does not query ${DS_PROMETHEUS}", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, q := range p.Targets {
				check("panel "+p.Title, q.Expr)
			}
		}
	}
	walk(d.Panels)
	var missing []string
	for _, name := range []string{"tenantferry_build_info", "tenantferry_http_requests_total", "tenantferry_http_request_duration_seconds_bucket",
		"tenantferry_imap_connections_open", "tenantferry_smtp_connections_open", "tenantferry_imap_connections_total", "tenantferry_smtp_connections_total",
		"tenantferry_auth_failures_total", "tenantferry_delivery_results_total", "tenantferry_migration_items_copied_total",
		"tenantferry_migration_bytes_copied_total", "tenantferry_migration_moves", "tenantferry_jobs"} {
		if !used[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("the dashboard has no panel for %s", strings.Join(missing, ", "))
	}
}
