package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/server"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// scrape gets /metrics (with a bearer token unless empty) and returns the
// status code and body.
func scrape(t *testing.T, baseURL, token string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpFrom("127.0.0.1").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

// sample returns the value of one exposed series, written as /metrics
// writes it (labels sorted by name), and whether it is there.
func sample(body, series string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetrics (issue 12 item 5): after an admin API request, a request
// no route matches, a failed IMAP login, a message through the MX, a
// failed SMTP AUTH and a job queued for later, /metrics shows each under
// bounded labels — HTTP by method and route pattern (never the raw path),
// connections by listener, auth failures by protocol, queue depth by
// queue and state — with the build information; and every metric
// docs/grafana-dashboard.json queries is one the server exposes.
func TestMetrics(t *testing.T) {
	dbtest.ServerDialects(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		imapAddr, subAddr := scenario.FreeAddr(t), scenario.FreeAddr(t)
		s := scenario.StartWith(t, scenario.Options{DB: dsn, IMAP: imapAddr}, func(c *scenario.Config) { c.Submission = subAddr })
		s.Tenant("contoso")
		user := s.Mailbox("contoso", "user01", "right-password", false).PrimarySmtpAddress
		_, before, _ := scrape(t, s.PublicURL, "")
		scheduled0, ok := sample(before, `tenantferry_jobs{queue="delivery",state="scheduled"}`)
		if !ok {
			t.Fatalf("/metrics has no delivery queue depth:\n%s", before)
		}

		for path, want := range map[string]int{"/api/v1/tenants/contoso": 200, "/no/such/path": 404} {
			req, _ := http.NewRequest(http.MethodGet, s.PublicURL+path, nil)
			req.Header.Set("Authorization", "Bearer "+s.OperatorToken)
			resp, err := httpFrom("127.0.0.1").Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, want)
			}
		}

		// A failed IMAP login on a connection that stays open.
		c := dialFrom(t, "127.0.0.1", imapAddr)
		r := bufio.NewReader(c)
		r.ReadString('\n')
		if got := imapLogin(t, r, c, "a1", user, "wrong-password"); !strings.Contains(got, "NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("LOGIN: %s", got)
		}
		_, body, _ := scrape(t, s.PublicURL, "")
		if v, _ := sample(body, `tenantferry_imap_connections_open{listener="imap"}`); v != 1 {
			t.Errorf("an IMAP connection is open: tenantferry_imap_connections_open{listener=\"imap\"} %v", v)
		}
		c.Close()

		if err := scenario.Send(s.Addr("smtp"), "sender@example.org", []string{user}, scenario.Message("sender@example.org", user, "metrics", "hello")); err != nil {
			t.Fatal(err)
		}
		if code := smtpAuth(t, "127.0.0.1", subAddr, user, "wrong-password"); code != 535 {
			t.Fatalf("SMTP AUTH with a wrong password: %d, want 535", code)
		}
		if _, err := s.Jobs.Insert(ctx, delivery.DeliverArgs{Recipient: -1}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}

		want := map[string]float64{
			`tenantferry_http_requests_total{code="200",method="GET",route="/api/v1/tenants/{t}"}`:      1,
			`tenantferry_http_request_duration_seconds_count{method="GET",route="/api/v1/tenants/{t}"}`: 1,
			`tenantferry_http_requests_total{code="404",method="GET",route="other"}`:                    1,
			`tenantferry_auth_failures_total{protocol="imap"}`:                                          1,
			`tenantferry_auth_failures_total{protocol="submission"}`:                                    1,
			`tenantferry_imap_connections_total{listener="imap"}`:                                       1,
			`tenantferry_imap_connections_open{listener="imap"}`:                                        0,
			`tenantferry_smtp_connections_total{listener="mx"}`:                                         1,
			`tenantferry_smtp_connections_total{listener="submission"}`:                                 1,
			`tenantferry_smtp_connections_open{listener="mx"}`:                                          0,
			`tenantferry_smtp_connections_open{listener="submission"}`:                                  0,
			`tenantferry_delivery_results_total{result="delivered"}`:                                    1,
			`tenantferry_jobs{queue="delivery",state="scheduled"}`:                                      scheduled0 + 1,
			`tenantferry_jobs{queue="migration",state="running"}`:                                       0,
			`tenantferry_migration_moves{state="Queued"}`:                                               0,
		}
		scenario.Eventually(t, 20*time.Second, "the expected series", func() error {
			_, body, _ = scrape(t, s.PublicURL, "")
			var miss []string
			for series, v := range want {
				if got, ok := sample(body, series); !ok || got != v {
					miss = append(miss, fmt.Sprintf("%s %v (want %v)", series, got, v))
				}
			}
			if len(miss) > 0 {
				return errors.New(strings.Join(miss, "; "))
			}
			return nil
		})
		if !regexp.MustCompile(`(?m)^tenantferry_build_info\{goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[^"]+",version="[^"]+"\} 1$`).MatchString(body) {
			t.Errorf("/metrics lacks tenantferry_build_info with the Go version %s", runtime.Version())
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "tenantferry_http_") && (strings.Contains(line, "contoso") || strings.Contains(line, "GET /")) {
				t.Errorf("an HTTP series names a raw path or carries the method in its route: %s", line)
			}
		}
		if strings.Contains(body, "tenantferry_http_request_seconds") {
			t.Error("the old tenantferry_http_request_seconds is still exposed")
		}
		checkDashboard(t, body)
	})
}

