package api_test

import (
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/apitypes"
	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/httpx"
	"github.com/tenantferry/tenantferry/internal/server"
)

// These tests start real servers (server.New + Start) on 127.0.0.1:0 with a
// temp data dir and talk HTTP to them. Each runs on SQLite and, when
// TENANTFERRY_TEST_POSTGRES holds a DSN, on PostgreSQL.

var bg = context.Background()

// tserver is a running server under test.
type tserver struct {
	*server.Server
	URL     string // public base URL
	Op      string // operator token
	DataDir string
	DSN     string
	Logs    *scenario.LogBuffer
	stopped bool
}

// startServer starts a server on dataDir with the database dsn ("" =
// SQLite in dataDir) listening on addr ("" = a free loopback port), logging
// at debug level into logs.
func startServer(t testing.TB, dataDir, dsn, addr string, logs *scenario.LogBuffer) *tserver {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.DB = dsn
	cfg.HTTP = "127.0.0.1:0"
	if addr != "" {
		cfg.HTTP = addr
	}
	cfg.IMAP, cfg.SMTP, cfg.Submission = "off", "off", "off"
	cfg.EndpointAllow = []string{"127.0.0.0/8"} // the test servers trust each other on loopback
	if logs == nil {
		logs = &scenario.LogBuffer{}
	}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := server.New(bg, cfg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := s.Start(bg); err != nil {
		s.Shutdown(bg)
		t.Fatalf("Start: %v", err)
	}
	ts := &tserver{Server: s, URL: s.PublicURL, DataDir: dataDir, DSN: dsn, Logs: logs}
	tok, err := os.ReadFile(filepath.Join(dataDir, server.OperatorTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	ts.Op = strings.TrimSpace(string(tok))
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// newServer starts a server on a fresh data dir and database of the dialect.
func newServer(t testing.TB, dialect db.Dialect) *tserver {
	t.Helper()
	return startServer(t, t.TempDir(), dbtest.DSN(t, dialect), "", nil)
}

func (s *tserver) stop(t testing.TB) {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	// A restarted server may listen on the same address: no stale
	// keep-alive connection may be reused for it.
	http.DefaultClient.CloseIdleConnections()
}

// raw is a request body sent as is.
type raw struct {
	contentType string
	data        []byte
}

// reply is an HTTP reply.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
	Path   string // the request's (escaped) path
}

// call sends a request to the server; body is nil, a raw, or a value sent
// as JSON.
func (s *tserver) call(t testing.TB, method, path, token string, body any) reply {
	t.Helper()
	return do(t, method, s.URL+path, token, body)
}

func do(t testing.TB, method, u, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case raw:
		rd, ct = bytes.NewReader(b.data), b.contentType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(bg, method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b, Path: req.URL.EscapedPath()}
}

// ok decodes a 2xx reply into v (when not nil), failing otherwise.
func (r reply) ok(t testing.TB, v any) {
	t.Helper()
	if r.Status < 200 || r.Status > 299 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("decode %s: %v", r.Body, err)
		}
	}
}

// errorBody is the JSON of an error reply: an RFC 9457 problem.
type errorBody = httpx.Problem

// errBody decodes an error reply, failing unless it is a complete problem
// (RFC 9457) served as application/problem+json: type, title, status (the
// reply's), detail and instance (the request path) with the Code it names.
func (r reply) errBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Code == "" {
		t.Fatalf("status %d: not an error body: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d %s: Content-Type %q, want application/problem+json", r.Status, e.Code, ct)
	}
	if e.Type != "https://tenantferry.dev/problems/"+e.Code || e.Title == "" || e.Status != r.Status || e.Detail == "" || e.Instance != r.Path {
		t.Fatalf("status %d, path %s: incomplete problem %s", r.Status, r.Path, r.Body)
	}
	return e
}

// wantErr asserts an error reply with the status and code.
func (r reply) wantErr(t *testing.T, status int, code string) {
	t.Helper()
	e := r.errBody(t)
	if r.Status != status || e.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", r.Status, e.Code, e.Detail, status, code)
	}
}

