package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// TestImportProgress: `mailbox import --progress always` (not a terminal
// here) shows the upload on stderr a line per 10%, ending at 100% with
// the size, while stdout keeps the result alone; --progress never and the
// default without a terminal show nothing.
func TestImportProgress(t *testing.T) {
	s := serve(t)
	op := s.as(t, s.op)
	op.run("tenant", "create", "contoso")
	op.run("mailbox", "create", "--tenant", "contoso", "--alias", "user01", "--password", "pw1")
	mbox := writeGeneratedMbox(t, mailgen.Options{Seed: 5, Count: 300, Owner: "user01@contoso.tenantferry.test", Median: 6000, Folders: []string{"Inbox"}})["Inbox"]
	r := cli(t, s.dir, op.env(), "mailbox", "import", "--tenant", "contoso", "user01", "--mbox", mbox, "--progress", "always", "-o", "json")
	var res struct{ Messages int }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Messages != 300 {
		t.Fatalf("import: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	if len(lines) < 5 || !strings.HasPrefix(lines[0], "Uploading [") || !strings.Contains(last, " 100%") || !strings.Contains(last, "[####################]") {
		t.Fatalf("progress lines:\n%s", r.stderr)
	}
	for _, mode := range []string{"never", "auto"} {
		r := cli(t, s.dir, op.env(), "mailbox", "import", "--tenant", "contoso", "user01", "--mbox", mbox, "--folder", "Again"+mode, "--progress", mode, "-o", "json")
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("--progress %s: exit %d, stderr %q", mode, r.code, r.stderr)
		}
	}
	op.fail("InvalidArgument", "mailbox", "import", "--tenant", "contoso", "user01", "--mbox", mbox, "--progress", "sometimes")
}
