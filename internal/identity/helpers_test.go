package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantferry/tenantferry/internal/db"
)

// testServer is one tenantferry server as far as identity goes: a database,
// its keys, an issuer and a real HTTP listener on 127.0.0.1.
type testServer struct {
	d      *db.DB
	keys   *Keys
	issuer *Issuer
	srv    *httptest.Server
	url    string
	// jwksHits counts requests to any JWKS path.
	jwksHits atomic.Int64
}

// newTestServer starts a server on d, with the issuer routes registered on a
// mux that also holds routes of the other packages.
func newTestServer(t testing.TB, d *db.DB) *testServer {
	t.Helper()
	s := &testServer{d: d}
	mux := http.NewServeMux()
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/discovery/v2.0/keys") {
			s.jwksHits.Add(1)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL
	s.keys = NewKeys(d, newServerKey(t))
	s.issuer = NewIssuer(d, s.keys, s.url)
	s.issuer.Clients = seededClients{d}
	registerOtherRoutes(mux)
	s.issuer.Routes(mux)
	return s
}

// registerOtherRoutes registers patterns like the ones the API, replication,
// metrics and web packages use on the shared mux.
func registerOtherRoutes(mux *http.ServeMux) {
	reply := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }
	}
	mux.HandleFunc("GET /api/v1/tenants/{id}", reply("api"))
	mux.HandleFunc("/api/v1/", reply("api-any"))
	mux.HandleFunc("/healthz", reply("healthz"))
	mux.HandleFunc("/metrics", reply("metrics"))
	mux.HandleFunc("/replication/v1/", reply("replication"))
	mux.HandleFunc("GET /ui/{$}", reply("ui"))
	mux.HandleFunc("GET /ui/assets/", reply("ui-assets"))
}

// tenant is a seeded tenant.
type tenant struct {
	id, name, domain string
}

// seedTenant inserts a tenant with its initial domain and one more domain.
func seedTenant(t testing.TB, d *db.DB, name string) tenant {
	t.Helper()
	tn := tenant{id: uuid.NewString(), name: name, domain: name + ".example"}
	now := db.Now()
	err := d.Write(context.Background(), func(tx *db.Tx) error {
		if _, err := tx.ExecContext(context.Background(),
			`INSERT INTO tenants (id, name, initial_domain, created_at) VALUES (?, ?, ?, ?)`,
			tn.id, tn.name, tn.name+".onferry.test", now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(),
			`INSERT INTO domains (domain, tenant_id, is_initial, created_at) VALUES (?, ?, ?, ?), (?, ?, ?, ?)`,
			tn.name+".onferry.test", tn.id, true, now, tn.domain, tn.id, false, now); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed tenant %s: %v", name, err)
	}
	return tn
}

// seedApp registers an app with permissions in a tenant and gives it one
// secret valid for a day; it returns the app id and the secret.
func seedApp(t testing.TB, d *db.DB, tenantID, permissions string) (string, string) {
	t.Helper()
	appID := uuid.NewString()
	_, err := d.W.Exec(d.Rebind(`INSERT INTO apps (app_id, tenant_id, name, permissions, created_at) VALUES (?, ?, ?, ?, ?)`),
		appID, tenantID, "migration app", permissions, db.Now())
	if err != nil {
		t.Fatalf("seed app: %v", err)
	}
	return appID, seedSecret(t, d, tenantID, appID, time.Now().Add(24*time.Hour))
}

// seedSecret adds a secret expiring at exp to an app and returns it.
func seedSecret(t testing.TB, d *db.DB, tenantID, appID string, exp time.Time) string {
	t.Helper()
	secret := NewSecret("tfs_", 40)
	_, err := d.W.Exec(d.Rebind(`INSERT INTO app_secrets (id, app_id, tenant_id, secret_hash, hint, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		uuid.NewString(), appID, tenantID, HashSecret(secret), secret[:7], exp.UnixMilli(), db.Now())
	if err != nil {
		t.Fatalf("seed secret: %v", err)
	}
	return secret
}

// postToken posts a raw form to a token URL and decodes the JSON reply.
func postToken(t testing.TB, tokenURL string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(tokenURL, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("post token: %v", err)
	}
	return decodeReply(t, resp)
}

func decodeReply(t testing.TB, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("reply %d is not JSON: %q", resp.StatusCode, body)
	}
	return resp.StatusCode, m
}

func credentials(appID, secret, resource string) url.Values {
	return url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {appID},
		"client_secret": {secret},
		"scope":         {resource + "/.default"},
	}
}

// tokenPart decodes part i (0 header, 1 payload) of a JWT without checking it.
func tokenPart(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// seededClients is the tests' Clients over the rows seedTenant and the
// app helpers insert. The directory, which owns those tables in the
// server, cannot be imported here (it imports identity); it implements
// the same lookups over the same tables (directory.ClientTenant, ...).
type seededClients struct{ d *db.DB }

func (c seededClients) ClientTenant(ctx context.Context, ref string) (string, error) {
	for _, q := range []string{`SELECT id FROM tenants WHERE id = ?`, `SELECT id FROM tenants WHERE lower(name) = lower(?)`,
		`SELECT tenant_id FROM domains WHERE domain = lower(?)`, `SELECT id FROM tenants WHERE initial_domain = lower(?)`} {
		var id string
		if err := c.d.Read().QueryRowContext(ctx, q, ref).Scan(&id); err == nil {
			return id, nil
		}
	}
	return "", nil
}

func (c seededClients) ClientApp(ctx context.Context, appID string) (string, string, bool, error) {
	var tid, perms string
	err := c.d.Read().QueryRowContext(ctx, `SELECT tenant_id, permissions FROM apps WHERE app_id = ?`, appID).Scan(&tid, &perms)
	if db.IsNoRows(err) {
		return "", "", false, nil
	}
	return tid, perms, err == nil, err
}

func (c seededClients) ClientSecrets(ctx context.Context, tenantID, appID string) ([]ClientSecret, error) {
	rows, err := c.d.Read().QueryContext(ctx, `SELECT secret_hash, hint, expires_at FROM app_secrets WHERE app_id = ? AND tenant_id = ?`, appID, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ClientSecret
	for rows.Next() {
		var cs ClientSecret
		var exp int64
		if err := rows.Scan(&cs.Hash, &cs.Hint, &exp); err != nil {
			return nil, err
		}
		cs.Expires = db.Time(exp)
		out = append(out, cs)
	}
	return out, rows.Err()
}
