package migration_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dovecot"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// tokenServer is a small OAuth2 provider on 127.0.0.1: a token endpoint
// (refresh_token grant, one refresh token per user, client id and secret
// checked) and the introspection endpoint Dovecot's oauth2 passdb asks.
type tokenServer struct {
	*httptest.Server
	clientID, clientSecret string
	refresh                map[string]string // refresh token → user
	service                string            // the user a client-credentials token signs in
	// rotate makes every refresh answer a new refresh token and end the
	// one presented (strict rotation).
	rotate bool

	mu                  sync.Mutex
	active              map[string]string // access token → user
	grants, refusedIntr int
}

func newTokenServer(t *testing.T, refresh map[string]string) *tokenServer {
	ts := &tokenServer{clientID: "imap-client", clientSecret: "imap-client-secret", refresh: refresh, active: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", ts.token)
	mux.HandleFunc("/introspect", ts.introspect) // POST (introspection), GET (tokeninfo)
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	ts.mu.Lock()
	defer ts.mu.Unlock()
	presented := r.PostForm.Get("refresh_token")
	user, known := ts.refresh[presented]
	if r.PostForm.Get("grant_type") == "client_credentials" {
		user, known = ts.service, ts.service != ""
	} else if r.PostForm.Get("grant_type") != "refresh_token" {
		known = false
	}
	if id != ts.clientID || secret != ts.clientSecret || !known {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
		return
	}
	b := make([]byte, 16)
	rand.Read(b)
	tok := "at-" + hex.EncodeToString(b)
	ts.active[tok] = user
	ts.grants++
	reply := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600}
	if ts.rotate && r.PostForm.Get("grant_type") == "refresh_token" {
		next := "rt-" + hex.EncodeToString(b[:8])
		delete(ts.refresh, presented)
		ts.refresh[next] = user
		reply["refresh_token"] = next
	}
	json.NewEncoder(w).Encode(reply)
}

func (ts *tokenServer) introspect(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	ts.mu.Lock()
	user, ok := ts.active[r.Form.Get("token")]
	if !ok {
		ts.refusedIntr++
	}
	ts.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		json.NewEncoder(w).Encode(map[string]any{"active": false})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"active": true, "username": user})
}

// expireAll ends every access token issued so far (as their lifetime
// would), although their holders think them valid for an hour.
func (ts *tokenServer) expireAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.active)
}

func (ts *tokenServer) counts() (grants, refused int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.grants, ts.refusedIntr
}

