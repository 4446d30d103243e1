package demo_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/cli"
	"github.com/tenantferry/tenantferry/internal/demo"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// TestDemoExit runs `tenantferry demo --exit` (small) and checks the
// summary: every user Completed with DataConsistencyScore Perfect, and the
// message sent to an old address after the cutover arrived in the target.
func TestDemoExit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers and a complete move")
	}
	dir := filepath.Join(t.TempDir(), "demo")
	var out, errOut bytes.Buffer
	code := cli.Main([]string{"demo", "--exit", "--data", dir, "--users", "3", "--items", "150"}, strings.NewReader(""), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit code %d\nstderr: %s\nstdout:\n%s", code, errOut.String(), out.String())
	}
	text := out.String()
	summary := text[strings.Index(text, "══ Summary ══"):]
	t.Logf("summary:\n%s", summary)

	for n := 1; n <= 14; n++ {
		if c := strings.Count(text, "["+strconv.Itoa(n)+"/14] "); c != 1 {
			t.Errorf("step %d/14 is numbered %d times in the output, want once", n, c)
		}
	}
	if !strings.Contains(text, `the moved archive is in the same account under "Online Archive": 30 messages`) {
		t.Errorf("step 14 does not show the moved archive (150/5 = 30 messages) over IMAP")
	}
	if strings.Contains(text, " 0/0 items") {
		t.Errorf("progress shows 0/0 items before validation counted the source")
	}
	if strings.Contains(text, "95%") && !strings.Contains(text, "Synced shows 95%") {
		t.Errorf("95%% is shown but not explained")
	}
	rows := regexp.MustCompile(`(?m)^  (\S+@fabrikam\.tenantferry\.test) +(\S+) .* (\S+)$`).FindAllStringSubmatch(summary, -1)
	if len(rows) != 3 {
		t.Fatalf("summary lists %d users, want 3", len(rows))
	}
	for _, r := range rows {
		if r[2] != "Completed" || r[3] != "Perfect" {
			t.Errorf("%s: %s, DataConsistencyScore %s; want Completed, Perfect", r[1], r[2], r[3])
		}
	}
	if !regexp.MustCompile(`After cutover +mail to meganb@contoso\.tenantferry\.test arrived in meganb@fabrikam\.tenantferry\.test INBOX`).MatchString(summary) {
		t.Errorf("the summary does not report the post-cutover message arriving")
	}
	if !strings.Contains(summary, "Skipped items   0") {
		t.Errorf("the summary reports skipped items")
	}
	// The data directory is marked, so a second run replaces it.
	if _, err := os.Stat(filepath.Join(dir, demo.MarkerFile)); err != nil {
		t.Errorf("no marker: %v", err)
	}
}

// TestDemoServesUntilCancelled runs the demo without Exit: it serves after
// the summary and shuts both servers down when the context ends (Ctrl-C),
// leaving no listener behind. It reuses a previous demo's directory.
func TestDemoServesUntilCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two servers and a complete move")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, demo.MarkerFile), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "leftover"), []byte("from a previous demo"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &signalWriter{marker: "Press Ctrl-C", hit: cancel}
	res, err := demo.Run(ctx, demo.Options{DataDir: dir, Users: 1, Items: 40, Out: w})
	if err != nil {
		t.Fatalf("%v\n%s", err, w.String())
	}
	if !strings.Contains(w.String(), "password "+demo.TargetPassword) {
		t.Errorf("no connection help:\n%s", w.String())
	}
	if !regexp.MustCompile(`Web admin +target http://127\.0\.0\.1:\d+/ui/#token=\S+`).MatchString(w.String()) {
		t.Errorf("no web admin sign-in link:\n%s", w.String())
	}
	if !strings.Contains(w.String(), "go build -o tenantferry ./cmd/tenantferry") {
		t.Errorf("the Try: lines do not say how to get the binary after `go run`")
	}
	if _, err := os.Stat(filepath.Join(dir, "leftover")); !os.IsNotExist(err) {
		t.Errorf("the previous demo's content was not replaced: %v", err)
	}
	if len(res.Users) != 1 || res.Users[0].DataConsistencyScore != "Perfect" || res.PostCutover == nil {
		t.Fatalf("result: %+v", res)
	}
	// --items 40: 4 events, 1 task, 2 contacts, every one byte-exact, and
	// the per-class counts of the move say so.
	if g, u := res.Groupware, res.Users[0]; g == nil || g.Events != 4 || g.Tasks != 1 || g.Contacts != 2 || g.Matching != 7 || g.Total != 7 ||
		u.CalendarItems != 4 || u.TaskItems != 1 || u.ContactItems != 2 {
		t.Fatalf("groupware: %+v; counts calendar %d tasks %d contacts %d", res.Groupware, u.CalendarItems, u.TaskItems, u.ContactItems)
	}
	if !strings.Contains(w.String(), "Groupware       4 events, 1 tasks, 2 contacts moved; 7 of 7 objects byte-exact") {
		t.Errorf("the summary does not show the groupware:\n%s", w.String())
	}
	for _, s := range res.Servers {
		for _, addr := range []string{s.IMAP, s.SMTP, s.Submission, strings.TrimPrefix(s.HTTP, "http://")} {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s server still listens on %s after Run returned", s.Role, addr)
			}
		}
	}
}

// TestDemoRefusesForeignDir checks that a non-empty directory that is not a
// demo's is refused and left untouched.
func TestDemoRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err := demo.Run(context.Background(), demo.Options{DataDir: dir, Exit: true, Out: &out})
	if errs.CodeOf(err) != "DataDirNotEmpty" {
		t.Fatalf("got %v, want DataDirNotEmpty", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory changed: %d entries", len(entries))
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep me" {
		t.Errorf("precious.txt changed")
	}
}

// signalWriter collects output and calls hit once marker was written.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	hit    func()
	done   bool
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && strings.Contains(w.buf.String(), w.marker) {
		w.done = true
		w.hit()
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