// tp returns the API path of a tenant.
func tp(tenant string) string { return "/api/v1/tenants/" + url.PathEscape(tenant) }

// tenantObjs are the objects populate creates in one tenant.
type tenantObjs struct {
	apitypes.TenantView
	Token       string // tenant-admin token
	TokenID     string // its id (admin-tokens)
	Domain      string // custom accepted domain
	Password    string // of Mailbox
	Mailbox     apitypes.RecipientView
	MailUser    apitypes.RecipientView
	Group       apitypes.RecipientView
	App         apitypes.AppView
	AppSecret   string
	ConsentApp  string // AppId of the app the tenant consented to
	OrgRel      apitypes.OrgRelView
	OrgRelID    string
	Endpoint    apitypes.EndpointView
	EndpointID  string
	EndpointSec string
}

// createTenant creates a tenant with the operator token.
func (s *tserver) createTenant(t testing.TB, name string) *tenantObjs {
	t.Helper()
	o := &tenantObjs{}
	s.call(t, "POST", "/api/v1/tenants", s.Op, map[string]string{"Name": name}).ok(t, &o.TenantView)
	if o.AdminToken == "" {
		t.Fatal("no AdminToken")
	}
	o.Token = o.AdminToken
	var ts []apitypes.AdminTokenView
	s.call(t, "GET", tp(name)+"/admin-tokens", o.Token, nil).ok(t, &ts)
	if len(ts) != 1 {
		t.Fatalf("tenant %s has %d admin tokens", name, len(ts))
	}
	o.TokenID = ts[0].Id
	return o
}

// populate creates one object of every kind in tenant o, with its own
// tenant-admin token; partner is the other tenant.
func (s *tserver) populate(t *testing.T, o, partner *tenantObjs) {
	t.Helper()
	p, tok := tp(o.Name), o.Token
	o.Domain = o.Name + ".example"
	// The tenant admin adds its domain (Pending); the operator approves it.
	s.call(t, "POST", p+"/domains", tok, map[string]string{"DomainName": o.Domain}).ok(t, nil)
	s.call(t, "POST", p+"/domains/"+o.Domain+"/approve", s.Op, nil).ok(t, nil)
	o.Password = "Pw-" + uuid.NewString()
	s.call(t, "POST", p+"/mailboxes", tok, map[string]any{"Alias": "user01", "DisplayName": "User One", "FirstName": "User", "LastName": "One",
		"Password": o.Password, "Archive": true, "AddAddresses": []string{"smtp:user01@" + o.Domain}}).ok(t, &o.Mailbox)
	s.call(t, "POST", p+"/mailusers", tok, map[string]any{"Name": "mu01", "Alias": "mu01", "PrimarySmtpAddress": "mu01@" + o.Domain,
		"ExternalEmailAddress": "mu01@" + partner.InitialDomain, "ExchangeGuid": uuid.NewString(),
		"AddAddresses": []string{"X500:/o=" + partner.Name + "/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=mu01"}}).ok(t, &o.MailUser)
	s.call(t, "POST", p+"/groups", tok, map[string]any{"Name": "MigrationScope", "Type": "security"}).ok(t, &o.Group)
	s.call(t, "POST", p+"/groups/MigrationScope/members", tok, map[string]any{"Member": "user01"}).ok(t, nil)
	s.call(t, "POST", p+"/apps", tok, map[string]any{"Name": "Mailbox migration", "Permissions": []string{"Mailbox.Migration"}}).ok(t, &o.App)
	var sec struct{ SecretText string }
	s.call(t, "POST", p+"/apps/"+o.App.AppId+"/secrets", tok, map[string]any{"Expires": "720h"}).ok(t, &sec)
	o.AppSecret = sec.SecretText
	o.ConsentApp = uuid.NewString()
	s.call(t, "POST", p+"/consents", tok, map[string]any{"AppId": o.ConsentApp, "Issuer": "https://remote.example/" + partner.Id + "/v2.0"}).ok(t, nil)
	s.call(t, "POST", p+"/orgrels", tok, map[string]any{"Name": partner.Name, "DomainNames": []string{partner.Id}, "MailboxMoveEnabled": true,
		"MailboxMoveCapability": []string{"Inbound", "RemoteOutbound"}, "OAuthApplicationId": o.ConsentApp,
		"MailboxMovePublishedScopes": []string{"MigrationScope"}}).ok(t, &o.OrgRel)
	o.EndpointSec = "ep-secret-" + uuid.NewString()
	s.call(t, "POST", p+"/endpoints", tok, map[string]any{"Name": partner.Name + "-ep", "RemoteServer": s.URL, "RemoteTenant": partner.InitialDomain,
		"ApplicationId": o.App.AppId, "Secret": o.EndpointSec}).ok(t, &o.Endpoint)
	// A batch that is not started (nothing syncs), for the migration routes.
	s.call(t, "POST", p+"/batches", tok, map[string]any{"Name": "wave1", "Endpoint": o.Endpoint.Name,
		"Csv": "EmailAddress\nmu01@" + o.Domain + "\n", "TargetDeliveryDomain": o.InitialDomain}).ok(t, nil)
	// The API does not show these ids; the isolation tests use them.
	rel, err := s.Dir.GetOrgRel(bg, o.Id, o.OrgRel.Name)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := s.Dir.GetEndpoint(bg, o.Id, o.Endpoint.Name)
	if err != nil {
		t.Fatal(err)
	}
	o.OrgRelID, o.EndpointID = rel.ID, ep.ID
}

