package cli

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"testing"
)

// TestPrintCSV: -o csv writes every field of every object (the union, in
// first-seen order) with RFC 4180 quoting, nested values as in tables, and
// a single object as one row; the output reads back with encoding/csv.
func TestPrintCSV(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     [][]string
	}{
		{"list", `[{"EmailAddress":"a@x","Status":"Synced","Note":"has, comma \"and\" quotes"},{"EmailAddress":"b@x","Extra":[1,2],"Status":"Failed"}]`,
			[][]string{{"EmailAddress", "Status", "Note", "Extra"}, {"a@x", "Synced", `has, comma "and" quotes`, ""}, {"b@x", "Failed", "", "{1, 2}"}}},
		{"object", `{"Name":"wave1","Counts":{"Synced":2}}`, [][]string{{"Name", "Counts"}, {"wave1", "{Synced=2}"}}},
		{"empty", `[]`, nil},
	} {
		var out bytes.Buffer
		e := &env{stdout: &out, output: "csv"}
		if err := e.print([]byte(c.in), view{columns: []string{"Status"}}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := csv.NewReader(&out).ReadAll()
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q (%v), want %q", c.name, got, err, c.want)
		}
	}
	if err := (&env{stdout: &bytes.Buffer{}, output: "yaml"}).print([]byte(`[]`), view{}); err == nil {
		t.Error("-o yaml was accepted")
	}
}