// TestMetricsToken: with --metrics-token-file, GET /metrics without a
// token or with a wrong one is 401 with a Bearer challenge, and 200 with
// the file's token; an empty token file stops the server from starting.
func TestMetricsToken(t *testing.T) {
	file := scenario.WriteFile(t, "metrics.token", "s3cret-scrape-token\n")
	s := scenario.StartWith(t, scenario.Options{}, func(c *scenario.Config) { c.MetricsTokenFile = file })
	for _, tok := range []string{"", "wrong", s.OperatorToken} {
		code, _, h := scrape(t, s.PublicURL, tok)
		if code != http.StatusUnauthorized || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("token %q: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", tok, code, h.Get("WWW-Authenticate"))
		}
	}
	code, body, _ := scrape(t, s.PublicURL, "s3cret-scrape-token")
	if code != http.StatusOK || !strings.Contains(body, "tenantferry_build_info{") {
		t.Errorf("with the token: %d\n%.300s", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, s.PublicURL+"/metrics", nil)
	req.Header.Set("Authorization", "bearer s3cret-scrape-token") // the scheme is case-insensitive
	if resp, err := httpFrom("127.0.0.1").Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("with a lower-case scheme: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// The 401s are counted like any request, under the /metrics route.
	if v, _ := sample(body, `tenantferry_http_requests_total{code="401",method="GET",route="/metrics"}`); v != 3 {
		t.Errorf("401s of /metrics counted %v times, want 3", v)
	}

	cfg := config.Default()
	cfg.DataDir, cfg.HTTP, cfg.IMAP, cfg.SMTP, cfg.Submission = t.TempDir(), "127.0.0.1:0", "off", "off", "off"
	cfg.MetricsTokenFile = scenario.WriteFile(t, "empty.token", "\n")
	if srv, err := server.New(context.Background(), cfg, nil); !errors.Is(err, config.ErrInvalidSetting) {
		if srv != nil {
			srv.Shutdown(context.Background())
		}
		t.Errorf("an empty --metrics-token-file: %v, want InvalidSetting", err)
	}
	cfg.MetricsTokenFile = filepath.Join(cfg.DataDir, "missing.token")
	if srv, err := server.New(context.Background(), cfg, nil); !errors.Is(err, config.ErrInvalidSetting) {
		if srv != nil {
			srv.Shutdown(context.Background())
		}
		t.Errorf("a missing --metrics-token-file: %v, want InvalidSetting", err)
	}
}
