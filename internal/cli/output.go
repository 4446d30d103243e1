package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/tenantferry/tenantferry/internal/units"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// view describes how to print a reply as a table: the columns of a list, and
// for a single object the fields to show (all when empty).
type view struct {
	columns []string
}

// print writes a JSON reply in the chosen output format.
func (e *env) print(raw []byte, v view) error {
	if e.output == "json" {
		var buf bytes.Buffer
		if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
			_, err = e.stdout.Write(raw)
			return err
		}
		buf.WriteByte('\n')
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if e.output != "table" && e.output != "csv" && e.output != "yaml" {
		return usageError("-o must be table, json, yaml or csv, not %q", e.output)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	if e.output == "yaml" {
		return printYAML(e.stdout, raw)
	}
	val, err := decodeOrdered(raw)
	if err != nil {
		return err
	}
	if e.output == "csv" {
		return printCSV(e.stdout, val)
	}
	switch x := val.(type) {
	case []any:
		return printTable(e.stdout, x, v.columns)
	case *omap:
		return printList(e.stdout, x)
	default:
		fmt.Fprintln(e.stdout, format(x))
	}
	return nil
}

// omap is a JSON object that keeps its key order.
type omap struct {
	keys []string
	vals map[string]any
}

func decodeOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return decodeValue(dec)
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := &omap{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				m.keys = append(m.keys, k)
				m.vals[k] = v
			}
			_, err := dec.Token()
			return m, err
		case '[':
			var arr []any
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			if arr == nil {
				arr = []any{}
			}
			return arr, err
		}
	}
	return tok, nil
}

// format renders a JSON value for a table cell.
func format(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = format(p)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case *omap:
		parts := make([]string, 0, len(x.keys))
		for _, k := range x.keys {
			parts = append(parts, k+"="+format(x.vals[k]))
		}
		return "{" + strings.Join(parts, "; ") + "}"
	}
	return fmt.Sprint(v)
}

// printList prints one object as "Key : Value" lines (Exchange's
// Format-List).
func printList(w io.Writer, m *omap) error {
	width := 0
	for _, k := range m.keys {
		if len(k) > width {
			width = len(k)
		}
	}
	for _, k := range m.keys {
		fmt.Fprintf(w, "%-*s : %s\n", width, k, cell(k, m.vals[k]))
	}
	return nil
}

// printTable prints an array of objects as aligned columns.
func printTable(w io.Writer, rows []any, cols []string) error {
	if len(rows) == 0 {
		return nil
	}
	if len(cols) == 0 {
		if m, ok := rows[0].(*omap); ok {
			cols = m.keys
		} else {
			for _, r := range rows {
				fmt.Fprintln(w, format(r))
			}
			return nil
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	under := make([]string, len(cols))
	for i, c := range cols {
		under[i] = strings.Repeat("-", len(c))
	}
	fmt.Fprintln(tw, strings.Join(under, "\t"))
	for _, r := range rows {
		if m, ok := r.(*omap); ok {
			cells := make([]string, len(cols))
			for i, c := range cols {
				cells[i] = cell(c, m.vals[c])
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
	}
	return tw.Flush()
}

// printCSV prints a list (or one object) as CSV (RFC 4180): a header of
// every field, in the order the objects give them, then one row per
// object; nested values as in table cells. Spreadsheets and scripts read
// it (-o csv).
func printCSV(w io.Writer, val any) error {
	rows, ok := val.([]any)
	if !ok {
		rows = []any{val}
	}
	var cols []string
	seen := map[string]bool{}
	for _, r := range rows {
		if m, ok := r.(*omap); ok {
			for _, k := range m.keys {
				if !seen[k] {
					seen[k] = true
					cols = append(cols, k)
				}
			}
		}
	}
	cw := csv.NewWriter(w)
	if len(cols) == 0 { // a list of plain values
		for _, r := range rows {
			cw.Write([]string{format(r)})
		}
		cw.Flush()
		return cw.Error()
	}
	cw.Write(cols)
	for _, r := range rows {
		if m, ok := r.(*omap); ok {
			cw.Write(m.cells(cols))
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell renders a value for people (tables and lists; CSV and JSON keep
// exact values): byte counts of fields named so as KiB/MiB/GiB, rates
// per second, fractions to two decimals.
func cell(key string, v any) string {
	n, ok := v.(json.Number)
	if !ok {
		return format(v)
	}
	f, err := n.Float64()
	if err != nil {
		return format(v)
	}
	switch {
	case strings.HasSuffix(key, "BytesPerSecond"):
		return units.Bytes(int64(f)) + "/s"
	case strings.HasSuffix(key, "Bytes") || strings.HasSuffix(key, "Size") || strings.HasPrefix(key, "Bytes") ||
		strings.HasSuffix(key, "Quota") || key == "TenantUsed":
		if f == 0 && strings.HasSuffix(key, "Quota") {
			return "unlimited"
		}
		return units.Bytes(int64(f))
	case strings.ContainsRune(n.String(), '.'):
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return n.String()
}

// cells renders the object's values of cols, in order.
func (m *omap) cells(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = format(m.vals[c])
	}
	return out
}

// sortedKeys returns a map's keys in order (for stable output).
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
