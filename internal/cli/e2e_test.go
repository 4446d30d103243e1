package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	tfcli "github.com/tenantferry/tenantferry/internal/cli"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/freeport"
)

// The end-to-end tests build the tenantferry binary once, run `tenantferry
// serve` as a subprocess from an empty directory, and drive it with the CLI
// as further subprocesses, exactly as an administrator's script would.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds ./cmd/tenantferry once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tenantferry-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tenantferry")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/tenantferry/tenantferry/cmd/tenantferry")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// cleanEnv is the environment without TENANTFERRY_ settings of the caller.
// Servers it starts do not authenticate MX mail (SPF, DKIM, DMARC): that
// would query the system's DNS; the mail authentication tests run their
// own DNS server.
func cleanEnv(extra ...string) []string {
	env := []string{"TENANTFERRY_INBOUND_AUTH=false"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TENANTFERRY_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	p, err := freeport.Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// lockedBuf is a goroutine-safe output buffer.
type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// served is a running `tenantferry serve` subprocess.
type served struct {
	dir     string // its working directory
	data    string // its data directory
	url     string
	op      string // operator token
	cmd     *exec.Cmd
	stdout  *lockedBuf
	stderr  *lockedBuf
	exited  chan struct{}
	waitErr error
}

// serve starts `tenantferry serve` in a new empty directory with SQLite
// and waits until /healthz answers.
func serve(t *testing.T) *served {
	t.Helper()
	return serveIn(t, t.TempDir(), "")
}

// serveIn starts `tenantferry serve` in dir (with --db dsn when not empty)
// and waits until /healthz answers.
func serveIn(t *testing.T, dir, dsn string) *served {
	t.Helper()
	bin := binary(t)
	first := true
	if _, err := os.Stat(filepath.Join(dir, "tenantferry-data")); err == nil {
		first = false
	}
	port := freePort(t)
	s := &served{dir: dir, data: filepath.Join(dir, "tenantferry-data"), url: fmt.Sprintf("http://127.0.0.1:%d", port),
		stdout: &lockedBuf{}, stderr: &lockedBuf{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--data", "tenantferry-data", "--http", fmt.Sprintf("127.0.0.1:%d", port),
		"--imap", "off", "--smtp", "off", "--submission", "off")
	if dsn != "" {
		s.cmd.Args = append(s.cmd.Args, "--db", dsn)
	}
	s.cmd.Dir = dir
	s.cmd.Env = cleanEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-s.exited:
			t.Fatalf("serve exited: %v\nstdout:\n%s\nstderr:\n%s", s.waitErr, s.stdout, s.stderr)
		default:
		}
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become healthy\nstdout:\n%s\nstderr:\n%s", s.stdout, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(s.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.op = strings.TrimSpace(string(tok))
	// The token is never printed (stdout lands in service logs); the first
	// start names the file holding it.
	if strings.Contains(s.stdout.String()+s.stderr.String(), s.op) {
		t.Fatalf("the operator token was printed:\n%s\n%s", s.stdout, s.stderr)
	}
	// (The pipe's copy may lag behind /healthz: wait for the line.)
	named := func() bool {
		return strings.Contains(s.stdout.String(), filepath.Join("tenantferry-data", "operator.token"))
	}
	for deadline := time.Now().Add(10 * time.Second); first && !named() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if named() != first {
		t.Fatalf("first start %v, token file named %v:\n%s", first, named(), s.stdout)
	}
	return s
}

// stop interrupts the server and waits for a clean exit.
func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(2 * time.Minute):
		t.Fatal("serve did not stop")
	}
	if s.waitErr != nil {
		t.Fatalf("serve exited with %v\nstderr:\n%s", s.waitErr, s.stderr)
	}
}

// result is the outcome of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the CLI in dir with the given environment additions.
func cli(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), binary(t), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return r
}

// admin runs CLI commands against a server with a token.
type admin struct {
	t     *testing.T
	s     *served
	dir   string
	token string
}

func (s *served) as(t *testing.T, token string) *admin {
	return &admin{t: t, s: s, dir: s.dir, token: token}
}

func (a *admin) env() []string {
	env := []string{"TENANTFERRY_SERVER=" + a.s.url}
	if a.token != "" {
		env = append(env, "TENANTFERRY_TOKEN="+a.token)
	}
	return env
}

