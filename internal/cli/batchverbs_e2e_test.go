package cli_test

import (
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestBatchAndUserVerbsCLI (issue 11 items 1–3) drives the new verbs
// through the tenantferry binary against two servers: `batch set` (bad
// input refused with its code, a setting changed), `batch add-users` (a
// user already in the batch refused, a new one synced), `migrationuser
// list -o csv|show|stop|start|complete`, `batch complete --complete-after`
// (the scheduler completes the rest), and `batch report --format csv`.
func TestBatchAndUserVerbsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end migration test")
	}
	nodes := newNodes(t, "A", "B")
	a, b := nodes[0], nodes[1]
	a.start("")
	b.start("")
	tr := setupTenants(t, a, b)
	aliases := []string{"v1", "v2", "v3"}
	addr := func(alias string) string { return alias + "@fabrikam.tenantferry.test" }
	for _, al := range aliases {
		tr.src.run("mailbox", "create", "--tenant", "contoso", "--alias", al, "--password", "pw-"+al+"-Secret!")
	}
	tr.setupTrust(t, a, b, aliases...)
	tgt := tr.tgt
	all := writeCSV(t, b.dir, "all.csv", addr("v1"), addr("v2"), addr("v3"))
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", all, "--target-delivery-domain", "fabrikam.tenantferry.test")
	first := writeCSV(t, b.dir, "first.csv", addr("v1"), addr("v2"))
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "w", "--endpoint", tr.endpoint, "--csv", first,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	tgt.waitBatch("fabrikam", "w", 2*time.Minute, "Synced")

	// batch set
	tgt.fail("NothingToChange", "batch", "set", "--tenant", "fabrikam", "w")
	tgt.fail("InvalidLargeItemLimit", "batch", "set", "--tenant", "fabrikam", "w", "--large-item-limit", "-5")
	tgt.fail("InvalidTime", "batch", "set", "--tenant", "fabrikam", "w", "--complete-after", "tomorrow")
	tgt.fail("BatchNotFound", "batch", "set", "--tenant", "fabrikam", "nosuch", "--auto-complete=false")
	var bv struct{ NotificationEmails string }
	tgt.json(&bv, "batch", "set", "--tenant", "fabrikam", "w", "--notification-emails", "it@fabrikam.example")
	if bv.NotificationEmails != "it@fabrikam.example" {
		t.Fatalf("batch set: %+v", bv)
	}

	// batch add-users
	tgt.fail("UserInAnotherBatch", "batch", "add-users", "--tenant", "fabrikam", "w", "--csv", first)
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
	tgt.run("migrationuser", "stop", "--tenant", "fabrikam", addr("v3"))
	if st := status("v3"); st != "Stopped" {
		t.Fatalf("after stop: %s", st)
	}
	tgt.run("migrationuser", "start", "--tenant", "fabrikam", addr("v3"))
	tgt.run("migrationuser", "complete", "--tenant", "fabrikam", addr("v1"))
	sc.Eventually(t, 2*time.Minute, "v1 completed alone", func() error {
		if s1, s2 := status("v1"), status("v2"); s1 != "Completed" || s2 != "Synced" {
			return fmt.Errorf("v1 %s, v2 %s", s1, s2)
		}
		return nil
	})

	// batch complete --complete-after: the scheduler completes the rest.
	tgt.run("batch", "complete", "--tenant", "fabrikam", "w", "--complete-after", time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	tgt.waitBatch("fabrikam", "w", 2*time.Minute, "Completed")

	// batch report --format csv: one row per user.
	rep, err := csv.NewReader(strings.NewReader(tgt.run("batch", "report", "--tenant", "fabrikam", "w", "--format", "csv"))).ReadAll()
	if err != nil || len(rep) != 4 || rep[0][len(rep[0])-1] != "LastLogLine" {
		t.Fatalf("batch report --format csv: %q %v", rep, err)
	}
}