// TestIMAPOAuthFromDovecot (issue 11 item 5): an IMAP endpoint with
// OAuth2 sign-in (XOAUTH2, refresh_token grant, the client id and secret
// of the endpoint) moves a user from a Dovecot whose oauth2 passdb asks a
// token server on 127.0.0.1, byte-exact; once the server has expired the
// access token (the client still thinks it valid), the next sync's login
// is refused, a new token is fetched with the refresh token and the sync
// goes on; the completion is Perfect. OAUTHBEARER (RFC 7628) signs a
// user in the same way, and a client-credentials service account's token
// signs in the user the provider lets it (and no other: SourceLoginFailed).
// A user whose refresh token the provider refuses fails with
// SourceTokenRefused. The Dovecot users' passwords are never used.
func TestIMAPOAuthFromDovecot(t *testing.T) {
	skipWithoutDovecot(t)
	ctx := context.Background()
	ts := newTokenServer(t, map[string]string{"rt-bob": "bob", "rt-alice": "alice"})
	ts.service = "carol"
	small := func(seed int64, owner string) []scenario.Item {
		return scenario.Generated(mailgen.Options{Seed: seed, Count: 12, Owner: owner + "@legacy.example", Median: 2000})
	}
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("fabrikam")
	bob := s.Mailbox("fabrikam", "bob", "pw-bob-target", false)
	alice := s.Mailbox("fabrikam", "alice", "pw-alice-target", false)
	carol := s.Mailbox("fabrikam", "carol", "pw-carol-target", false)
	dave := s.Mailbox("fabrikam", "dave", "pw-dave-target", false)
	src := startDovecotWith(t, map[string]string{"bob": bobPassword, "alice": alicePassword, "carol": "carol-Pa55", "dave": "dave-Pa55"},
		map[string][]scenario.Item{"bob": bobItems(), "alice": small(31, "alice"), "carol": small(32, "carol")},
		dovecot.Options{OAuth2: []string{
			"introspection_mode = post",
			"introspection_url = " + ts.URL + "/introspect",
			"tokeninfo_url = " + ts.URL + "/introspect?token=",
			"force_introspection = yes",
			"username_attribute = username",
			"active_attribute = active",
			"active_value = true",
		}})
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "bad-oauth", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, OAuthTokenURL: ts.URL + "/token", OAuthGrant: "password"}); !isCode(err, "InvalidOAuth") {
		t.Fatalf("an unknown grant: %v", err)
	}
	ep, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "dove-oauth", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, ApplicationId: ts.clientID, Secret: ts.clientSecret, OAuthTokenURL: ts.URL + "/token",
		OAuthScope: "https://mail.example/"})
	if err != nil || ep.OAuth == nil || ep.OAuth.Mechanism != directory.OAuthXOAUTH2 || ep.OAuth.Grant != directory.OAuthRefreshToken {
		t.Fatalf("OAuth endpoint: %+v %v", ep, err)
	}
	csv := []byte("EmailAddress,UserName,RefreshToken\n" + bob.PrimarySmtpAddress + ",bob,rt-bob\n")
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "oauth", Endpoint: "dove-oauth", CSV: csv, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	waitIMAPUsers(t, s, "oauth", migration.StateSynced)
	sameAsDovecot(t, s, src, "bob", bob, "initial sync over XOAUTH2")
	g1, _ := ts.counts()

	// The provider ends the token; new mail arrives; the next sync's login
	// is refused, then a refreshed token signs in.
	ts.expireAll()
	appendMsg(t, src.login(t, "bob"), "INBOX", "after the token expired", []imap.Flag{imap.FlagSeen})
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "oauth", admin.BatchSyncNow, false); err != nil {
		t.Fatal(err)
	}
	waitIMAPUsers(t, s, "oauth", migration.StateSynced)
	sameAsDovecot(t, s, src, "bob", bob, "incremental sync after the refresh")
	g2, refused := ts.counts()
	if g2 <= g1 || refused == 0 {
		t.Fatalf("token grants %d → %d, refused introspections %d: the expired token was not replaced", g1, g2, refused)
	}
	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "oauth", admin.BatchComplete, false); err != nil {
		t.Fatal(err)
	}
	if us := waitIMAPUsers(t, s, "oauth", migration.StateCompleted, migration.StateCompletedWithWarnings); us[0].DataConsistencyScore != migration.ScorePerfect {
		t.Fatalf("completed %s, %s", us[0].Status, us[0].DataConsistencyScore)
	}

	// OAUTHBEARER (RFC 7628) with alice's refresh token; a service
	// account's client-credentials token for carol (CSV without a secret).
	for _, e := range []directory.EndpointSpec{
		{Name: "dove-bearer", OAuthMechanism: "oauthbearer"},
		{Name: "dove-svc", OAuthGrant: "client_credentials"},
	} {
		e.Type, e.RemoteServer, e.ApplicationId, e.Secret, e.OAuthTokenURL = directory.EndpointIMAP, "imap://"+src.addr, ts.clientID, ts.clientSecret, ts.URL+"/token"
		if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", e); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []struct {
		name, ep, csv string
		rec           *directory.Recipient
		user          string
	}{
		{"bearer", "dove-bearer", "EmailAddress,UserName,RefreshToken\n" + alice.PrimarySmtpAddress + ",alice,rt-alice\n", alice, "alice"},
		{"svc", "dove-svc", "EmailAddress,UserName\n" + carol.PrimarySmtpAddress + ",carol\n", carol, "carol"},
	} {
		if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: b.name, Endpoint: b.ep, CSV: []byte(b.csv), AutoStart: true}); err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		waitIMAPUsers(t, s, b.name, migration.StateSynced)
		sameAsDovecot(t, s, src, b.user, b.rec, b.name+" sign-in")
	}
	// The service account's token signs in carol only (the provider's
	// introspection says so): dave's login is refused.
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "svc-other", Endpoint: "dove-svc",
		CSV: []byte("EmailAddress,UserName\n" + dave.PrimarySmtpAddress + ",dave\n"), AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	if us := waitIMAPUsers(t, s, "svc-other", migration.StateFailed); us[0].Error == nil || us[0].Error.Code != "SourceLoginFailed" {
		t.Fatalf("another user with the service token: %+v", us[0].Error)
	}

	if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "svc-other", admin.BatchRemove, false); err != nil {
		t.Fatal(err)
	}
	bad := []byte("EmailAddress,UserName,RefreshToken\n" + dave.PrimarySmtpAddress + ",dave,rt-stolen\n")
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "oauth-bad", Endpoint: "dove-oauth", CSV: bad, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	us := waitIMAPUsers(t, s, "oauth-bad", migration.StateFailed)
	if us[0].Error == nil || us[0].Error.Code != "SourceTokenRefused" {
		t.Fatalf("a refused refresh token: %+v", us[0].Error)
	}
}