// world is two populated tenants on one server.
func (s *tserver) world(t *testing.T) (contoso, fabrikam *tenantObjs) {
	t.Helper()
	contoso, fabrikam = s.createTenant(t, "contoso"), s.createTenant(t, "fabrikam")
	s.populate(t, contoso, fabrikam)
	s.populate(t, fabrikam, contoso)
	return contoso, fabrikam
}

// snapshot renders everything the operator can read about a tenant, plus
// what the API does not show (password and endpoint secret checks, admin
// token and audit row counts), so that any change shows as a difference.
func (s *tserver) snapshot(t *testing.T, o *tenantObjs) string {
	t.Helper()
	var b strings.Builder
	get := func(path string) []byte {
		r := s.call(t, "GET", path, s.Op, nil)
		r.ok(t, nil)
		fmt.Fprintf(&b, "GET %s\n%s\n", path, r.Body)
		return r.Body
	}
	p := tp(o.Id)
	get(p)
	get(p + "/domains")
	for _, kind := range []string{"mailboxes", "mailusers", "groups", "apps", "orgrels", "endpoints"} {
		var list []struct{ Id, AppId, Name string }
		if err := json.Unmarshal(get(p+"/"+kind), &list); err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			id := x.Id
			if kind == "apps" {
				id = x.AppId
			} else if kind == "orgrels" || kind == "endpoints" {
				id = x.Name
			}
			get(p + "/" + kind + "/" + url.PathEscape(id))
		}
	}
	get(p + "/consents")
	get(p + "/batches")
	get(p + "/batches/wave1/users")
	get(p + "/batches/wave1/report")
	r, err := s.Dir.GetRecipient(bg, o.Id, "user01")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "password ok: %v\n", r.CheckPassword(o.Password))
	e, err := s.Dir.GetEndpoint(bg, o.Id, o.Endpoint.Name)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := s.Dir.EndpointSecret(e)
	fmt.Fprintf(&b, "endpoint secret ok: %v %v\n", sec == o.EndpointSec, err)
	for _, q := range []string{`SELECT COUNT(*) FROM admin_tokens WHERE tenant_id = ?`, `SELECT COUNT(*) FROM audit WHERE tenant_id = ?`} {
		var n int
		if err := s.DB.Read().QueryRowContext(bg, q, o.Id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %d\n", q, n)
	}
	s.call(t, "GET", "/api/v1/whoami", o.Token, nil).ok(t, nil)
	return b.String()
}
