package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
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

// TestReportRows: `batch report --format csv` flattens each user's report
// into one row: its statistics in order, the skipped items counted and
// summarized, the last log line.
func TestReportRows(t *testing.T) {
	raw := `[{"EmailAddress":"a@x","Status":"Synced","ItemsSkipped":1,
		"SkippedItems":[{"Folder":"Inbox","Subject":"Big, one","Size":20000,"Reason":"LargeItem"}],
		"Report":[{"Level":"info","Message":"created"},{"Level":"error","Message":"SkippedItemsNeedApproval"}]},
		{"EmailAddress":"b@x","Status":"Completed","ItemsSkipped":0,"SkippedItems":[],"Report":[]}]`
	rows, err := reportRows([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printCSV(&out, rows); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&out).ReadAll()
	want := [][]string{
		{"EmailAddress", "Status", "ItemsSkipped", "SkippedItemCount", "SkippedItemList", "LastLogLine"},
		{"a@x", "Synced", "1", "1", "Inbox/Big, one (20000 bytes, LargeItem)", "error: SkippedItemsNeedApproval"},
		{"b@x", "Completed", "0", "0", "", ""},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q %v\nwant %q", got, err, want)
	}
}

// TestErrorsAsJSON: with -o json a failure is the API's error body on
// stderr, so scripts parse success and failure alike; without it, the
// "Code: message" line.
func TestErrorsAsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"batch", "set", "-o", "json"}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	var body struct{ Code, Message, Hint string }
	if err := json.Unmarshal(errb.Bytes(), &body); err != nil || body.Code != "InvalidArgument" || body.Message == "" || out.Len() != 0 {
		t.Fatalf("stderr %q (%v), stdout %q", errb.String(), err, out.String())
	}
	errb.Reset()
	Main([]string{"batch", "set"}, nil, &out, &errb)
	if !bytes.HasPrefix(errb.Bytes(), []byte("InvalidArgument: ")) {
		t.Fatalf("stderr without -o json: %q", errb.String())
	}
}
