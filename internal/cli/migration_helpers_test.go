package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// The helpers of the migration acceptance tests (issue 4): restartable
// `tenantferry serve` processes with every listener on a fixed loopback
// port, the §1 trust set up through the CLI, corpus imports through the
// CLI, and mailbox snapshots read over IMAP (and, for a target that is
// still a MailUser, from its server's SQLite database, read-only).

// node is one tenantferry server: a data directory and fixed loopback
// ports, run as a sequence of `tenantferry serve` processes (restarts after
// a kill keep the directory and the ports).
type node struct {
	t          *testing.T
	name       string
	dir        string
	http       string
	imap       string
	smtp       string
	url        string
	transports []string
	extra      []string // more serve arguments
	op         string   // operator token
	cur        *served  // the current process
	runs       int
	logs       []string // stderr of finished processes
}

// newNodes allocates the directories and ports of several nodes (so their
// transports can name each other's SMTP ports before any starts).
func newNodes(t *testing.T, names ...string) []*node {
	var out []*node
	for _, n := range names {
		out = append(out, &node{t: t, name: n, dir: t.TempDir(),
			http: fmt.Sprintf("127.0.0.1:%d", freePort(t)), imap: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			smtp: fmt.Sprintf("127.0.0.1:%d", freePort(t))})
		out[len(out)-1].url = "http://" + out[len(out)-1].http
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range out {
				n.dumpLogs()
			}
		}
	})
	return out
}

// dumpLogs logs the tail of every process's stderr.
func (n *node) dumpLogs() {
	all := append([]string(nil), n.logs...)
	if n.cur != nil {
		all = append(all, n.cur.stderr.String())
	}
	for i, l := range all {
		if len(l) > 6000 {
			l = "…" + l[len(l)-6000:]
		}
		n.t.Logf("%s run %d stderr:\n%s", n.name, i+1, l)
	}
}

// start runs `tenantferry serve` with every listener and, when failpoints
// is not empty, TENANTFERRY_FAILPOINTS armed. It waits until /healthz
// answers; an armed process may die before that (a resumed job can hit
// its failpoint at once), which start accepts.
func (n *node) start(failpoints string) {
	n.t.Helper()
	if n.cur != nil {
		select {
		case <-n.cur.exited:
		default:
			n.t.Fatalf("%s: start while running", n.name)
		}
		n.logs = append(n.logs, n.cur.stderr.String())
	}
	n.runs++
	s := &served{dir: n.dir, data: filepath.Join(n.dir, "tenantferry-data"), url: n.url,
		stdout: &lockedBuf{}, stderr: &lockedBuf{}, exited: make(chan struct{})}
	// The servers (and Dovecot) of these tests are on loopback, which the
	// endpoint policy refuses unless the operator allows it.
	args := []string{"serve", "--data", "tenantferry-data", "--http", n.http, "--imap", n.imap, "--smtp", n.smtp, "--submission", "off",
		"--endpoint-allow", "127.0.0.0/8"}
	for _, tr := range n.transports {
		args = append(args, "--transport", tr)
	}
	args = append(args, n.extra...)
	s.cmd = exec.Command(binary(n.t), args...)
	s.cmd.Dir = n.dir
	var env []string
	if failpoints != "" {
		env = append(env, "TENANTFERRY_FAILPOINTS="+failpoints)
	}
	s.cmd.Env = cleanEnv(env...)
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	n.t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	n.cur = s
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-s.exited:
			if failpoints != "" {
				return
			}
			n.t.Fatalf("%s: serve exited: %v\nstderr:\n%s", n.name, s.waitErr, s.stderr)
		default:
		}
		resp, err := http.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: serve did not become healthy\nstderr:\n%s", n.name, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n.op == "" {
		tok, err := os.ReadFile(filepath.Join(s.data, "operator.token"))
		if err != nil {
			n.t.Fatal(err)
		}
		n.op = strings.TrimSpace(string(tok))
	}
}

// running reports whether the current process is alive.
func (n *node) running() bool {
	if n.cur == nil {
		return false
	}
	select {
	case <-n.cur.exited:
		return false
	default:
		return true
	}
}

