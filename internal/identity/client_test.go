package identity

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/testsupport/wait"
)

// fakeTokenEndpoint replies with status and body, counting requests.
func fakeTokenEndpoint(t *testing.T, status int, contentType, body string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestTokenSourceCaches(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		a := newTestServer(t, d)
		tn := seedTenant(t, d, "fabrikam")
		appID, secret := seedApp(t, d, tn.id, "Mailbox.Migration")
		var calls atomic.Int64
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return http.DefaultTransport.RoundTrip(r)
		})}
		ts := NewTokenSource(client, TokenURL(a.url, tn.name), appID, secret, "https://b.example")
		now := time.Now()
		ts.Now = func() time.Time { return now }
		t1, err := ts.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t2, err := ts.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if t1 != t2 || calls.Load() != 1 {
			t.Fatalf("two Token calls made %d requests (same token: %v), want 1", calls.Load(), t1 == t2)
		}
		if aud := tokenPart(t, t1, 1)["aud"]; aud != "https://b.example" {
			t.Fatalf("aud %v", aud)
		}

		// Concurrent callers share the cache.
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := ts.Token(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if calls.Load() != 1 {
			t.Fatalf("concurrent Token calls made %d requests, want 1", calls.Load())
		}

		// 5 minutes before expiry the token is replaced.
		now = now.Add(DefaultTokenTTL - TokenRefreshMargin + time.Second)
		if _, err := ts.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		if calls.Load() != 2 {
			t.Fatalf("token near expiry not refreshed: %d requests", calls.Load())
		}
		ts.Invalidate()
		if _, err := ts.Token(context.Background()); err != nil || calls.Load() != 3 {
			t.Fatalf("Invalidate did not force a request: %d requests, %v", calls.Load(), err)
		}

		// A wrong secret comes back as TokenRejected with the server's reason.
		bad := NewTokenSource(nil, TokenURL(a.url, tn.id), appID, "tfs_wrongsecret", "https://b.example")
		_, err = bad.Token(context.Background())
		e := wantCode(t, err, "TokenRejected", errs.Unauthorized)
		if !strings.Contains(e.Message, "invalid client secret") || !strings.Contains(e.Message, "InvalidClientSecret") {
			t.Fatalf("message lacks the server's description and code: %s", e.Message)
		}
		if strings.Contains(err.Error(), "tfs_wrongsecret") {
			t.Fatal("error shows the secret")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTokenSourceErrors(t *testing.T) {
	ctx := context.Background()
	const secret = "tfs_topsecretvalue"

	// OAuth error reply: TokenRejected carrying error_description.
	srv, hits := fakeTokenEndpoint(t, 400, "application/json",
		`{"error":"invalid_scope","error_description":"resource is not an absolute URL","code":"InvalidScope"}`)
	_, err := NewTokenSource(nil, srv.URL, "app", secret, "x").Token(ctx)
	e := wantCode(t, err, "TokenRejected", errs.Unauthorized)
	if !strings.Contains(e.Message, "resource is not an absolute URL") || !strings.Contains(e.Message, "invalid_scope") {
		t.Fatalf("message: %s", e.Message)
	}
	// Errors are not cached.
	ts := NewTokenSource(nil, srv.URL, "app", secret, "x")
	ts.Token(ctx)
	ts.Token(ctx)
	if hits.Load() != 3 {
		t.Fatalf("failed token requests were cached: %d requests", hits.Load())
	}

	// A server failure without an OAuth body is temporary.
	srv, _ = fakeTokenEndpoint(t, 502, "text/html", "<html>bad gateway</html>")
	_, err = NewTokenSource(nil, srv.URL, "app", secret, "https://b.example").Token(ctx)
	wantCode(t, err, "EndpointUnreachable", errs.Unavailable)

	// A 404 page (wrong URL) is a refusal that names the status.
	srv, _ = fakeTokenEndpoint(t, 404, "text/plain", "404 page not found")
	_, err = NewTokenSource(nil, srv.URL, "app", secret, "https://b.example").Token(ctx)
	if e := wantCode(t, err, "TokenRejected", errs.Unauthorized); !strings.Contains(e.Message, "404") {
		t.Fatalf("message: %s", e.Message)
	}

	// 200 without a token.
	srv, _ = fakeTokenEndpoint(t, 200, "application/json", `{"token_type":"Bearer"}`)
	_, err = NewTokenSource(nil, srv.URL, "app", secret, "https://b.example").Token(ctx)
	wantCode(t, err, "EndpointUnreachable", errs.Unavailable)

	// Nothing listening: EndpointUnreachable naming the URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String() + "/t/oauth2/v2.0/token"
	l.Close()
	_, err = NewTokenSource(nil, dead, "app", secret, "https://b.example").Token(ctx)
	e = wantCode(t, err, "EndpointUnreachable", errs.Unavailable)
	if !strings.Contains(e.Message, dead) {
		t.Fatalf("message does not name the URL: %s", e.Message)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("error shows the secret")
	}

	// expires_in as a string is accepted; a short lifetime is cached for half of it.
	srv, hits = fakeTokenEndpoint(t, 200, "application/json", `{"access_token":"abc","token_type":"bearer","expires_in":"120"}`)
	ts = NewTokenSource(nil, srv.URL, "app", secret, "https://b.example")
	now := time.Now()
	ts.Now = func() time.Time { return now }
	if tok, err := ts.Token(ctx); err != nil || tok != "abc" {
		t.Fatalf("token %q, %v", tok, err)
	}
	now = now.Add(59 * time.Second)
	ts.Token(ctx)
	now = now.Add(2 * time.Second)
	ts.Token(ctx)
	if hits.Load() != 2 {
		t.Fatalf("short-lived token: %d requests, want 2", hits.Load())
	}

	// A cancelled context waiting for the in-flight request returns.
	block := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	ts = NewTokenSource(nil, srv.URL, "app", secret, "https://b.example")
	go ts.Token(ctx)
	wait.For(t, 10*time.Second, "the first fetch holding the semaphore", func() error {
		if len(ts.sem) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := ts.Token(cctx); err != context.Canceled {
		t.Fatalf("waiting Token with cancelled context: %v", err)
	}
}