// TestIMAPOAuthRotatedRefreshToken: a provider that rotates refresh tokens
// (every refresh answers a new one and ends the old) keeps signing a move
// in after the node restarts: the rotated token replaced the move's stored
// secret before its access token was used. Before, the restarted node
// presented the CSV's token, which the provider had ended, and the user
// failed with SourceTokenRefused. A valid cached access token is reused:
// a sync costs no refresh.
func TestIMAPOAuthRotatedRefreshToken(t *testing.T) {
	skipWithoutDovecot(t)
	ctx := context.Background()
	ts := newTokenServer(t, map[string]string{"rt-bob": "bob"})
	ts.rotate = true
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("fabrikam")
	bob := s.Mailbox("fabrikam", "bob", "pw-bob-target", false)
	src := startDovecotWith(t, map[string]string{"bob": bobPassword}, map[string][]scenario.Item{"bob": bobItems()[:8]},
		dovecot.Options{OAuth2: []string{
			"introspection_mode = post",
			"introspection_url = " + ts.URL + "/introspect",
			"force_introspection = yes",
			"username_attribute = username",
			"active_attribute = active",
			"active_value = true",
		}})
	if _, err := s.Admin.CreateEndpoint(ctx, s.Op, "fabrikam", directory.EndpointSpec{Name: "dove-oauth", Type: directory.EndpointIMAP,
		RemoteServer: "imap://" + src.addr, ApplicationId: ts.clientID, Secret: ts.clientSecret, OAuthTokenURL: ts.URL + "/token"}); err != nil {
		t.Fatal(err)
	}
	csv := []byte("EmailAddress,UserName,RefreshToken\n" + bob.PrimarySmtpAddress + ",bob,rt-bob\n")
	if _, err := s.Admin.CreateBatch(ctx, s.Op, "fabrikam", migration.BatchSpec{Name: "rot", Endpoint: "dove-oauth", CSV: csv, AutoStart: true}); err != nil {
		t.Fatal(err)
	}
	waitIMAPUsers(t, s, "rot", migration.StateSynced)
	sameAsDovecot(t, s, src, "bob", bob, "initial sync")
	syncNow := func(s *scenario.Server, what string) {
		t.Helper()
		if _, err := s.Admin.BatchCommand(ctx, s.Op, "fabrikam", "rot", admin.BatchSyncNow, false); err != nil {
			t.Fatal(err)
		}
		if us := waitIMAPUsers(t, s, "rot", migration.StateSynced, migration.StateFailed); us[0].Status != migration.StateSynced {
			t.Fatalf("%s: %s %+v", what, us[0].Status, us[0].Error)
		}
	}
	g1, _ := ts.counts()
	appendMsg(t, src.login(t, "bob"), "INBOX", "while the token is valid", nil)
	syncNow(s, "sync with a cached token")
	if g, _ := ts.counts(); g != g1 {
		t.Fatalf("a sync with a valid cached access token refreshed it (%d → %d grants)", g1, g)
	}

	// Restart the node (no cached token source), end the access tokens:
	// the next sign-in must present the rotated refresh token.
	cfg := s.Cfg
	s.Stop()
	s = scenario.Start(t, scenario.Options{DataDir: cfg.DataDir, DB: cfg.DB})
	ts.expireAll()
	appendMsg(t, src.login(t, "bob"), "INBOX", "after the restart", nil)
	syncNow(s, "sync after a restart with a rotated refresh token")
	sameAsDovecot(t, s, src, "bob", bob, "incremental sync after the restart")
	if g, _ := ts.counts(); g != g1+1 {
		t.Fatalf("grants %d → %d: want exactly one refresh after the restart", g1, g)
	}
}
