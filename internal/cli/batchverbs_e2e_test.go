package cli_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestBatchAndUserVerbsCLI (issue 11 items 1–3) drives the new verbs
// through the tenantferry binary against two servers, the target on
// SQLite and on PostgreSQL: `batch set` (bad input refused with its code
// and nothing changed; schedule, item limits, report interval), `batch
// add-users` (a user already in the batch refused, a new one synced),
// `migrationuser list -o csv|show|set|approve-skipped-items|resync|remove|
// stop|start|complete`, `endpoint set --max-bytes-per-second`, `batch
// complete --complete-after` (the scheduler completes the rest), `move
// --suspend-when-ready-to-complete` (a one-user batch named for the user),
// `batch create --since --exclude-folder` and `batch dry-run`,
// `migration-template show|set|reset`, and
// `batch report --format csv`.
func TestBatchAndUserVerbsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end migration test")
	}
	t.Run("sqlite", func(t *testing.T) { batchAndUserVerbs(t, "") })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN to run the PostgreSQL variant")
		}
		batchAndUserVerbs(t, dbtest.DSN(t, db.Postgres))
	})
}

// batchAndUserVerbs runs TestBatchAndUserVerbsCLI with the target on the
// database dsn ("" for SQLite).
func batchAndUserVerbs(t *testing.T, dsn string) {
	nodes := newNodes(t, "A", "B")
	a, b := nodes[0], nodes[1]
	if dsn != "" {
		b.extra = append(b.extra, "--db", dsn)
	}
	a.start("")
	b.start("")
	tr := setupTenants(t, a, b)
	aliases := []string{"v1", "v2", "v3", "v4"}
	addr := func(alias string) string { return alias + "@fabrikam.tenantferry.test" }
	for _, al := range aliases {
		tr.src.run("mailbox", "create", "--tenant", "contoso", "--alias", al, "--password", "pw-"+al+"-Secret!")
	}
	tr.setupTrust(t, a, b, aliases...)
	tgt := tr.tgt
	all := writeCSV(t, b.dir, "all.csv", addr("v1"), addr("v2"), addr("v3"), addr("v4"))
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", all, "--target-delivery-domain", "fabrikam.tenantferry.test")
	first := writeCSV(t, b.dir, "first.csv", addr("v1"), addr("v2"))
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "w", "--endpoint", tr.endpoint, "--csv", first,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	tgt.waitBatch("fabrikam", "w", 2*time.Minute, "Synced")

	// batch create with a content filter: bad rules are refused, and a
	// valid filter is kept and shown.
	more := writeCSV(t, b.dir, "more-filter.csv", addr("v3"))
	create := func(extra ...string) []string {
		return append([]string{"batch", "create", "--tenant", "fabrikam", "--name", "f", "--endpoint", tr.endpoint, "--csv", more,
			"--target-delivery-domain", "fabrikam.tenantferry.test"}, extra...)
	}
	tgt.fail("InvalidFilter", create("--exclude-folder", "Projects/[a")...)
	tgt.fail("InvalidFilter", create("--map-folder", "^(Projects -> Work")...)
	tgt.fail("InvalidPasswordContinuity", create("--password-continuity", "carry")...) // the source is another server
	tgt.fail("InvalidPasswordContinuity", create("--password-continuity", "telepathy")...)

	// An IMAP endpoint with OAuth2 sign-in: bad settings refused, good ones shown.
	oauthEP := func(name string, extra ...string) []string {
		return append([]string{"endpoint", "create", "--tenant", "fabrikam", "--name", name, "--type", "IMAP", "--remote-server", "imaps://imap.legacy.example",
			"--app-id", "client-1", "--secret", "client-secret"}, extra...)
	}
	tgt.fail("InvalidOAuth", oauthEP("g1", "--oauth-token-url", "https://oauth.legacy.example/token", "--oauth-grant", "password")...)
	tgt.fail("InvalidOAuth", oauthEP("g1", "--oauth-token-url", "ftp://oauth.legacy.example/token")...)
	tgt.fail("InvalidOAuth", oauthEP("g1", "--oauth-scope", "mail")...)
	var ov struct {
		OAuth struct{ TokenURL, Scope, Grant, Mechanism string }
	}
	tgt.json(&ov, oauthEP("gmail", "--oauth-token-url", "https://oauth.legacy.example/token", "--oauth-scope", "https://mail.legacy.example/",
		"--oauth-mechanism", "oauthbearer")...)
	if ov.OAuth.Grant != "refresh_token" || ov.OAuth.Mechanism != "OAUTHBEARER" || ov.OAuth.Scope != "https://mail.legacy.example/" {
		t.Fatalf("OAuth endpoint: %+v", ov)
	}
	tgt.json(&ov, "endpoint", "set", "--tenant", "fabrikam", "gmail", "--oauth-grant", "client_credentials")
	if ov.OAuth.Grant != "client_credentials" || ov.OAuth.Mechanism != "OAUTHBEARER" {
		t.Fatalf("endpoint set --oauth-grant: %+v", ov)
	}

	// migration-template: refused texts change nothing; set, show, reset.
	writeFile := func(name, text string) string {
		p := filepath.Join(b.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tpl := writeFile("before.txt", "Hello {{.DisplayName}}, your move is on {{.CompleteAfter}}.\n")
	bad := writeFile("bad.txt", "Hello {{.Nobody}}\n")
	tgt.fail("InvalidTemplate", "migration-template", "set", "--tenant", "fabrikam", "before", "--subject", "Move", "--file", bad)
	tgt.fail("InvalidTemplate", "migration-template", "set", "--tenant", "fabrikam", "during", "--subject", "Move", "--file", tpl)
	var tv struct {
		Subject, Body string
		Custom        bool
	}
	tgt.json(&tv, "migration-template", "show", "--tenant", "fabrikam", "before")
	if tv.Custom || !strings.Contains(tv.Body, "{{.SetPasswordURL}}") {
		t.Fatalf("built-in template: %+v", tv)
	}
	tgt.json(&tv, "migration-template", "set", "--tenant", "fabrikam", "before", "--subject", "Moving {{.EmailAddress}}", "--file", tpl)
	if !tv.Custom || tv.Subject != "Moving {{.EmailAddress}}" || !strings.Contains(tv.Body, "{{.CompleteAfter}}") {
		t.Fatalf("set template: %+v", tv)
	}
	tgt.json(&tv, "migration-template", "reset", "--tenant", "fabrikam", "before")
	if tv.Custom {
		t.Fatalf("reset template: %+v", tv)
	}
	tgt.fail("InvalidTime", create("--since", "2024-13-01")...)
	tgt.fail("InvalidFilter", create("--since", "2025-01-01", "--before", "2024-01-01")...)
	var fv struct {
		Filter struct {
			Since          time.Time
			ExcludeFolders []string
		}
	}
	tgt.json(&fv, create("--since", "2024-01-01", "--exclude-folder", `\Junk`, "--exclude-folder", "Private/*")...)
	if !fv.Filter.Since.Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)) || strings.Join(fv.Filter.ExcludeFolders, "|") != `\Junk|Private/*` {
		t.Fatalf("batch create --since --exclude-folder: %+v", fv)
	}
	var dr []struct {
		EmailAddress string
		Items        int64
		Folders      []struct{ Path, TargetPath string }
	}
	tgt.json(&dr, "batch", "dry-run", "--tenant", "fabrikam", "f")
	if len(dr) != 1 || dr[0].EmailAddress != addr("v3") || len(dr[0].Folders) == 0 {
		t.Fatalf("batch dry-run: %+v", dr)
	}
	if out := tgt.run("batch", "dry-run", "--tenant", "fabrikam", "f", "--user", addr("v3")); !strings.Contains(out, "(total)") {
		t.Fatalf("batch dry-run table:\n%s", out)
	}
	tgt.fail("MigrationUserNotFound", "batch", "dry-run", "--tenant", "fabrikam", "f", "--user", addr("v1"))
	tgt.run("batch", "remove", "--tenant", "fabrikam", "f", "--yes")

	// batch set
	tgt.fail("NothingToChange", "batch", "set", "--tenant", "fabrikam", "w")
	tgt.fail("InvalidItemLimit", "batch", "set", "--tenant", "fabrikam", "w", "--large-item-limit", "-5")
	tgt.fail("InvalidItemLimit", "batch", "set", "--tenant", "fabrikam", "w", "--bad-item-limit", "-3")
	tgt.fail("InvalidMaxItemSize", "batch", "set", "--tenant", "fabrikam", "w", "--max-item-size", "0")
	tgt.fail("InvalidReportInterval", "batch", "set", "--tenant", "fabrikam", "w", "--report-interval", "5s")
	tgt.fail("InvalidInterval", "batch", "set", "--tenant", "fabrikam", "w", "--report-interval", "weekly")
	var lv struct {
		MaxItemSize, LargeItemLimit, BadItemLimit int64
		ReportInterval                            string
	}
	tgt.json(&lv, "batch", "show", "--tenant", "fabrikam", "w")
	if lv.MaxItemSize != 150<<20 || lv.LargeItemLimit != -1 || lv.BadItemLimit != -1 || lv.ReportInterval != "0s" {
		t.Fatalf("defaults, or refused settings changed the batch: %+v", lv)
	}
	tgt.json(&lv, "batch", "set", "--tenant", "fabrikam", "w", "--large-item-limit", "5", "--bad-item-limit", "0", "--report-interval", "12h",
		"--max-item-size", "1048576")
	if lv.MaxItemSize != 1<<20 || lv.LargeItemLimit != 5 || lv.BadItemLimit != 0 || lv.ReportInterval != "12h0m0s" {
		t.Fatalf("batch set limits: %+v", lv)
	}
	tgt.fail("InvalidTime", "batch", "set", "--tenant", "fabrikam", "w", "--complete-after", "tomorrow")
	tgt.fail("BatchNotFound", "batch", "set", "--tenant", "fabrikam", "nosuch", "--auto-complete=false")
	var bv struct{ NotificationEmails string }
	tgt.json(&bv, "batch", "set", "--tenant", "fabrikam", "w", "--notification-emails", "it@fabrikam.example")
	if bv.NotificationEmails != "it@fabrikam.example" {
		t.Fatalf("batch set: %+v", bv)
	}

	// batch add-users
	tgt.fail("UserInAnotherBatch", "batch", "add-users", "--tenant", "fabrikam", "w", "--csv", first)
	tgt.fail("InvalidCsv", "batch", "add-users", "--tenant", "fabrikam", "w", "--csv", writeCSV(t, b.dir, "bad-row.csv", addr("v4"), "not-an-address"))
	// The endpoint's bandwidth cap: refused below 0, set, shown.
	tgt.fail("InvalidBandwidth", "endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--max-bytes-per-second", "-1")
	var epv struct{ MaxBytesPerSecond int64 }
	tgt.json(&epv, "endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--max-bytes-per-second", "500000000")
	if epv.MaxBytesPerSecond != 500000000 {
		t.Fatalf("endpoint set --max-bytes-per-second: %+v", epv)
	}
	tgt.run("batch", "add-users", "--tenant", "fabrikam", "w", "--csv", writeCSV(t, b.dir, "more.csv", addr("v3")))
	if us := tgt.waitBatch("fabrikam", "w", 2*time.Minute, "Synced"); len(us) != 3 {
		t.Fatalf("%d users after add-users", len(us))
	}

	// migrationuser
	rows, err := csv.NewReader(strings.NewReader(tgt.run("migrationuser", "list", "--tenant", "fabrikam", "-o", "csv"))).ReadAll()
	if err != nil || len(rows) != 4 || rows[0][0] != "EmailAddress" || !strings.Contains(strings.Join(rows[0], ","), "Batch") {
		t.Fatalf("migrationuser list -o csv: %q %v", rows, err)
	}
	tgt.fail("MigrationUserNotFound", "migrationuser", "show", "--tenant", "fabrikam", "nobody@fabrikam.tenantferry.test")
	status := func(alias string) string {
		var u struct{ Status string }
		tgt.json(&u, "migrationuser", "show", "--tenant", "fabrikam", addr(alias))
		return u.Status
	}
	// migrationuser set: refusals change nothing; a limit of the user's own.
	tgt.fail("NothingToChange", "migrationuser", "set", "--tenant", "fabrikam", addr("v2"))
	tgt.fail("InvalidItemLimit", "migrationuser", "set", "--tenant", "fabrikam", addr("v2"), "--large-item-limit", "-5")
	tgt.fail("InvalidTime", "migrationuser", "set", "--tenant", "fabrikam", addr("v2"), "--complete-after", "soon")
	tgt.fail("MigrationUserNotFound", "migrationuser", "set", "--tenant", "fabrikam", "nobody@fabrikam.tenantferry.test", "--bad-item-limit", "1")
	var uv struct {
		LargeItemLimit, BadItemLimit *int64
		CompleteAfter                *time.Time
	}
	tgt.json(&uv, "migrationuser", "show", "--tenant", "fabrikam", addr("v2"))
	if uv.LargeItemLimit != nil || uv.BadItemLimit != nil || uv.CompleteAfter != nil {
		t.Fatalf("refused settings changed the user: %+v", uv)
	}
	tgt.json(&uv, "migrationuser", "set", "--tenant", "fabrikam", addr("v2"), "--large-item-limit", "3")
	if uv.LargeItemLimit == nil || *uv.LargeItemLimit != 3 || uv.BadItemLimit != nil {
		t.Fatalf("migrationuser set: %+v", uv)
	}
	tgt.run("migrationuser", "approve-skipped-items", "--tenant", "fabrikam", addr("v2"))
	tgt.run("migrationuser", "resync", "--tenant", "fabrikam", addr("v2"))
	sc.Eventually(t, 2*time.Minute, "v2 resynced", func() error {
		out := tgt.run("batch", "report", "--tenant", "fabrikam", "w", "--user", addr("v2"), "-o", "json")
		if !strings.Contains(out, "resync done") {
			return fmt.Errorf("no resync in the report yet")
		}
		return nil
	})
	// migrationuser remove: v4 joins the batch and leaves it again (it
	// moves alone below).
	tgt.run("batch", "add-users", "--tenant", "fabrikam", "w", "--csv", writeCSV(t, b.dir, "v4.csv", addr("v4")))
	sc.Eventually(t, 2*time.Minute, "v4 synced in w", func() error {
		if st := status("v4"); st != "Synced" {
			return fmt.Errorf("v4 %s", st)
		}
		return nil
	})
	tgt.run("migrationuser", "remove", "--tenant", "fabrikam", addr("v4"), "--yes")
	tgt.fail("MigrationUserNotFound", "migrationuser", "show", "--tenant", "fabrikam", addr("v4"))
	tgt.run("migrationuser", "stop", "--tenant", "fabrikam", addr("v3"))
	if st := status("v3"); st != "Stopped" {
		t.Fatalf("after stop: %s", st)
	}
	tgt.run("migrationuser", "start", "--tenant", "fabrikam", addr("v3"))
	tgt.run("migrationuser", "complete", "--tenant", "fabrikam", addr("v1"), "--yes")
	sc.Eventually(t, 2*time.Minute, "v1 completed alone", func() error {
		if s1, s2 := status("v1"), status("v2"); s1 != "Completed" || s2 != "Synced" {
			return fmt.Errorf("v1 %s, v2 %s", s1, s2)
		}
		return nil
	})

	// batch complete --complete-after: the scheduler completes the rest.
	tgt.run("batch", "complete", "--tenant", "fabrikam", "w", "--complete-after", time.Now().Add(-time.Second).UTC().Format(time.RFC3339), "--yes")
	tgt.waitBatch("fabrikam", "w", 2*time.Minute, "Completed")

	// move (New-MoveRequest): a one-user batch named for the user.
	tgt.fail("InvalidTime", "move", "--tenant", "fabrikam", addr("v4"), "--endpoint", tr.endpoint, "--target-delivery-domain",
		"fabrikam.tenantferry.test", "--complete-after", "later")
	tgt.fail("EndpointNotFound", "move", "--tenant", "fabrikam", addr("v4"), "--endpoint", "nosuch", "--target-delivery-domain", "fabrikam.tenantferry.test")
	var mv struct{ Name string }
	tgt.json(&mv, "move", "--tenant", "fabrikam", addr("v4"), "--endpoint", tr.endpoint, "--target-delivery-domain", "fabrikam.tenantferry.test",
		"--suspend-when-ready-to-complete")
	if mv.Name != "move-"+addr("v4") {
		t.Fatalf("move: batch %q", mv.Name)
	}
	sc.Eventually(t, 2*time.Minute, "the move suspended when ready to complete", func() error {
		if st := status("v4"); st != "Synced" {
			return fmt.Errorf("v4 %s", st)
		}
		return nil
	})
	tgt.run("migrationuser", "complete", "--tenant", "fabrikam", addr("v4"), "--yes")
	tgt.waitBatch("fabrikam", mv.Name, 2*time.Minute, "Completed")

	// batch report --format csv: one row per user.
	rep, err := csv.NewReader(strings.NewReader(tgt.run("batch", "report", "--tenant", "fabrikam", "w", "--format", "csv"))).ReadAll()
	if err != nil || len(rep) != 4 || rep[0][len(rep[0])-1] != "LastLogLine" {
		t.Fatalf("batch report --format csv: %q %v", rep, err)
	}
}
