package api_test

import (
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"

	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/identity"
	"github.com/tenantferry/tenantferry/internal/server"
)

// secretSet is every clear-text secret a test handled, by name.
type secretSet map[string]string

// exempt names the files that hold a secret in clear by design.
var exempt = map[string]string{
	"operator token": server.OperatorTokenFile, // mode 0600, for the CLI
	"server key":     identity.ServerKeyFile,   // the key that seals the rest
}

// grepFiles fails if any file under dir (the SQLite database, its WAL and
// shared memory, anything else) contains one of the secrets.
func grepFiles(t *testing.T, dir string, secrets secretSet) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for name, v := range secrets {
			if exempt[name] == d.Name() {
				continue
			}
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s appears in clear text in %s", name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no files in the data directory")
	}
}

// grepTables fails if any value of any table of the database contains one
// of the secrets (for PostgreSQL, whose files are not ours to read).
func grepTables(t *testing.T, d *db.DB, secrets secretSet) {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if d.Dialect == db.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := d.Read().QueryContext(bg, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 10 {
		t.Fatalf("only %d tables: %v", len(tables), tables)
	}
	for _, table := range tables {
		rows, err := d.Read().QueryContext(bg, `SELECT * FROM `+table)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				s := fmt.Sprint(v)
				if b, ok := v.([]byte); ok {
					s = string(b)
				}
				for name, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("%s appears in clear text in %s.%s", name, table, cols[i])
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// grepLogs fails if the captured log output contains one of the secrets.
func grepLogs(t *testing.T, logs []byte, secrets secretSet) {
	t.Helper()
	if len(logs) == 0 {
		t.Fatal("nothing was logged")
	}
	for name, v := range secrets {
		if bytes.Contains(logs, []byte(v)) {
			t.Errorf("%s appears in the log", name)
		}
	}
}

// TestRestartKeepsStateAndSecrets proves criterion 6: a restarted server
// (same data dir and database) has all state, and no secret or password
// appears in clear text in the database files, the tables or the logs.
func TestRestartKeepsStateAndSecrets(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		dir, dsn, logs := t.TempDir(), dbtest.DSN(t, dialect), &scenario.LogBuffer{}
		s1 := startServer(t, dir, dsn, "", logs)
		if s1.OperatorToken == "" || s1.OperatorToken != s1.Op {
			t.Fatalf("first start: operator token %q, file %q", s1.OperatorToken, s1.Op)
		}
		if fi, err := os.Stat(filepath.Join(dir, server.OperatorTokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("operator token file: %v %v", fi, err)
		}
		c, f := s1.world(t)
		secrets := secretSet{"operator token": s1.Op, "contoso admin token": c.Token, "fabrikam admin token": f.Token,
			"contoso app secret": c.AppSecret, "fabrikam app secret": f.AppSecret,
			"contoso endpoint secret": c.EndpointSec, "fabrikam endpoint secret": f.EndpointSec,
			"contoso password": c.Password, "fabrikam password": f.Password}
		key, err := os.ReadFile(filepath.Join(dir, identity.ServerKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		secrets["server key"] = strings.TrimSpace(string(key))
		if _, err := hex.DecodeString(secrets["server key"]); err != nil {
			t.Fatal(err)
		}

		// More secrets through every path that carries one: another admin
		// token, a password change, a mailbox created with a password, an
		// access token from the token endpoint, and refused requests that
		// carry secrets.
		var tv apitypes.TenantView
		s1.call(t, "POST", tp("contoso")+"/admin-tokens", s1.Op, map[string]string{"Name": "second"}).ok(t, &tv)
		secrets["second admin token"] = tv.AdminToken
		newPW := "NewPw-" + uuid.NewString()
		s1.call(t, "PATCH", tp("contoso")+"/mailboxes/user01", c.Token, map[string]any{"Password": newPW}).ok(t, nil)
		secrets["changed password"] = newPW
		c.Password = newPW
		pw2 := "Pw2-" + uuid.NewString()
		s1.call(t, "POST", tp("contoso")+"/mailboxes", c.Token, map[string]any{"Alias": "user02", "Password": pw2}).ok(t, nil)
		secrets["second password"] = pw2
		status, tr := requestToken(t, identity.TokenURL(s1.URL, f.Id), f.App.AppId, f.AppSecret, s1.URL)
		if status != http.StatusOK {
			t.Fatalf("token endpoint: %d %+v", status, tr)
		}
		secrets["access token"] = tr.AccessToken
		s1.call(t, "GET", "/api/v1/whoami", tr.AccessToken, nil).wantErr(t, http.StatusUnauthorized, "InvalidToken")
		s1.call(t, "GET", "/api/v1/whoami", c.Token+"x", nil).wantErr(t, http.StatusUnauthorized, "InvalidToken")
		requestToken(t, identity.TokenURL(s1.URL, f.Id), f.App.AppId, f.AppSecret+"x", s1.URL)
		requestToken(t, identity.TokenURL(s1.URL, f.Id), c.App.AppId, c.AppSecret, s1.URL) // app of another tenant
		s1.call(t, "POST", tp("contoso")+"/endpoints", c.Token, map[string]any{"Name": c.Endpoint.Name, "RemoteServer": s1.URL,
			"RemoteTenant": f.InitialDomain, "ApplicationId": c.App.AppId, "Secret": c.EndpointSec}).wantErr(t, http.StatusConflict, "EndpointExists")
		s1.call(t, "POST", tp("contoso")+"/mailboxes", c.Token, map[string]any{"Alias": "bad alias", "Password": newPW}).wantErr(t, http.StatusBadRequest, "InvalidAlias")
		s1.call(t, "PATCH", tp("fabrikam")+"/mailboxes/user01", c.Token, map[string]any{"Password": newPW}).wantErr(t, http.StatusForbidden, "TenantAccessDenied")
		s1.call(t, "POST", tp("contoso")+"/endpoints", c.Token, raw{"application/json", []byte(`{"Secret":"` + c.EndpointSec + `",}`)}).
			wantErr(t, http.StatusBadRequest, "InvalidJson")

		beforeC, beforeF := s1.snapshot(t, c), s1.snapshot(t, f)
		grepFiles(t, dir, secrets) // while running: database, WAL, shm
		grepTables(t, s1.DB, secrets)
		addr := s1.HTTPAddr()
		s1.stop(t)
		grepFiles(t, dir, secrets) // after a clean shutdown

		// Restart on the same data dir, database and address.
		s2 := startServer(t, dir, dsn, addr, logs)
		if s2.OperatorToken != "" || s2.Op != s1.Op {
			t.Fatalf("restart replaced the operator token")
		}
		if s2.URL != s1.URL {
			t.Fatalf("restart changed the URL: %s → %s", s1.URL, s2.URL)
		}
		if after := s2.snapshot(t, c); after != beforeC {
			t.Fatalf("contoso after restart:\n--- before\n%s\n--- after\n%s", beforeC, after)
		}
		if after := s2.snapshot(t, f); after != beforeF {
			t.Fatalf("fabrikam after restart:\n--- before\n%s\n--- after\n%s", beforeF, after)
		}
		// The snapshot checked passwords, endpoint secrets and the initial
		// admin tokens; check the rest.
		s2.call(t, "GET", "/api/v1/whoami", tv.AdminToken, nil).ok(t, nil)
		if r, err := s2.Dir.GetRecipient(bg, c.Id, "user02"); err != nil || !r.CheckPassword(pw2) {
			t.Fatalf("user02 after restart: %v", err)
		}
		var ts []apitypes.TenantView
		s2.call(t, "GET", "/api/v1/tenants", s2.Op, nil).ok(t, &ts)
		if len(ts) != 2 {
			t.Fatalf("%d tenants after restart", len(ts))
		}
		// Signing keys survived: the token issued before the restart still
		// verifies, and the app secret still obtains new ones.
		trusted := identity.TrustedIssuer{Issuer: identity.IssuerURL(s2.URL, f.Id), JWKSURL: identity.JWKSURL(s2.URL, f.Id)}
		if _, err := s2.Verifier.Verify(bg, tr.AccessToken, trusted, s2.URL); err != nil {
			t.Fatalf("token from before the restart: %v", err)
		}
		status, tr2 := requestToken(t, identity.TokenURL(s2.URL, f.Id), f.App.AppId, f.AppSecret, s2.URL)
		if status != http.StatusOK {
			t.Fatalf("token endpoint after restart: %d %+v", status, tr2)
		}
		// A fresh verifier (no local shortcut) fetches A's JWKS over HTTP.
		if _, err := identity.NewVerifier(nil, identity.VerifierOptions{}).Verify(bg, tr2.AccessToken, trusted, s2.URL); err != nil {
			t.Fatalf("token after restart: %v", err)
		}
		secrets["second access token"] = tr2.AccessToken

		grepTables(t, s2.DB, secrets)
		grepFiles(t, dir, secrets)
		s2.stop(t)
		grepFiles(t, dir, secrets)
		grepLogs(t, logs.Bytes(), secrets)
		if !bytes.Contains(logs.Bytes(), []byte("tenantferry serving")) || !bytes.Contains(logs.Bytes(), []byte("action=app.secret.add")) {
			t.Fatalf("the log does not show the server's activity:\n%s", logs.Bytes())
		}
	})
}