// killed reports whether the current process ended by SIGKILL.
func (n *node) killed() bool {
	if n.running() {
		return false
	}
	ee, ok := n.cur.waitErr.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// awaitFailpoint waits until the current process killed itself at the
// named failpoint.
func (n *node) awaitFailpoint(name string, timeout time.Duration) {
	n.t.Helper()
	select {
	case <-n.cur.exited:
	case <-time.After(timeout):
		n.t.Fatalf("%s: failpoint %s not reached within %s", n.name, name, timeout)
	}
	if !n.killed() || !strings.Contains(n.cur.stderr.String(), "failpoint "+name+": killing the process") {
		n.t.Fatalf("%s: the process ended (%v) without failpoint %s firing\nstderr:\n%s", n.name, n.cur.waitErr, name, n.cur.stderr)
	}
}

// kill9 kills the current process with SIGKILL and waits for it.
func (n *node) kill9() {
	n.t.Helper()
	if err := n.cur.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	<-n.cur.exited
	if !n.killed() {
		n.t.Fatalf("%s: not killed by SIGKILL: %v", n.name, n.cur.waitErr)
	}
}

// stop interrupts the current process and waits for a clean exit.
func (n *node) stop() {
	n.t.Helper()
	if n.running() {
		n.cur.stop(n.t)
	}
}

// as returns a CLI runner against the node with a token.
func (n *node) as(token string) *admin {
	return &admin{t: n.t, s: &served{dir: n.dir, url: n.url}, dir: n.dir, token: token}
}

// runFor runs a command that must succeed within timeout.
func (a *admin) runFor(timeout time.Duration, args ...string) string {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(a.t), args...)
	cmd.Dir = a.dir
	cmd.Env = cleanEnv(a.env()...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		a.t.Fatalf("tenantferry %s: %v (timeout %s)\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, timeout, out.String(), errb.String())
	}
	return out.String()
}

// try runs a command and returns its result without judging it.
func (a *admin) try(args ...string) result {
	a.t.Helper()
	return cli(a.t, a.dir, a.env(), args...)
}

// batchUser is one element of `batch users -o json`.
type batchUser struct {
	EmailAddress         string
	Status               string
	StatusDetail         string
	PercentComplete      int
	ItemsTotal           int64
	ItemsSynced          int64
	ItemsSkipped         int64
	BytesTotal           int64
	BytesTransferred     int64
	DataConsistencyScore string
	Error                *struct{ Code, Message string }
	ExchangeGuid         string
	ArchiveGuid          string
	LockWindow           string
	LockWindowMs         int64
	InitialSyncDuration  string
}

// waitBatch polls `batch users -o json` until every user is in one of the
// states (and not queued for more work); a Failed user fails the test
// unless Failed is among the states. A server that is down (being
// restarted) is polled again.
func (a *admin) waitBatch(tenant, batch string, timeout time.Duration, states ...string) []batchUser {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		r := a.try("batch", "users", "--tenant", tenant, batch, "-o", "json")
		if r.code == 0 {
			var us []batchUser
			if err := json.Unmarshal([]byte(r.stdout), &us); err != nil {
				a.t.Fatalf("batch users: %v\n%s", err, r.stdout)
			}
			done := len(us) > 0
			for _, u := range us {
				ok := false
				for _, st := range states {
					ok = ok || u.Status == st
				}
				if u.Status == "Failed" && !ok {
					a.t.Fatalf("batch %s: user %s failed: %+v", batch, u.EmailAddress, u.Error)
				}
				if !ok || u.StatusDetail == "SyncQueued" || u.StatusDetail == "CompletionQueued" {
					done = false
				}
			}
			if done {
				return us
			}
			last = r.stdout
		} else {
			last = r.stderr
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("batch %s: users not %s within %s:\n%s", batch, strings.Join(states, "|"), timeout, last)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// trust is the §1 configuration between a source and a target node.
type trust struct {
	srcTenant, tgtTenant struct{ Id, Name, InitialDomain, AdminToken string }
	src, tgt             *admin // tenant admins
	appID, issuer        string
	endpoint             string
}

// setupTenants creates contoso on src and fabrikam (with the accepted
// domain fabrikam.example) on tgt.
func setupTenants(t *testing.T, srcNode, tgtNode *node) *trust {
	t.Helper()
	tr := &trust{endpoint: "contoso-ep"}
	srcNode.as(srcNode.op).json(&tr.srcTenant, "tenant", "create", "contoso")
	tgtNode.as(tgtNode.op).json(&tr.tgtTenant, "tenant", "create", "fabrikam")
	tr.src, tr.tgt = srcNode.as(tr.srcTenant.AdminToken), tgtNode.as(tr.tgtTenant.AdminToken)
	tgtNode.as(tgtNode.op).run("domain", "add", "--tenant", "fabrikam", "--verified", "fabrikam.example")
	return tr
}

// setupTrust performs §1 steps 1–6 with the CLI commands of the contract;
// members are the source aliases put into the published scope.
func (tr *trust) setupTrust(t *testing.T, srcNode, tgtNode *node, members ...string) {
	t.Helper()
	// 1: the migration app and its secret (target).
	var app struct{ AppId, Issuer string }
	tr.tgt.json(&app, "app", "create", "--tenant", "fabrikam", "--name", "Mailbox migration", "--permission", "Mailbox.Migration")
	tr.appID, tr.issuer = app.AppId, app.Issuer
	var secret struct{ SecretText, Expires string }
	tr.tgt.json(&secret, "app", "secret", "add", "--tenant", "fabrikam", "--app", app.AppId)
	// 2: the consent URL, and the source admin's consent.
	var cu struct{ ConsentUrl string }
	tr.tgt.json(&cu, "app", "consent-url", "--tenant", "fabrikam", "--app", app.AppId, "--source-server", srcNode.url,
		"--source-tenant", "contoso.tenantferry.test")
	if !strings.HasPrefix(cu.ConsentUrl, srcNode.url+"/contoso.tenantferry.test/adminconsent?") {
		t.Fatalf("consent url %q", cu.ConsentUrl)
	}
	tr.src.run("consent", "grant", "--tenant", "contoso", "--app-id", app.AppId, "--issuer", app.Issuer)
	// 3: the endpoint, secret from a file.
	secretFile := filepath.Join(tgtNode.dir, "s.txt")
	if err := os.WriteFile(secretFile, []byte(secret.SecretText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr.tgt.run("endpoint", "create", "--tenant", "fabrikam", "--name", tr.endpoint, "--remote-server", srcNode.url,
		"--remote-tenant", "contoso.tenantferry.test", "--app-id", app.AppId, "--secret-file", secretFile)
	// 4: the target's Inbound relationship.
	tr.tgt.run("orgrel", "create", "--tenant", "fabrikam", "--name", "contoso", "--domain-names", tr.srcTenant.Id,
		"--mailbox-move-enabled", "--mailbox-move-capability", "Inbound")
	// 5: the published scope.
	tr.src.run("group", "create", "--tenant", "contoso", "--name", "MigrationScope", "--type", "security")
	for _, m := range members {
		tr.src.run("group", "add-member", "--tenant", "contoso", "MigrationScope", m)
	}
	// 6: the source's RemoteOutbound relationship.
	tr.src.run("orgrel", "create", "--tenant", "contoso", "--name", "fabrikam", "--domain-names", tr.tgtTenant.Id, "--mailbox-move-enabled",
		"--mailbox-move-capability", "RemoteOutbound", "--oauth-app-id", app.AppId, "--published-scopes", "MigrationScope")
}

// writeCSV writes a batch CSV of target addresses.
func writeCSV(t *testing.T, dir, name string, addrs ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("EmailAddress\n"+strings.Join(addrs, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// importResult is the JSON of `mailbox import`.
type importResult struct {
	Messages int
	Bytes    int64
	Folders  []string
	Skipped  []struct{ Name, Reason string }
}

// importMailbox runs `mailbox import` and checks that nothing was skipped.
func (a *admin) importMailbox(tenant, mailbox string, args ...string) importResult {
	a.t.Helper()
	var res importResult
	a.json(&res, append([]string{"mailbox", "import", "--tenant", tenant, mailbox}, args...)...)
	if len(res.Skipped) != 0 {
		a.t.Fatalf("import %v into %s skipped %+v", args, mailbox, res.Skipped)
	}
	return res
}

// corpusPlan is the shared corpus as the CLI imports it: mbox files,
// maildir roots, and per source a directory holding copies of its single
// message files (the layout --eml-dir takes).
type corpusPlan struct {
	dir         string
	mboxes      []corpus.Entry // every mbox file
	maildirs    []string       // maildir roots (absolute)
	emlDirs     []string       // per-source directories of single message files (absolute, in a temp dir)
	emlSources  []string       // the corpus source of each emlDirs entry
	emlCounts   []int          // messages per emlDirs entry
	maildirMsgs map[string]int // messages per maildir root
	total       int            // messages in the corpus
}

// planCorpus lays the corpus out for the CLI, or skips the test when the
// corpus is absent.
func planCorpus(t *testing.T) *corpusPlan {
	t.Helper()
	dir := corpus.Dir(t)
	entries, err := corpus.Manifest(dir)
	if err != nil {
		t.Fatalf("corpus manifest: %v", err)
	}
	p := &corpusPlan{dir: dir, maildirMsgs: map[string]int{}}
	tmp := t.TempDir()
	bySource := map[string]int{}
	for _, e := range entries {
		p.total += e.Messages
		switch e.Kind() {
		case "mbox":
			p.mboxes = append(p.mboxes, e)
		case "maildir":
			root := path.Dir(path.Dir(e.Path))
			p.maildirMsgs[filepath.Join(dir, filepath.FromSlash(root))] += e.Messages
		case "file":
			src := strings.SplitN(e.Path, "/", 2)[0]
			i, ok := bySource[src]
			if !ok {
				i = len(p.emlDirs)
				bySource[src] = i
				p.emlDirs = append(p.emlDirs, filepath.Join(tmp, src))
				p.emlSources = append(p.emlSources, src)
				p.emlCounts = append(p.emlCounts, 0)
			}
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(tmp, filepath.FromSlash(e.Path))
			if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o600); err != nil {
				t.Fatal(err)
			}
			p.emlCounts[i] += e.Messages
		}
	}
	// Every maildir root of the tree (also those holding no message, like
	// a Maildir++ tree of empty subfolders).
	filepath.WalkDir(dir, func(pth string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		for _, sub := range []string{"cur", "new"} {
			if st, err := os.Stat(filepath.Join(pth, sub)); err == nil && st.IsDir() {
				p.maildirs = append(p.maildirs, pth)
				return filepath.SkipDir
			}
		}
		return nil
	})
	sort.Strings(p.maildirs)
	return p
}

// mboxFolder is the folder an mbox file of the corpus goes to: the Enron
// folder trees as Enron/<user>/<folder path>, other mbox files below Mbox/.
func mboxFolder(e corpus.Entry) string {
	base := path.Base(e.Path)
	if strings.HasPrefix(base, "enron.") {
		parts := strings.Split(strings.TrimPrefix(base, "enron."), ".")
		return "Enron/" + strings.Join(parts, "/")
	}
	src := strings.SplitN(e.Path, "/", 2)[0]
	return "Mbox/" + src + "/" + strings.ReplaceAll(base, ".", "_")
}

// writeGeneratedMaildir writes generated mail as a maildir tree (Maildir++
// subfolders, flags in the file names, keywords in dovecot-keywords) and
// returns its root.
func writeGeneratedMaildir(t *testing.T, o mailgen.Options) string {
	t.Helper()
	root := t.TempDir()
	made := map[string]bool{}
	letters := map[string]byte{`\Seen`: 'S', `\Answered`: 'R', `\Flagged`: 'F', `\Draft`: 'D', `\Deleted`: 'T', "$Forwarded": 'P'}
	for i, m := range mailgen.Generate(o) {
		dir := root
		if !strings.EqualFold(m.Folder, "Inbox") {
			dir = filepath.Join(root, "."+strings.ReplaceAll(m.Folder, "/", "."))
		}
		if !made[dir] {
			made[dir] = true
			if err := os.MkdirAll(filepath.Join(dir, "cur"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 $Label1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var info []byte
		for _, f := range m.Flags {
			if c, ok := letters[f]; ok {
				info = append(info, c)
			} else if f == "$Label1" {
				info = append(info, 'a')
			} else {
				t.Fatalf("generated flag %q has no maildir letter", f)
			}
		}
		sort.Slice(info, func(a, b int) bool { return info[a] < info[b] })
		name := fmt.Sprintf("%d.gen%d.tenantferry:2,%s", m.Date.Unix(), i, info)
		if err := os.WriteFile(filepath.Join(dir, "cur", name), m.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// writeGeneratedMbox writes generated mail as one mbox file per folder
// (faster to write than a maildir of many small files; no flags) and
// returns the file of each folder path.
func writeGeneratedMbox(t *testing.T, o mailgen.Options) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bufs := map[string]*bytes.Buffer{}
	for _, m := range mailgen.Generate(o) {
		b := bufs[m.Folder]
		if b == nil {
			b = &bytes.Buffer{}
			bufs[m.Folder] = b
		}
		if bytes.Contains(m.Data, []byte("\nFrom ")) {
			t.Fatal("a generated message has a line starting with \"From \"")
		}
		fmt.Fprintf(b, "From MAILER-DAEMON %s\n", m.Date.UTC().Format("Mon Jan 2 15:04:05 2006"))
		b.Write(m.Data)
		b.WriteString("\n")
	}
	out := map[string]string{}
	for f, b := range bufs {
		p := filepath.Join(dir, strings.ReplaceAll(f, "/", "_")+".mbox")
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		out[f] = p
	}
	return out
}

// snapEntry is one item of a snapshot: content hash, flags and internal
// date (IMAP's resolution: seconds).
func snapEntry(sum string, flags []string, date time.Time) string {
	fs := make([]string, 0, len(flags))
	for _, f := range flags {
		if !strings.EqualFold(f, `\Recent`) {
			fs = append(fs, f)
		}
	}
	sort.Strings(fs)
	return fmt.Sprintf("%s %s %d", sum, strings.Join(fs, ","), date.Unix())
}

// sortSnapshot sorts every folder's entries (a multiset per folder).
func sortSnapshot(s sc.Snapshot) sc.Snapshot {
	for _, xs := range s {
		sort.Strings(xs)
	}
	return s
}

// imapLogin logs in to an IMAP server with a mailbox's primary address.
func imapLogin(t *testing.T, addr, user, password string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatalf("imap dial %s: %v", addr, err)
	}
	if err := c.Login(user, password).Wait(); err != nil {
		c.Close()
		t.Fatalf("imap login %s at %s: %v", user, addr, err)
	}
	return c
}

// imapSnapshot reads a whole mailbox over IMAP: per folder, SHA-256 of
// BODY[] (streamed), flags and INTERNALDATE of every message.
func imapSnapshot(t *testing.T, addr, user, password string) sc.Snapshot {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("imap list: %v", err)
	}
	out := sc.Snapshot{}
	for _, l := range list {
		noselect := false
		for _, a := range l.Attrs {
			noselect = noselect || a == imap.MailboxAttrNoSelect || a == imap.MailboxAttrNonExistent
		}
		if noselect {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			t.Fatalf("imap examine %q: %v", l.Mailbox, err)
		}
		entries := []string{}
		if sel.NumMessages > 0 {
			cmd := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, InternalDate: true,
				BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
			for {
				msg := cmd.Next()
				if msg == nil {
					break
				}
				var flags []string
				var date time.Time
				sum := ""
				for {
					item := msg.Next()
					if item == nil {
						break
					}
					switch item := item.(type) {
					case imapclient.FetchItemDataFlags:
						for _, f := range item.Flags {
							flags = append(flags, string(f))
						}
					case imapclient.FetchItemDataInternalDate:
						date = item.Time
					case imapclient.FetchItemDataBodySection:
						h := sha256.New()
						if _, err := io.Copy(h, item.Literal); err != nil {
							t.Fatalf("imap fetch %q: %v", l.Mailbox, err)
						}
						sum = hex.EncodeToString(h.Sum(nil))
					}
				}
				if sum == "" {
					t.Fatalf("imap fetch %q: a message without BODY[]", l.Mailbox)
				}
				entries = append(entries, snapEntry(sum, flags, date))
			}
			if err := cmd.Close(); err != nil {
				t.Fatalf("imap fetch %q: %v", l.Mailbox, err)
			}
			if len(entries) != int(sel.NumMessages) {
				t.Fatalf("imap fetch %q: %d messages of %d", l.Mailbox, len(entries), sel.NumMessages)
			}
		}
		out[l.Mailbox] = entries
	}
	c.Logout().Wait()
	return sortSnapshot(out)
}

// stagedSnapshot reads the content a target server holds for a GUID while
// the target is still a MailUser (no IMAP login is possible yet): straight
// from the server's SQLite database, opened read-only next to the running
// process, with IMAP's folder naming (the \Inbox folder is INBOX) and only
// mail folders.
func stagedSnapshot(t *testing.T, n *node, tenantID, guid string) sc.Snapshot {
	t.Helper()
	dbPath := filepath.Join(n.dir, "tenantferry-data", "tenantferry.db")
	d, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mbID int64
	var state string
	if err := d.QueryRow(`SELECT id, state FROM mailboxes WHERE tenant_id = ? AND guid = ?`, tenantID, strings.ToLower(guid)).Scan(&mbID, &state); err != nil {
		t.Fatalf("%s: staged mailbox %s: %v", n.name, guid, err)
	}
	inbox := ""
	d.QueryRow(`SELECT path FROM folders WHERE mailbox_id = ? AND special_use = '\Inbox' AND deleted = 0`, mbID).Scan(&inbox)
	name := func(p string) string {
		if inbox != "" && strings.EqualFold(p, inbox) {
			return "INBOX"
		}
		if inbox != "" && len(p) > len(inbox) && strings.EqualFold(p[:len(inbox)], inbox) && p[len(inbox)] == '/' {
			return "INBOX" + p[len(inbox):]
		}
		return p
	}
	out := sc.Snapshot{}
	rows, err := d.Query(`SELECT path FROM folders WHERE mailbox_id = ? AND deleted = 0 AND class = 'IPF.Note'`, mbID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p string
		rows.Scan(&p)
		out[name(p)] = []string{}
	}
	rows.Close()
	rows, err = d.Query(`SELECT f.path, i.sha256, i.flags, i.internal_date FROM items i JOIN folders f ON f.id = i.folder_id
		WHERE i.mailbox_id = ? AND f.deleted = 0 AND f.class = 'IPF.Note'`, mbID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var p, sum, flags string
		var date int64
		if err := rows.Scan(&p, &sum, &flags, &date); err != nil {
			t.Fatal(err)
		}
		out[name(p)] = append(out[name(p)], snapEntry(sum, strings.Fields(flags), time.UnixMilli(date)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return sortSnapshot(out)
}

// sameContent fails the test when two snapshots differ (per folder:
// content hashes, flags, internal dates, as multisets — a duplicate or a
// loss is a difference).
func sameContent(t *testing.T, what string, want, got sc.Snapshot) {
	t.Helper()
	if d := sc.Diff(want, got); d != "" {
		t.Fatalf("%s: target differs from source:\n%s", what, d)
	}
	if want.Count() != got.Count() {
		t.Fatalf("%s: %d items in the source, %d in the target", what, want.Count(), got.Count())
	}
}

// imapCount returns the number of messages of a folder over IMAP.
func imapCount(t *testing.T, addr, user, password, folder string) int {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("imap status %s: %v", folder, err)
	}
	return int(*st.NumMessages)
}

// imapFindSubject returns how many messages of a folder carry the subject.
func imapFindSubject(t *testing.T, addr, user, password, folder, subject string) int {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("imap examine %s: %v", folder, err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		t.Fatalf("imap search: %v", err)
	}
	return len(data.AllUIDs())
}
