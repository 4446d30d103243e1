package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
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
	if err := (&env{stdout: &bytes.Buffer{}, output: "xml"}).print([]byte(`[]`), view{}); err == nil {
		t.Error("-o xml was accepted")
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
	if code := Main([]string{"batch", "set", "-o", "json"}, nil, &out, &errb); code != ExitUsage {
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

// TestTenantDeleteConfirms: without --yes, `tenant delete` asks for the
// tenant's name and refuses a mismatch before calling the server (none
// runs here: a call would fail with a connection error instead).
func TestTenantDeleteConfirms(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"tenant", "delete", "contoso", "--server", "http://127.0.0.1:1", "--token", "x"}, strings.NewReader("fabrikam\n"), &out, &errb)
	if code != ExitUsage || !strings.Contains(errb.String(), "Type its name to confirm") || !strings.Contains(errb.String(), "contoso was left as it is") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestTableCells: tables and lists show sizes and rates for people and
// floats to two decimals; CSV keeps the exact numbers.
func TestTableCells(t *testing.T) {
	raw := `[{"EmailAddress":"a@x","BytesTransferred":362016768,"CurrentBytesPerSecond":167392024.08522466,"Quota":0,"ItemsSynced":42,"Ratio":0.123456}]`
	var out bytes.Buffer
	if err := (&env{stdout: &out, output: "table"}).print([]byte(raw), view{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"345.2 MiB", "159.6 MiB/s", "unlimited", " 42 ", "0.12"} {
		if !strings.Contains(out.String()+" ", want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	(&env{stdout: &out, output: "csv"}).print([]byte(raw), view{})
	if !strings.Contains(out.String(), "362016768,167392024.08522466,0,42,0.123456") {
		t.Errorf("csv changed the numbers:\n%s", out.String())
	}
}

// TestWatchJSON: `batch watch -o json` prints each user as a JSON line
// when it changes, until none is busy.
func TestWatchJSON(t *testing.T) {
	replies := []string{
		`[{"EmailAddress":"a@x","Status":"Syncing","PercentComplete":10},{"EmailAddress":"b@x","Status":"Synced","PercentComplete":95}]`,
		`[{"EmailAddress":"a@x","Status":"Syncing","PercentComplete":10},{"EmailAddress":"b@x","Status":"Synced","PercentComplete":95}]`,
		`[{"EmailAddress":"a@x","Status":"Synced","PercentComplete":95},{"EmailAddress":"b@x","Status":"Synced","PercentComplete":95}]`,
	}
	i := 0
	get := func() ([]byte, error) { r := replies[min(i, len(replies)-1)]; i++; return []byte(r), nil }
	var out bytes.Buffer
	if err := watchJSON(context.Background(), &out, get, false, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || i != 3 {
		t.Fatalf("%d polls, lines:\n%s", i, out.String())
	}
	for _, l := range lines {
		var u struct{ EmailAddress, Status string }
		if err := json.Unmarshal([]byte(l), &u); err != nil || u.EmailAddress == "" {
			t.Fatalf("not a JSON user line: %q", l)
		}
	}
}

// TestMissingRequiredFlagsAtOnce: a command missing several required
// flags names them all in one error, before anything is sent.
func TestMissingRequiredFlagsAtOnce(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main([]string{"batch", "create", "--tenant", "x", "--server", "http://127.0.0.1:1", "--token", "t"}, nil, &out, &errb)
	msg := errb.String()
	if code != ExitUsage || !strings.HasPrefix(msg, "InvalidArgument: ") {
		t.Fatalf("exit %d: %q", code, msg)
	}
	for _, f := range []string{`"name"`, `"endpoint"`, `"csv"`} {
		if !strings.Contains(msg, f) {
			t.Errorf("the error does not name %s: %q", f, msg)
		}
	}
}

// TestYAMLOutput: -o yaml keeps the reply's field order and numbers, and
// a failure with -o yaml is the error object as YAML on stderr.
func TestYAMLOutput(t *testing.T) {
	raw := `[{"EmailAddress":"a@x","ItemsSynced":42,"Ratio":0.5,"Error":null,"Folders":["Inbox","Sent Items"],"Ok":true}]`
	var out bytes.Buffer
	if err := (&env{stdout: &out, output: "yaml"}).print([]byte(raw), view{}); err != nil {
		t.Fatal(err)
	}
	want := "- EmailAddress: a@x\n  ItemsSynced: 42\n  Ratio: 0.5\n  Error: null\n  Folders:\n    - Inbox\n    - Sent Items\n  Ok: true\n"
	if out.String() != want {
		t.Fatalf("yaml:\n%s\nwant:\n%s", out.String(), want)
	}
	var errb bytes.Buffer
	if code := Main([]string{"batch", "set", "-o", "yaml"}, nil, &out, &errb); code != ExitUsage || !strings.HasPrefix(errb.String(), "Code: InvalidArgument\nMessage: ") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}

// TestReportTable: `batch report` in a terminal is a summary per user, its
// skipped items as a table and its log one line per entry, with sizes
// for people — not the whole log in one table cell.
func TestReportTable(t *testing.T) {
	raw := `[{"EmailAddress":"a@x","Status":"Synced","ItemsTotal":3,"ItemsSynced":2,"ItemsSkipped":1,"BytesTransferred":362016768,"Error":null,
	"SkippedItems":[{"Mailbox":"Primary","Folder":"Inbox","Subject":"Big one","Date":"2024-05-01T09:00:00Z","Size":20000000,"Reason":"LargeItem"}],
	"Report":[{"Time":"2026-12-04T10:00:00Z","Level":"info","Message":"Queued → Validating"},{"Time":"2026-12-04T10:00:02Z","Level":"warning","Message":"skipped Big one"}]}]`
	var out bytes.Buffer
	if err := printReport(&out, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, re := range []string{`(?m)^a@x$`, `(?m)^  Status\s+: Synced$`, `(?m)^  BytesTransferred\s+: 345\.2 MiB$`,
		`(?m)^  Skipped items \(1\):$`, `(?m)^    LargeItem\s+Primary\s+Inbox\s+Big one\s+2024-05-01T09:00:00Z\s+19\.1 MiB$`,
		`(?m)^  Log \(2 entries\):$`, `(?m)^    2026-12-04T10:00:00Z  info     Queued → Validating$`, `(?m)^    2026-12-04T10:00:02Z  warning  skipped Big one$`} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("report lacks %s:\n%s", re, got)
		}
	}
	if strings.Contains(got, "Error") {
		t.Errorf("an empty error is shown:\n%s", got)
	}
}
