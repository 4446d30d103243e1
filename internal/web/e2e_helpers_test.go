package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
	"github.com/tenantferry/tenantferry/internal/units"
)

// jsCall evaluates expr (with the modules' exports in scope as dom and ba)
// in the page and returns its JSON-encoded value decoded into T.
func jsCall[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	js := `Promise.all([import('/ui/assets/dom.js'), import('/ui/assets/batchactions.js')]).then(([dom, ba]) => JSON.stringify(` + expr + `))`
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		b.t.Fatalf("evaluate %s: %q: %v", expr, s, err)
	}
	return v
}

// TestBatchHelpersInChromium runs the batch page's helpers in Chromium:
// sizes in the CLI's units (compared with internal/units.Bytes), the ETA,
// the commands per state, CLI flags turned into form fields, and the CSV
// report (read back with encoding/csv).
func TestBatchHelpersInChromium(t *testing.T) {
	browserTest(t)
	srv := httptest.NewServer(newMux(t))
	defer srv.Close()
	b := newBrowser(t)
	b.do("open", 30*time.Second, chromedp.Navigate(srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")))

	sizes := []int64{0, 1, 1023, 1024, 1536, 10*1024 + 300, 1<<20 - 1, 1 << 20, 5*(1<<20) + 12345, 1<<30 - 1, 1 << 30, 3*(1<<30) + 1<<29, 1 << 40}
	js, _ := json.Marshal(sizes)
	got := jsCall[[]string](b, string(js)+`.map((n) => dom.fmtBytes(n))`)
	for i, n := range sizes {
		if want := units.Bytes(n); got[i] != want {
			t.Errorf("fmtBytes(%d) = %q, units.Bytes = %q", n, got[i], want)
		}
	}

	// ETA: bytes left over the users' current rates, else the batch's.
	etas := jsCall[[]any](b, `[
		ba.eta({ BytesPerSecond: 100 }, [{ Status: 'Syncing', BytesTotal: 4096, BytesTransferred: 1024, CurrentBytesPerSecond: 1024 }, { Status: 'Synced', BytesTotal: 10, BytesTransferred: 10, CurrentBytesPerSecond: 5000 }]),
		ba.eta({ BytesPerSecond: 100 }, [{ Status: 'Queued', BytesTotal: 1000, BytesTransferred: 0 }]),
		ba.eta({ BytesPerSecond: 0 }, [{ Status: 'Queued', BytesTotal: 1000, BytesTransferred: 0 }]),
		ba.fmtDuration(3 * 3600 + 125), ba.fmtDuration(125), ba.fmtDuration(9.6)]`)
	if fmt.Sprint(etas) != "[3 10 <nil> 3h 02m 2m 05s 10s]" {
		t.Errorf("eta and durations: %v", etas)
	}

	// The commands per state.
	acts := jsCall[map[string][]string](b, `({
		created: ba.allowedBatchActions('Created'), syncing: ba.allowedBatchActions('Syncing'), removed: ba.allowedBatchActions('Removed'),
		completed: ba.allowedBatchActions('Completed'),
		userFailed: ba.allowedUserActions({ Status: 'Failed' }, 'Failed'),
		userSyncing: ba.allowedUserActions({ Status: 'Syncing' }, 'Syncing'),
		userStoppedBatch: ba.allowedUserActions({ Status: 'Stopped' }, 'Stopped'),
		userApproval: ba.allowedUserActions({ Status: 'Synced', ItemsSkipped: 2, Error: { Code: 'SkippedItemsNeedApproval' } }, 'SyncedWithErrors'),
		userRemoved: ba.allowedUserActions({ Status: 'Synced' }, 'Removed'),
	})`)
	for k, want := range map[string]string{
		"created": "start remove", "syncing": "stop sync-now complete", "removed": "", "completed": "remove",
		"userFailed": "stop start resync remove", "userSyncing": "stop complete", "userStoppedBatch": "remove",
		"userApproval": "stop start complete approve-skipped-items resync remove", "userRemoved": "",
	} {
		if g := strings.Join(acts[k], " "); g != want {
			t.Errorf("%s: %q, want %q", k, g, want)
		}
	}

	// Hints written for the CLI name the form's fields in the web.
	texts := jsCall[[]string](b, `[
		dom.webText('pass --target-delivery-domain, e.g. fabrikam.tenantferry.test'),
		dom.webText('pass --endpoint NAME'),
		dom.webText('pass --csv FILE with an EmailAddress column'),
		dom.webText('pass --complete-after, --start-after or --report-interval'),
		dom.webText('raise the limit with --large-item-limit 5'),
		dom.webText('no flag here: a-b--c stays'),
		dom.webText("stop the batch first ('tenantferry batch stop wave1'), then remove it"),
		dom.webText("stop the user first ('tenantferry migrationuser stop a@x.test'), then remove it"),
		dom.webText("run 'tenantferry mailuser set ann --exchange-guid G'"),
		dom.webText("add it with 'tenantferry domain add x.example'"),
		dom.webText("the source admin runs 'tenantferry orgrel create --tenant c --oauth-app-id A'"),
		dom.webText("list them ('tenantferry move-registration list --tenant c')")]`)
	want := []string{"Fill in Target delivery domain", "Fill in Endpoint", "Fill in Csv with an EmailAddress column",
		"Fill in Complete after, Start after, Report interval", "raise the limit with Large item limit 5", "no flag here: a-b--c stays",
		"stop the batch first (the Stop button of the batch), then remove it",
		"stop the user first (the Stop command of the user's Actions menu), then remove it",
		"use the Mail users page", "add it on the Overview (Accepted domains) page",
		"the source admin uses the Organization relationships page",
		"list them ('tenantferry move-registration list --tenant c')"}
	for i := range want {
		if texts[i] != want[i] {
			t.Errorf("webText #%d = %q, want %q", i, texts[i], want[i])
		}
	}

	// The CSV report: the CLI's columns and cell formats, quoted as Go's
	// encoding/csv quotes.
	out := jsCall[string](b, `ba.reportCSV([
		{ EmailAddress: 'a@x.test', Status: 'Synced', Error: { Code: 'E', Message: 'bad, "very"' }, ItemsSynced: 3, CompleteAfter: null,
		  SkippedItems: [{ Folder: 'Inbox', Subject: 'Big', Size: 99, Reason: 'LargeItem' }], Report: [{ Level: 'info', Message: 'one' }, { Level: 'warn', Message: 'last\nline' }] },
		{ EmailAddress: 'b@x.test', Status: 'Queued', ItemsSynced: 0, SkippedItems: [], Report: [] }])`)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("CSV %q: %v", out, err)
	}
	wantRows := [][]string{
		{"EmailAddress", "Status", "Error", "ItemsSynced", "CompleteAfter", "SkippedItemCount", "SkippedItemList", "LastLogLine"},
		{"a@x.test", "Synced", `{Code=E; Message=bad, "very"}`, "3", "", "1", "Inbox/Big (99 bytes, LargeItem)", "warn: last\nline"},
		{"b@x.test", "Queued", "", "0", "", "0", "", ""},
	}
	if fmt.Sprintf("%q", rows) != fmt.Sprintf("%q", wantRows) {
		t.Errorf("CSV rows\n%q\nwant\n%q", rows, wantRows)
	}
	b.checkConsole()
}

// operatorToken is the server's operator token (from its data directory
// when the server did not keep it).
func operatorToken(t *testing.T, s *scenario.Server) string {
	t.Helper()
	if s.OperatorToken != "" {
		return s.OperatorToken
	}
	b, err := os.ReadFile(filepath.Join(s.Cfg.DataDir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
