package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
)

// TestCLIDirectoryScale: `mailbox create --csv` creates a file of
// mailboxes or, listing every bad row, none; the list commands print every
// page by default and one page with its cursor with --limit; add-member
// prints the change only.
func TestCLIDirectoryScale(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		dsn := ""
		if dialect == db.Postgres {
			dsn = dbtest.DSN(t, db.Postgres)
		}
		s := serveIn(t, t.TempDir(), dsn)
		op := s.as(t, s.op)
		var contoso struct{ Id, AdminToken string }
		op.json(&contoso, "tenant", "create", "contoso")
		op.run("tenant", "create", "fabrikam")
		ca := s.as(t, contoso.AdminToken)
		dom := "contoso.tenantferry.test"

		file := filepath.Join(t.TempDir(), "mailboxes.csv")
		var sb strings.Builder
		sb.WriteString("Address,DisplayName,Password,Quota\n")
		for i := 0; i < 7; i++ {
			pw := ""
			if i < 2 {
				pw = fmt.Sprintf("pw-%d", i)
			}
			fmt.Fprintf(&sb, "user%02d@%s,User %d,%s,1GB\n", i, dom, i, pw)
		}
		writeFile(t, file, []byte(sb.String()))
		var res struct{ Created, WithoutPassword int }
		ca.json(&res, "mailbox", "create", "--csv", file)
		if res.Created != 7 || res.WithoutPassword != 5 {
			t.Fatalf("created %+v", res)
		}
		// The mailboxes have their content.
		if out := ca.run("mailbox", "stats", "user03"); !strings.Contains(out, "Inbox") {
			t.Fatalf("stats of a bulk-created mailbox:\n%s", out)
		}

		// A bad file: every bad row on stderr, nothing created.
		bad := filepath.Join(t.TempDir(), "bad.csv")
		writeFile(t, bad, []byte("Address,Quota\nnew1@"+dom+",1GB\nuser01@"+dom+",\nnew2@"+dom+",huge\nnew3@elsewhere.example,\n"))
		msg := ca.fail("InvalidRows", "mailbox", "create", "--csv", bad)
		for _, want := range []string{"3 of 4 rows", "row 3, Address: ProxyAddressExists", "row 4, Quota: InvalidQuota", "row 5, Address: NotAcceptedDomain"} {
			if !strings.Contains(msg, want) {
				t.Fatalf("stderr lacks %q:\n%s", want, msg)
			}
		}
		ca.fail("RecipientNotFound", "mailbox", "show", "new1")
		ca.fail("InvalidArgument", "mailbox", "create", "--csv", bad, "--alias", "x")

		// Lists: every page by default, one page and its cursor with --limit.
		var all []recipient
		ca.json(&all, "mailbox", "list")
		if len(all) != 7 {
			t.Fatalf("mailbox list: %d rows", len(all))
		}
		r := cli(t, s.dir, ca.env(), "mailbox", "list", "--limit", "3", "-o", "json")
		var page []recipient
		if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
			t.Fatalf("--limit 3 -o json: %v\n%s", err, r.stdout)
		}
		cur, ok := strings.CutPrefix(strings.SplitN(r.stderr, "\n", 2)[0], "NextCursor: ")
		if r.code != 0 || len(page) != 3 || page[0].Alias != "user00" || !ok || cur == "" {
			t.Fatalf("--limit 3: exit %d, %d rows, stderr %q", r.code, len(page), r.stderr)
		}
		r = cli(t, s.dir, ca.env(), "mailbox", "list", "--limit", "3", "--cursor", cur, "-o", "csv")
		if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 4 || !strings.Contains(lines[1], "user03") {
			t.Fatalf("--cursor: exit %d:\n%s\n%s", r.code, r.stdout, r.stderr)
		}
		r = cli(t, s.dir, ca.env(), "mailbox", "list", "--limit", "5", "--cursor", cur)
		if r.code != 0 || !strings.Contains(r.stdout, "user06") || r.stderr != "" {
			t.Fatalf("last page: exit %d:\n%s\nstderr %q", r.code, r.stdout, r.stderr)
		}
		// fabrikam's admin cannot use contoso's cursor.
		op.fail("InvalidCursor", "mailbox", "list", "--tenant", "fabrikam", "--cursor", cur)
		ca.fail("InvalidLimit", "mailbox", "list", "--limit", "5000")
		if out := op.run("tenant", "list", "--limit", "1"); !strings.Contains(out, "contoso") || strings.Contains(out, "fabrikam") {
			t.Fatalf("tenant list --limit 1:\n%s", out)
		}

		// Group changes print the change, not the group.
		ca.run("group", "create", "--name", "scope", "--type", "security")
		for i := 0; i < 4; i++ {
			ca.run("group", "add-member", "scope", fmt.Sprintf("user%02d", i))
		}
		out := ca.run("group", "add-member", "scope", "user05")
		if !strings.Contains(out, "Added") || !strings.Contains(out, "user05@") || strings.Contains(out, "user00") {
			t.Fatalf("add-member printed:\n%s", out)
		}
		out = ca.run("group", "remove-member", "scope", "user00")
		if !strings.Contains(out, "Removed") || strings.Contains(out, "user01") {
			t.Fatalf("remove-member printed:\n%s", out)
		}
		var members []recipient
		ca.json(&members, "group", "members", "scope")
		if len(members) != 4 {
			t.Fatalf("group members: %d", len(members))
		}
	})
}

// writeFile writes a test file.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