// run runs a command that must succeed and returns its stdout.
func (a *admin) run(args ...string) string {
	a.t.Helper()
	r := cli(a.t, a.dir, a.env(), args...)
	if r.code != 0 {
		a.t.Fatalf("tenantferry %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// json runs a command with -o json and decodes its output into v.
func (a *admin) json(v any, args ...string) {
	a.t.Helper()
	out := a.run(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		a.t.Fatalf("tenantferry %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fail runs a command that must fail with code and returns stderr.
func (a *admin) fail(code string, args ...string) string {
	a.t.Helper()
	r := cli(a.t, a.dir, a.env(), args...)
	if r.code == 0 {
		a.t.Fatalf("tenantferry %s succeeded, want %s:\n%s", strings.Join(args, " "), code, r.stdout)
	}
	if !strings.HasPrefix(r.stderr, code+": ") {
		a.t.Fatalf("tenantferry %s: stderr %q, want %q", strings.Join(args, " "), r.stderr, code+": ...")
	}
	if r.stdout != "" {
		a.t.Fatalf("tenantferry %s: failure printed to stdout: %q", strings.Join(args, " "), r.stdout)
	}
	return r.stderr
}

// recipient is the JSON of mailbox show / mailuser show.
type recipient struct {
	Identity             string
	RecipientType        string
	RecipientTypeDetails string
	PrimarySmtpAddress   string
	Alias                string
	Name                 string
	DisplayName          string
	FirstName            string
	LastName             string
	ExchangeGuid         string
	ArchiveGuid          string
	LegacyExchangeDN     string
	EmailAddresses       []string
	ExternalEmailAddress string
	Members              []string
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestScenarioSteps1to8 proves criterion 1: from an empty directory,
// `tenantferry serve` starts, and the CLI performs steps 1–8 of docs/architecture.md §1
// for contoso and fabrikam with the commands of the contract.
func TestScenarioSteps1to8(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { scenario(t, "") })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(dbtest.EnvPostgres) == "" {
			t.Skip("set " + dbtest.EnvPostgres + " to a PostgreSQL DSN to run the PostgreSQL variant")
		}
		scenario(t, dbtest.DSN(t, db.Postgres))
	})
}

func scenario(t *testing.T, dsn string) {
	s := serveIn(t, t.TempDir(), dsn)
	op := s.as(t, s.op)
	// healthcheck: the container probe answers 0 for a live server, and
	// ServerUnhealthy for an address where nothing listens.
	if out := op.run("healthcheck", "--url", s.url); !strings.Contains(out, "healthy: "+s.url) {
		t.Fatalf("healthcheck: %q", out)
	}
	op.fail("ServerUnhealthy", "healthcheck", "--url", "http://"+deadAddr(t), "--timeout", "2s")

	var contoso, fabrikam struct{ Id, Name, InitialDomain, AdminToken string }
	op.json(&contoso, "tenant", "create", "contoso")
	op.json(&fabrikam, "tenant", "create", "fabrikam")
	if contoso.Name != "contoso" || contoso.InitialDomain != "contoso.tenantferry.test" || !guidRE.MatchString(contoso.Id) || !strings.HasPrefix(contoso.AdminToken, "tfa_") {
		t.Fatalf("tenant create: %+v", contoso)
	}
	src := s.as(t, contoso.AdminToken)  // the source admin
	tgt := s.as(t, fabrikam.AdminToken) // the target admin
	// The target admin adds its domain (Pending until verified); the
	// operator approves it.
	var pending struct {
		Status             string
		VerificationRecord struct{ Name, Type, Value string }
	}
	tgt.json(&pending, "domain", "add", "--tenant", "fabrikam", "fabrikam.example")
	if pending.Status != "Pending" || pending.VerificationRecord.Name != "_tenantferry.fabrikam.example" ||
		!strings.HasPrefix(pending.VerificationRecord.Value, "tenantferry-verification=") {
		t.Fatalf("domain add: %+v", pending)
	}
	op.run("domain", "approve", "--tenant", "fabrikam", "fabrikam.example")

	// The source mailbox, with an old X500 proxy of its own.
	pwFile := filepath.Join(s.dir, "pw.txt")
	if err := os.WriteFile(pwFile, []byte("Correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src.run("mailbox", "create", "--tenant", "contoso", "--alias", "user01", "--name", "User 01", "--display-name", "User One",
		"--first-name", "User", "--last-name", "One", "--password-file", pwFile, "--archive")
	const oldX500 = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=0123456789abcdef-user01"
	src.run("mailbox", "set", "--tenant", "contoso", "user01", "--add-address", "X500:"+oldX500)

	// Step 1: the migration app and its secret (target).
	var app struct{ AppId, Issuer, DisplayName string }
	tgt.json(&app, "app", "create", "--tenant", "fabrikam", "--name", "Mailbox migration", "--permission", "Mailbox.Migration")
	if !guidRE.MatchString(app.AppId) || app.Issuer != s.url+"/"+fabrikam.Id+"/v2.0" || app.DisplayName != "Mailbox migration" {
		t.Fatalf("app create: %+v", app)
	}
	var secret struct{ SecretText, Expires string }
	tgt.json(&secret, "app", "secret", "add", "--tenant", "fabrikam", "--app", app.AppId)
	exp, err := time.Parse(time.RFC3339, secret.Expires)
	if secret.SecretText == "" || err != nil || !exp.After(time.Now()) {
		t.Fatalf("app secret add: %+v %v", secret, err)
	}

	// Step 2: the consent URL, and the source admin's consent.
	var cu struct{ ConsentUrl string }
	tgt.json(&cu, "app", "consent-url", "--tenant", "fabrikam", "--app", app.AppId, "--source-server", s.url, "--source-tenant", "contoso.tenantferry.test")
	if !strings.HasPrefix(cu.ConsentUrl, s.url+"/contoso.tenantferry.test/adminconsent?") || !strings.Contains(cu.ConsentUrl, "client_id="+app.AppId) {
		t.Fatalf("consent url %q", cu.ConsentUrl)
	}
	var consent struct {
		AppId, Issuer string
		Permissions   []string
	}
	src.json(&consent, "consent", "grant", "--tenant", "contoso", "--app-id", app.AppId, "--issuer", app.Issuer)
	if consent.AppId != app.AppId || consent.Issuer != app.Issuer || !contains(consent.Permissions, "Mailbox.Migration") {
		t.Fatalf("consent grant: %+v", consent)
	}

	// Step 3: the migration endpoint, secret from a file.
	secretFile := filepath.Join(s.dir, "s.txt")
	if err := os.WriteFile(secretFile, []byte(secret.SecretText+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ep struct {
		Name, EndpointType, RemoteServer, RemoteTenant, ApplicationId string
		MaxConcurrentMigrations, MaxConcurrentIncrementalSyncs        int
	}
	tgt.json(&ep, "endpoint", "create", "--tenant", "fabrikam", "--name", "contoso-ep", "--remote-server", s.url,
		"--remote-tenant", "contoso.tenantferry.test", "--app-id", app.AppId, "--secret-file", secretFile)
	if ep.Name != "contoso-ep" || ep.EndpointType != "ExchangeRemoteMove" || ep.RemoteServer != s.url || ep.RemoteTenant != "contoso.tenantferry.test" ||
		ep.ApplicationId != app.AppId || ep.MaxConcurrentMigrations != 100 || ep.MaxConcurrentIncrementalSyncs != 20 {
		t.Fatalf("endpoint create: %+v", ep)
	}
	if out := tgt.run("endpoint", "show", "--tenant", "fabrikam", "contoso-ep", "-o", "json"); strings.Contains(out, secret.SecretText) {
		t.Fatal("endpoint show prints the secret")
	}

	// Step 4: the target's Inbound relationship, keyed by the source tenant ID.
	type orgrel struct {
		Name                        string
		DomainNames                 []string
		Enabled, MailboxMoveEnabled bool
		MailboxMoveCapability       []string
		OAuthApplicationId          string
		MailboxMovePublishedScopes  []string
	}
	var in orgrel
	tgt.json(&in, "orgrel", "create", "--tenant", "fabrikam", "--name", "contoso", "--domain-names", contoso.Id,
		"--mailbox-move-enabled", "--mailbox-move-capability", "Inbound")
	if in.Name != "contoso" || !in.Enabled || !in.MailboxMoveEnabled || len(in.DomainNames) != 1 || in.DomainNames[0] != contoso.Id ||
		len(in.MailboxMoveCapability) != 1 || in.MailboxMoveCapability[0] != "Inbound" {
		t.Fatalf("target orgrel: %+v", in)
	}

	// Step 5: the published scope.
	var grp recipient
	src.json(&grp, "group", "create", "--tenant", "contoso", "--name", "MigrationScope", "--type", "security")
	if grp.RecipientTypeDetails != "MailUniversalSecurityGroup" || grp.Name != "MigrationScope" {
		t.Fatalf("group create: %+v", grp)
	}
	src.run("group", "add-member", "--tenant", "contoso", "MigrationScope", "user01")
	src.json(&grp, "group", "show", "--tenant", "contoso", "MigrationScope")
	if len(grp.Members) != 1 || grp.Members[0] != "user01@contoso.tenantferry.test" {
		t.Fatalf("group members: %v", grp.Members)
	}

	// Step 6: the source's RemoteOutbound relationship.
	var out orgrel
	src.json(&out, "orgrel", "create", "--tenant", "contoso", "--name", "fabrikam", "--domain-names", fabrikam.Id, "--mailbox-move-enabled",
		"--mailbox-move-capability", "RemoteOutbound", "--oauth-app-id", app.AppId, "--published-scopes", "MigrationScope")
	src.json(&out, "orgrel", "show", "--tenant", "contoso", "fabrikam")
	if out.Name != "fabrikam" || !out.Enabled || !out.MailboxMoveEnabled || len(out.DomainNames) != 1 || out.DomainNames[0] != fabrikam.Id ||
		len(out.MailboxMoveCapability) != 1 || out.MailboxMoveCapability[0] != "RemoteOutbound" || out.OAuthApplicationId != app.AppId ||
		len(out.MailboxMovePublishedScopes) != 1 || out.MailboxMovePublishedScopes[0] != "MigrationScope" {
		t.Fatalf("source orgrel: %+v", out)
	}

	// Step 7: the source mailbox's identity, with every Get-Mailbox field.
	mbOut := src.run("mailbox", "show", "--tenant", "contoso", "user01", "-o", "json")
	var fields map[string]any
	if err := json.Unmarshal([]byte(mbOut), &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"PrimarySmtpAddress", "Alias", "Name", "DisplayName", "FirstName", "LastName", "ExchangeGuid", "ArchiveGuid",
		"LegacyExchangeDN", "EmailAddresses", "RecipientType"} {
		if _, ok := fields[f]; !ok {
			t.Errorf("mailbox show -o json lacks %s:\n%s", f, mbOut)
		}
	}
	var mb recipient
	json.Unmarshal([]byte(mbOut), &mb)
	if mb.PrimarySmtpAddress != "user01@contoso.tenantferry.test" || mb.Alias != "user01" || mb.Name != "User 01" || mb.DisplayName != "User One" ||
		mb.FirstName != "User" || mb.LastName != "One" || mb.RecipientType != "UserMailbox" {
		t.Fatalf("mailbox show: %+v", mb)
	}
	if !guidRE.MatchString(mb.ExchangeGuid) || !guidRE.MatchString(mb.ArchiveGuid) || mb.ExchangeGuid == mb.ArchiveGuid ||
		mb.ArchiveGuid == "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("GUIDs %q %q", mb.ExchangeGuid, mb.ArchiveGuid)
	}
	if !strings.HasPrefix(mb.LegacyExchangeDN, "/o=contoso/") || !strings.Contains(mb.LegacyExchangeDN, "/cn=Recipients/cn=") {
		t.Fatalf("LegacyExchangeDN %q", mb.LegacyExchangeDN)
	}
	if len(mb.EmailAddresses) != 2 || mb.EmailAddresses[0] != "SMTP:user01@contoso.tenantferry.test" || mb.EmailAddresses[1] != "X500:"+oldX500 {
		t.Fatalf("EmailAddresses %v", mb.EmailAddresses)
	}

	// Step 8: the target MailUser stamped for the move: create with some
	// attributes, set the rest.
	var x500s []string
	for _, p := range mb.EmailAddresses {
		if strings.HasPrefix(p, "X500:") {
			x500s = append(x500s, p)
		}
	}
	args := []string{"mailuser", "create", "--tenant", "fabrikam", "--name", "User 01", "--alias", "user01", "--primary-smtp", "user01@fabrikam.example",
		"--external-email", mb.PrimarySmtpAddress, "--display-name", mb.DisplayName, "--exchange-guid", mb.ExchangeGuid,
		"--add-address", "X500:" + mb.LegacyExchangeDN}
	var mu recipient
	tgt.json(&mu, args...)
	if mu.RecipientType != "MailUser" || mu.ExchangeGuid != mb.ExchangeGuid || mu.ArchiveGuid != "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("mailuser create: %+v", mu)
	}
	args = []string{"mailuser", "set", "--tenant", "fabrikam", "user01", "--archive-guid", mb.ArchiveGuid,
		"--add-address", "smtp:user01@fabrikam.tenantferry.test", "--external-email", "SMTP:" + mb.PrimarySmtpAddress}
	for _, x := range x500s {
		args = append(args, "--add-address", x)
	}
	tgt.run(args...)
	tgt.json(&mu, "mailuser", "show", "--tenant", "fabrikam", "user01")
	if mu.RecipientType != "MailUser" || mu.ExchangeGuid != mb.ExchangeGuid || mu.ArchiveGuid != mb.ArchiveGuid ||
		mu.ExternalEmailAddress != "SMTP:user01@contoso.tenantferry.test" || mu.PrimarySmtpAddress != "user01@fabrikam.example" ||
		mu.LegacyExchangeDN == mb.LegacyExchangeDN || mu.DisplayName != "User One" {
		t.Fatalf("mailuser show: %+v", mu)
	}
	for _, want := range []string{"SMTP:user01@fabrikam.example", "smtp:user01@fabrikam.tenantferry.test", "X500:" + mb.LegacyExchangeDN, "X500:" + oldX500} {
		if !contains(mu.EmailAddresses, want) {
			t.Fatalf("mailuser EmailAddresses %v lack %s", mu.EmailAddresses, want)
		}
	}
	// The stamped MailUser is found by the source's identities.
	tgt.json(&mu, "mailuser", "show", "--tenant", "fabrikam", mb.ExchangeGuid)
	tgt.json(&mu, "mailuser", "show", "--tenant", "fabrikam", "X500:"+mb.LegacyExchangeDN)

	// Lists in JSON are arrays; the operator sees both tenants.
	var tenants []struct{ Name string }
	op.json(&tenants, "tenant", "list")
	if len(tenants) != 2 || tenants[0].Name != "contoso" || tenants[1].Name != "fabrikam" {
		t.Fatalf("tenant list: %+v", tenants)
	}
	var consents []struct{ AppId string }
	src.json(&consents, "consent", "list", "--tenant", "contoso")
	var eps []struct{ Name string }
	tgt.json(&eps, "endpoint", "list", "--tenant", "fabrikam")
	var apps []struct{ AppId string }
	tgt.json(&apps, "app", "list", "--tenant", "fabrikam")
	if len(consents) != 1 || len(eps) != 1 || len(apps) != 1 || apps[0].AppId != app.AppId {
		t.Fatalf("lists: %d consents, %d endpoints, %d apps", len(consents), len(eps), len(apps))
	}

	s.stop(t)

	// A restart in the same directory keeps everything: same operator
	// token (not printed again), same objects, same tokens.
	s2 := serveIn(t, s.dir, dsn)
	if s2.op != s.op {
		t.Fatal("restart replaced the operator token")
	}
	var again recipient
	s2.as(t, fabrikam.AdminToken).json(&again, "mailuser", "show", "--tenant", "fabrikam", "user01")
	if strings.Join(again.EmailAddresses, ",") != strings.Join(mu.EmailAddresses, ",") || again.ExchangeGuid != mu.ExchangeGuid || again.ArchiveGuid != mu.ArchiveGuid {
		t.Fatalf("mail user after restart: %+v", again)
	}
	s2.as(t, contoso.AdminToken).json(&out, "orgrel", "show", "fabrikam")
	if out.OAuthApplicationId != app.AppId || len(out.MailboxMovePublishedScopes) != 1 {
		t.Fatalf("orgrel after restart: %+v", out)
	}
	s2.as(t, s.op).json(&tenants, "tenant", "list")
	if len(tenants) != 2 {
		t.Fatalf("tenants after restart: %+v", tenants)
	}
	s2.stop(t)

	// Secrets and passwords are nowhere in clear text: not in the data
	// directory (SQLite database and WAL), not in the server's log.
	secrets := map[string]string{"app secret": secret.SecretText, "contoso admin token": contoso.AdminToken,
		"fabrikam admin token": fabrikam.AdminToken, "password": "Correct horse battery staple"}
	for name, v := range secrets {
		if strings.Contains(s.stderr.String()+s2.stderr.String(), v) {
			t.Errorf("the server log holds the %s", name)
		}
	}
	filepath.WalkDir(s.data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s in clear text in %s", name, path)
			}
		}
		return nil
	})
}

// TestCLIConventions covers the rest of the CLI contract: errors exit
// non-zero with "CODE: message" on stderr, -o table, the default operator
// token file, and tenant-admin tokens defaulting to their tenant.
func TestCLIConventions(t *testing.T) {
	s := serve(t)
	op := s.as(t, s.op)
	var contoso, fabrikam struct{ Id, AdminToken string }
	op.json(&contoso, "tenant", "create", "contoso")
	op.json(&fabrikam, "tenant", "create", "fabrikam")
	op.run("mailbox", "create", "--tenant", "contoso", "--alias", "user01", "--password", "pw1")
	op.run("mailbox", "create", "--tenant", "fabrikam", "--alias", "user01", "--password", "pw2")

	// Errors: exit 1, "CODE: message" on stderr, nothing on stdout.
	op.fail("RecipientNotFound", "mailbox", "show", "--tenant", "contoso", "nobody")
	op.fail("TenantNotFound", "mailbox", "list", "--tenant", "northwind")
	op.fail("TenantExists", "tenant", "create", "contoso")
	op.fail("InvalidTenantName", "tenant", "create", "North_Wind")
	op.fail("InvalidCapability", "orgrel", "create", "--tenant", "contoso", "--name", "x", "--domain-names", fabrikam.Id,
		"--mailbox-move-capability", "Sideways")
	op.fail("NameTooLong", "mailbox", "create", "--tenant", "contoso", "--alias", strings.Repeat("a", 65), "--password", "x")
	op.fail("MissingField", "mailbox", "create", "--tenant", "contoso", "--alias", "nopw")
	// The problem's detail and Hint (RFC 9457 reply) reach the user.
	if s := op.fail("NotAcceptedDomain", "mailbox", "create", "--tenant", "contoso", "--alias", "x", "--password", "x", "--primary-smtp", "x@fabrikam.tenantferry.test"); !regexp.MustCompile(`^NotAcceptedDomain: .*fabrikam\.tenantferry\.test.*\n  hint: \S`).MatchString(s) {
		t.Fatalf("NotAcceptedDomain without its message and hint: %q", s)
	}
	op.fail("InvalidGuid", "mailuser", "create", "--tenant", "contoso", "--name", "m", "--alias", "m", "--primary-smtp", "m@contoso.tenantferry.test",
		"--external-email", "m@example.org", "--exchange-guid", "nope")
	op.fail("InvalidArgument", "mailbox", "list", "--tenant", "contoso", "--no-such-flag")
	op.fail("InvalidArgument", "mailbox", "list", "--tenant", "contoso", "-o", "xml")
	// A bad -o is refused before anything is done.
	op.fail("InvalidArgument", "mailbox", "create", "--tenant", "contoso", "--alias", "user02", "--password", "x", "-o", "xml")
	op.fail("RecipientNotFound", "mailbox", "show", "--tenant", "contoso", "user02")
	op.fail("InvalidArgument", "mailbox", "list")                                          // the operator must name a tenant
	op.fail("InvalidArgument", "endpoint", "create", "--tenant", "contoso", "--name", "x", // unreadable secret file
		"--remote-server", s.url, "--remote-tenant", "x.example", "--app-id", uuid.NewString(), "--secret-file", filepath.Join(s.dir, "missing.txt"))
	s.as(t, "tfa_bogus").fail("InvalidToken", "tenant", "list")
	// One exit code per class of failure (tfcli.Exit*), for scripts.
	for _, c := range []struct {
		token string
		exit  int
		args  []string
	}{
		{s.op, tfcli.ExitUsage, []string{"mailbox", "list", "--tenant", "contoso", "--no-such-flag"}},
		{s.op, tfcli.ExitUsage, []string{"tenant", "create", "North_Wind"}},
		{"tfa_bogus", tfcli.ExitAuth, []string{"tenant", "list"}},
		{contoso.AdminToken, tfcli.ExitAuth, []string{"mailbox", "list", "--tenant", "fabrikam"}},
		{s.op, tfcli.ExitNotFound, []string{"mailbox", "show", "--tenant", "contoso", "nobody"}},
		{s.op, tfcli.ExitConflict, []string{"tenant", "create", "contoso"}},
		{s.op, tfcli.ExitUsage, []string{"mailbox", "delete", "--tenant", "contoso", "user01"}}, // not confirmed: nothing deleted
	} {
		if r := cli(t, s.dir, s.as(t, c.token).env(), c.args...); r.code != c.exit {
			t.Errorf("tenantferry %s: exit %d, want %d (%s)", strings.Join(c.args, " "), r.code, c.exit, r.stderr)
		}
	}
	if r := cli(t, s.dir, []string{"TENANTFERRY_SERVER=http://127.0.0.1:1", "TENANTFERRY_TOKEN=x"}, "tenant", "list"); r.code != tfcli.ExitError {
		t.Errorf("unreachable server: exit %d, want %d", r.code, tfcli.ExitError)
	}
	op.run("mailbox", "show", "--tenant", "contoso", "user01") // the refused delete left it
	// Dynamic completion asks the server: tenants for --tenant, the
	// tenant's mailboxes for a mailbox argument (cobra's __complete is what
	// the shell scripts of `tenantferry completion` call).
	for args, want := range map[string][]string{
		"mailbox show --tenant contoso u": {"user01"},
		"mailbox list --tenant ":          {"contoso", "fabrikam"},
		"tenant delete con":               {"contoso"},
	} {
		a := strings.Split(args, " ")
		out := op.run(append([]string{"__complete"}, a...)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if got := lines[:len(lines)-1]; strings.Join(got, ",") != strings.Join(want, ",") || lines[len(lines)-1] != ":4" {
			t.Errorf("completion of %q: %q, want %q and :4", args, out, want)
		}
	}
	r := cli(t, s.dir, []string{"TENANTFERRY_SERVER=http://127.0.0.1:1", "TENANTFERRY_TOKEN=x"}, "tenant", "list")
	if r.code == 0 || !strings.HasPrefix(r.stderr, "ServerUnreachable: ") {
		t.Fatalf("unreachable server: %d %q", r.code, r.stderr)
	}
	// --server and --token flags override the environment.
	r = cli(t, t.TempDir(), []string{"TENANTFERRY_SERVER=http://127.0.0.1:1", "TENANTFERRY_TOKEN=x"}, "tenant", "list", "--server", s.url, "--token", s.op, "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"contoso"`) {
		t.Fatalf("--server/--token: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Without a token from a directory lacking tenantferry-data/.
	r = cli(t, t.TempDir(), []string{"TENANTFERRY_SERVER=" + s.url}, "tenant", "list")
	if r.code == 0 || !strings.HasPrefix(r.stderr, "AuthenticationRequired: ") {
		t.Fatalf("no token: %d %q", r.code, r.stderr)
	}
	// From the directory holding tenantferry-data/operator.token, that
	// token is used.
	r = cli(t, s.dir, []string{"TENANTFERRY_SERVER=" + s.url}, "tenant", "list", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"fabrikam"`) {
		t.Fatalf("default operator token file: %d %q %q", r.code, r.stdout, r.stderr)
	}

	// -o table (the default): lists as columns, objects as "Key : Value".
	table := op.run("mailbox", "list", "--tenant", "contoso")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !regexp.MustCompile(`^Name\s+Alias\s+PrimarySmtpAddress\s+RecipientTypeDetails\s+ExchangeGuid$`).MatchString(lines[0]) ||
		!strings.HasPrefix(lines[1], "----") || !regexp.MustCompile(`^user01\s+user01\s+user01@contoso\.tenantferry\.test\s+UserMailbox\s+[0-9a-f-]{36}$`).MatchString(lines[2]) {
		t.Fatalf("mailbox list table:\n%s", table)
	}
	show := op.run("mailbox", "show", "--tenant", "contoso", "user01", "-o", "table")
	for _, re := range []string{`(?m)^PrimarySmtpAddress\s+: user01@contoso\.tenantferry\.test$`, `(?m)^EmailAddresses\s+: \{SMTP:user01@contoso\.tenantferry\.test\}$`,
		`(?m)^ExchangeGuid\s+: [0-9a-f-]{36}$`, `(?m)^LegacyExchangeDN\s+: /o=contoso/`} {
		if !regexp.MustCompile(re).MatchString(show) {
			t.Fatalf("mailbox show table lacks %s:\n%s", re, show)
		}
	}
	if tl := op.run("tenant", "list"); !regexp.MustCompile(`(?m)^contoso\s+[0-9a-f-]{36}\s+contoso\.tenantferry\.test$`).MatchString(tl) {
		t.Fatalf("tenant list table:\n%s", tl)
	}

	// A tenant-admin token without --tenant acts on its own tenant.
	ca := s.as(t, contoso.AdminToken)
	var mb recipient
	ca.json(&mb, "mailbox", "show", "user01")
	if mb.PrimarySmtpAddress != "user01@contoso.tenantferry.test" {
		t.Fatalf("default tenant: %+v", mb)
	}
	ca.run("group", "create", "--name", "MigrationScope", "--type", "security")
	ca.run("group", "add-member", "MigrationScope", "user01")
	var mbs []recipient
	ca.json(&mbs, "mailbox", "list")
	if len(mbs) != 1 || mbs[0].PrimarySmtpAddress != "user01@contoso.tenantferry.test" {
		t.Fatalf("default tenant list: %+v", mbs)
	}
	var ts []struct{ Name string }
	ca.json(&ts, "tenant", "list")
	if len(ts) != 1 || ts[0].Name != "contoso" {
		t.Fatalf("tenant admin's tenant list: %+v", ts)
	}
	// Optional request fields (pointers in apitypes) are sent only when
	// given: a quota set changes the quota and nothing else.
	var quota struct {
		Quota       int64
		DisplayName string
	}
	op.json(&quota, "tenant", "set", "contoso", "--quota", "5GB")
	if quota.Quota <= 0 {
		t.Fatalf("tenant set --quota: %+v", quota)
	}
	ca.run("mailbox", "set", "user01", "--display-name", "User One")
	ca.json(&quota, "mailbox", "set", "user01", "--quota", "2GB")
	if quota.Quota <= 0 || quota.DisplayName != "User One" {
		t.Fatalf("mailbox set --quota: %+v", quota)
	}
	tmpl := filepath.Join(s.dir, "before.txt")
	if err := os.WriteFile(tmpl, []byte("Hello {{.DisplayName}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Subject, Body string
		Custom        bool
	}
	ca.json(&tpl, "migration-template", "set", "before", "--subject", "Moving {{.EmailAddress}}", "--file", tmpl)
	if !tpl.Custom || tpl.Subject != "Moving {{.EmailAddress}}" || tpl.Body != "Hello {{.DisplayName}}" {
		t.Fatalf("migration-template set: %+v", tpl)
	}
	// ... and cannot reach another tenant, nor act as the operator.
	ca.fail("TenantAccessDenied", "mailbox", "show", "--tenant", "fabrikam", "user01")
	ca.fail("TenantAccessDenied", "mailbox", "list", "--tenant", fabrikam.Id)
	ca.fail("TenantAccessDenied", "tenant", "show", "fabrikam")
	ca.fail("OperatorRequired", "tenant", "create", "northwind")
	// A token from `tenant admin-token` works the same way.
	var issued struct{ AdminToken, Name string }
	op.json(&issued, "tenant", "admin-token", "fabrikam")
	if issued.Name != "fabrikam" || !strings.HasPrefix(issued.AdminToken, "tfa_") {
		t.Fatalf("tenant admin-token: %+v", issued)
	}
	fa := s.as(t, issued.AdminToken)
	fa.json(&mb, "mailbox", "show", "user01")
	if mb.PrimarySmtpAddress != "user01@fabrikam.tenantferry.test" {
		t.Fatalf("issued token's default tenant: %+v", mb)
	}
	fa.fail("RecipientNotFound", "group", "show", "MigrationScope")

	// Deletions print nothing and succeed.
	if out := fa.run("mailbox", "delete", "user01", "--yes"); strings.TrimSpace(out) != "" {
		t.Fatalf("mailbox delete printed %q", out)
	}
	fa.fail("RecipientNotFound", "mailbox", "show", "user01")
	s.stop(t)
	// serve said where the web admin and the API are.
	if out := s.stdout.String(); !strings.Contains(out, "web admin: "+s.url+"/ui/") || !strings.Contains(out, "admin API: "+s.url+"/api/v1/ (OpenAPI document: "+s.url+"/api/v1/openapi.json)") {
		t.Errorf("serve's output lacks the UI and API URLs:\n%s", out)
	}
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
