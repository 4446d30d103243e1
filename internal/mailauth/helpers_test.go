package mailauth_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

var bg = context.Background()

// python is Debian's interpreter, which has python3-dkim, python3-spf and
// dnspython (the python3 on PATH may be another one).
const python = "/usr/bin/python3"

// needPython skips the test when the independent verifiers are missing.
func needPython(t *testing.T, modules ...string) {
	t.Helper()
	args := []string{"-c", "import " + strings.Join(modules, ", ")}
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Skipf("%s with %s is needed (Debian python3-dkim python3-spf python3-dnspython): %v %s", python, strings.Join(modules, ", "), err, out)
	}
}

// verify runs testdata/verify.py against the loopback DNS server.
func verify(t *testing.T, dnsAddr, mode string, msg []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command(python, append([]string{"testdata/verify.py", dnsAddr, mode}, args...)...)
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("verify.py %s: %v\n%s", mode, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// authEnv is a mailauth service over a real database and directory, with
// DNS from a loopback server.
type authEnv struct {
	d   *db.DB
	dir *directory.Directory
	dns *dnstest.Server
	svc *mailauth.Service
}

func newAuthEnv(t *testing.T, d *db.DB, zones ...string) *authEnv {
	t.Helper()
	srv := dnstest.Start(t, zones...)
	key := bytes.Repeat([]byte{9}, 32)
	dir := directory.New(d, "tenantferry.test", key)
	svc := mailauth.New(mailauth.Options{DB: d, Dir: dir, ServerKey: key, Resolver: dnsx.New(srv.Addr), Hostname: "mx.test"})
	return &authEnv{d: d, dir: dir, dns: srv, svc: svc}
}

// tenant creates a tenant that accepts the given domains.
func (e *authEnv) tenant(t *testing.T, name string, domains ...string) string {
	t.Helper()
	tn, err := e.dir.CreateTenant(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range domains {
		if _, err := e.dir.AcceptDomain(bg, tn.ID, d, directory.VerifiedByOperator); err != nil {
			t.Fatal(err)
		}
	}
	return tn.ID
}

// publish adds the keys' TXT records to the DNS server.
func publish(t *testing.T, srv *dnstest.Server, keys []*mailauth.Key) {
	t.Helper()
	for _, k := range keys {
		srv.Add(t, k.ZoneLine())
	}
}

// wire returns a message as it crosses SMTP: every bare LF becomes CRLF
// (what the DATA writer of an SMTP client does).
func wire(msg []byte) []byte {
	var b bytes.Buffer
	for i, c := range msg {
		if c == '\n' && (i == 0 || msg[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(c)
	}
	return b.Bytes()
}
