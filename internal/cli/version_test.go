package cli_test

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	tfcli "github.com/tenantferry/tenantferry/internal/cli"
)

// TestVersion checks `tenantferry version` (table and -o json) and
// `--version` against the running toolchain's build information.
func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := tfcli.Main([]string{"version", "-o", "json"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("version -o json: exit %d: %s", code, errOut.String())
	}
	var b struct{ Version, GoVersion, OS, Arch string }
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("version -o json is not JSON: %v\n%s", err, out.String())
	}
	if b.Version == "" || b.GoVersion != runtime.Version() || b.OS != runtime.GOOS || b.Arch != runtime.GOARCH {
		t.Errorf("version -o json: %+v", b)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out.Reset()
		if code := tfcli.Main(args, strings.NewReader(""), &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "tenantferry "+b.Version) {
			t.Errorf("%v: exit %d, output %q", args, code, out.String())
		}
	}
}

// TestHelpPlurals checks the generated list commands' help ("List mailboxes").
func TestHelpPlurals(t *testing.T) {
	var out, errOut bytes.Buffer
	tfcli.Main([]string{"mailbox", "--help"}, strings.NewReader(""), &out, &errOut)
	if !strings.Contains(out.String(), "List mailboxes") || strings.Contains(out.String(), "mailboxs") {
		t.Errorf("mailbox --help:\n%s", out.String())
	}
}
