package migration_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/netguard"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// internalService is an HTTP service on loopback that records every
// request (and whether it carried a bearer token) and answers by mode.
type internalService struct {
	*httptest.Server
	hits, tokens atomic.Int64
}

func newInternalService(t *testing.T, redirectTo string) *internalService {
	s := &internalService{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			s.tokens.Add(1)
		}
		switch {
		case strings.Contains(r.URL.Path, "/json403."):
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"Code":"SourceNotAuthorized","Message":"SECRET-message db password hunter2","Hint":"SECRET-hint","Object":"SECRET-object"}`))
		case strings.Contains(r.URL.Path, "/json200."):
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"SECRET-key": "SECRET-value"`))
		case strings.Contains(r.URL.Path, "/redirect."):
			http.Redirect(w, r, redirectTo, http.StatusFound)
		default:
			w.WriteHeader(http.StatusTeapot)
			w.Write([]byte("SECRET-body: instance metadata"))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// notIMAP listens on loopback and answers every connection with an SSH
// banner (an open port that is not IMAP), counting connections.
func notIMAP(t *testing.T) (string, *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Write([]byte("SSH-2.0-OpenSSH_9.2 SECRET-banner\r\n"))
			c.Close()
		}
	}()
	return ln.Addr().String(), &n
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// TestEndpointSSRF (issue 7, hole 4): a tenant admin points endpoints at
// the server's own network. By default (no --endpoint-allow) nothing on
// loopback or private ranges is contacted — not by an IP literal (refused
// when the endpoint is created), not by a name that resolves there (DNS
// rebinding: refused when connecting) — so no token goes there and the
// IMAP test cannot tell open ports from closed ones. When the operator
// allows the hosts, replies are never echoed, redirects are not followed
// (the token goes to the endpoint's URL only), and open and closed IMAP
// ports still get the same answer.
func TestEndpointSSRF(t *testing.T) {
	ctx := context.Background()
	sink := newInternalService(t, "")
	internal := newInternalService(t, sink.URL+"/steal")
	openAddr, openConns := notIMAP(t)
	closedAddr := closedPort(t)
	dns := dnstest.Start(t, "corp.test")
	dns.Add(t, "api.corp.test. 60 IN A 127.0.0.1", "imap-open.corp.test. 60 IN A 127.0.0.1", "imap-closed.corp.test. 60 IN A 127.0.0.1",
		"meta.corp.test. 60 IN A 169.254.169.254")

	start := func(allow ...string) (*scenario.Server, string, string) {
		s := scenario.StartWith(t, scenario.Options{SMTP: "off"}, func(c *scenario.Config) {
			c.EndpointAllow, c.DNSResolver = allow, dns.Addr
		})
		s.Tenant(tgtName)
		app, err := s.Admin.CreateApp(ctx, s.Op, tgtName, "Mailbox migration", []string{directory.PermissionMailboxMigration})
		if err != nil {
			t.Fatal(err)
		}
		sec, err := s.Admin.AddAppSecret(ctx, s.Op, tgtName, app.AppID, 0)
		if err != nil {
			t.Fatal(err)
		}
		return s, app.AppID, sec.SecretText
	}
	endpointTest := func(s *scenario.Server, name string) *migration.TestResult {
		t.Helper()
		res, err := s.Admin.TestEndpoint(ctx, s.Op, tgtName, name, "", "")
		if err != nil {
			t.Fatalf("endpoint test %s: %v", name, err)
		}
		if res.Result != "Failed" {
			t.Fatalf("endpoint test %s: %s", name, res.Result)
		}
		return res
	}
	native := func(s *scenario.Server, appID, secret, name, server, tenant string) error {
		_, err := s.Admin.CreateEndpoint(ctx, s.Op, tgtName, directory.EndpointSpec{Name: name, RemoteServer: server,
			RemoteTenant: tenant, ApplicationId: appID, Secret: secret})
		return err
	}
	imapEP := func(s *scenario.Server, name, server string) {
		t.Helper()
		if _, err := s.Admin.CreateEndpoint(ctx, s.Op, tgtName, directory.EndpointSpec{Name: name, Type: directory.EndpointIMAP,
			RemoteServer: server, Security: "None"}); err != nil {
			t.Fatal(err)
		}
	}

	// The default policy.
	s, appID, secret := start()
	for _, u := range []string{internal.URL, "http://169.254.169.254/latest/meta-data", "http://[::1]:" + port(internal.Listener.Addr().String())} {
		if err := native(s, appID, secret, "lit", u, "contoso.example"); !errors.Is(err, netguard.ErrTargetForbidden) {
			t.Fatalf("endpoint create at %s: %v, want EndpointTargetForbidden", u, err)
		}
	}
	for i, host := range []string{"api.corp.test", "meta.corp.test"} {
		name := fmt.Sprintf("named%d", i)
		if err := native(s, appID, secret, name, "http://"+host+":"+port(internal.Listener.Addr().String()), "contoso.example"); err != nil {
			t.Fatalf("endpoint create by name %s: %v", host, err)
		}
		res := endpointTest(s, name)
		if c := res.Checks[0]; c.Name != "EndpointCredentials" || c.Code != "EndpointTargetForbidden" {
			t.Fatalf("endpoint test via %s: %+v", host, res.Checks)
		}
	}
	imapEP(s, "imap-open", "imap://imap-open.corp.test:"+port(openAddr))
	imapEP(s, "imap-closed", "imap://imap-closed.corp.test:"+port(closedAddr))
	open, closed := endpointTest(s, "imap-open"), endpointTest(s, "imap-closed")
	if open.Checks[0].Code != "EndpointTargetForbidden" || closed.Checks[0].Code != "EndpointTargetForbidden" {
		t.Fatalf("IMAP endpoints at loopback: open %+v, closed %+v", open.Checks, closed.Checks)
	}
	if internal.hits.Load() != 0 || openConns.Load() != 0 {
		t.Fatalf("the default policy let %d HTTP requests and %d IMAP connections through", internal.hits.Load(), openConns.Load())
	}

	// The operator allows these hosts.
	s, appID, secret = start("api.corp.test", "imap-open.corp.test", "imap-closed.corp.test")
	base := "http://api.corp.test:" + port(internal.Listener.Addr().String())
	for _, tenant := range []string{"json403.example", "json200.example", "teapot.example", "redirect.example"} {
		if err := native(s, appID, secret, tenant[:len(tenant)-8], base, tenant); err != nil {
			t.Fatal(err)
		}
		res := endpointTest(s, tenant[:len(tenant)-8])
		all := res.Message
		for _, c := range res.Checks {
			all += " " + c.Message
		}
		if strings.Contains(all, "SECRET") || strings.Contains(all, "hunter2") {
			t.Errorf("endpoint test against %s echoes the reply: %s", tenant, all)
		}
	}
	if internal.hits.Load() == 0 || internal.tokens.Load() == 0 {
		t.Fatalf("the allowed host was not contacted (%d requests)", internal.hits.Load())
	}
	if sink.hits.Load() != 0 {
		t.Fatalf("a redirect was followed: %d requests (%d with the token) reached its target", sink.hits.Load(), sink.tokens.Load())
	}
	imapEP(s, "imap-open", "imap://imap-open.corp.test:"+port(openAddr))
	imapEP(s, "imap-closed", "imap://imap-closed.corp.test:"+port(closedAddr))
	open, closed = endpointTest(s, "imap-open"), endpointTest(s, "imap-closed")
	om := strings.ReplaceAll(open.Checks[0].Message, "imap-open.corp.test:"+port(openAddr), "X")
	cm := strings.ReplaceAll(closed.Checks[0].Message, "imap-closed.corp.test:"+port(closedAddr), "X")
	if openConns.Load() == 0 || open.Checks[0].Code != closed.Checks[0].Code || om != cm || strings.Contains(om, "SECRET") {
		t.Fatalf("an open port that is not IMAP and a closed port answer differently (a port scan oracle):\nopen   %s %s\nclosed %s %s",
			open.Checks[0].Code, open.Checks[0].Message, closed.Checks[0].Code, closed.Checks[0].Message)
	}
}
