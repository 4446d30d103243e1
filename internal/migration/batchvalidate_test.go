package migration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestValidateBatch (issue 12, the batch wizard's preview): POST
// .../batches/validate checks each CSV row as batch create and the move's
// start would, reports every bad row with its code, refuses a bad batch as
// a whole with its code, and writes nothing.
func TestValidateBatch(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) { validateBatch(t, dbtest.DSN(t, dialect)) })
}

func validateBatch(t *testing.T, dsn string) {
	r := newRigOn(t, scenario.Options{DB: dsn})
	for _, a := range []string{"val01", "val02", "val04"} {
		src := r.source(a, 1, false, true)
		r.stamp(src, func(sp *directory.RecipientSpec) {
			if a == "val04" {
				sp.ExchangeGuid, sp.ArchiveGuid = "", ""
			}
		})
	}
	r.tgt.Mailbox(tgtName, "val05", "pw-val05", false)
	r.batchSpec(migration.BatchSpec{Name: "other", Endpoint: r.tr.Endpoint, CSV: csvOf(r.addr("val02"))})
	tok := r.tgt.OperatorToken
	call := func(body apitypes.BatchCreate) (int, []byte) {
		t.Helper()
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", r.tgt.PublicURL+"/api/v1/tenants/"+tgtName+"/batches/validate", bytes.NewReader(j))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	count := func() string {
		var b, m int
		q := r.tgt.DB.Read()
		if err := q.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM batches`).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if err := q.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM moves`).Scan(&m); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d batches, %d moves", b, m)
	}
	before := count()
	csv := "EmailAddress\n" + strings.Join([]string{r.addr("val01"), "not-an-address", r.addr("val01"), r.addr("val02"),
		r.addr("val03"), r.addr("val04"), r.addr("val05")}, "\n") + "\n"
	body := apitypes.BatchCreate{Name: "wave", Endpoint: r.tr.Endpoint, Csv: csv, TargetDeliveryDomain: r.tr.TargetDelivery}
	st, raw := call(body)
	if st != http.StatusOK {
		t.Fatalf("validate: %d %s", st, raw)
	}
	var v apitypes.BatchValidation
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	want := []string{"2 " + r.addr("val01") + " OK ", "3 not-an-address Error InvalidCsv", "4 " + r.addr("val01") + " Error InvalidCsv",
		"5 " + r.addr("val02") + " Error UserInAnotherBatch", "6 " + r.addr("val03") + " Error RecipientNotFound",
		"7 " + r.addr("val04") + " Error MissingExchangeGuid", "8 " + r.addr("val05") + " Error TargetAlreadyHasMailbox"}
	var got []string
	for _, row := range v.Rows {
		got = append(got, fmt.Sprintf("%d %s %s %s", row.Line, row.EmailAddress, row.Status, row.Code))
		if row.Status == apitypes.RowError && (row.Message == "" || row.Hint == "") {
			t.Errorf("row %d: no message or hint: %+v", row.Line, row)
		}
	}
	if v.Valid || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("validation (Valid %v):\n%s\nwant\n%s", v.Valid, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(v.Rows[2].Message, "line 2") || !strings.Contains(v.Rows[3].Message, "other") {
		t.Errorf("duplicate or busy rows do not name the other line or batch: %+v %+v", v.Rows[2], v.Rows[3])
	}

	// Only good rows: Valid.
	ok := body
	ok.Csv = string(csvOf(r.addr("val01")))
	if st, raw := call(ok); st != http.StatusOK || !strings.Contains(string(raw), `"Valid":true`) {
		t.Fatalf("good CSV: %d %s", st, raw)
	}
	// Problems of the batch as a whole are an error reply with their code.
	for _, c := range []struct {
		name string
		edit func(*apitypes.BatchCreate)
		code string
	}{
		{"name taken", func(b *apitypes.BatchCreate) { b.Name = "other" }, "BatchExists"},
		{"unknown endpoint", func(b *apitypes.BatchCreate) { b.Endpoint = "nope" }, "EndpointNotFound"},
		{"bad header", func(b *apitypes.BatchCreate) { b.Csv = "Address\nx@y.test\n" }, "InvalidCsv"},
		{"no delivery domain", func(b *apitypes.BatchCreate) { b.TargetDeliveryDomain = "" }, "MissingField"},
		{"complete before start", func(b *apitypes.BatchCreate) {
			b.StartAfter, b.CompleteAfter = "2030-01-02T00:00:00Z", "2030-01-01T00:00:00Z"
		}, "InvalidSchedule"},
	} {
		b := ok
		c.edit(&b)
		st, raw := call(b)
		if st < 400 || !strings.Contains(string(raw), `"Code":"`+c.code+`"`) {
			t.Errorf("%s: %d %s, want %s", c.name, st, raw, c.code)
		}
	}
	if after := count(); after != before {
		t.Fatalf("validation wrote: before %s, after %s", before, after)
	}
}
