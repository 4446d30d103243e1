package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/mailauth"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// dnsRecord is the part of an API record this test reads.
type dnsRecord struct {
	Purpose, Name, Type, Value, Zone, Status, Hint string
	Found                                          []string
}

// getJSON GETs an API path with the operator token into v.
func getJSON(t *testing.T, s *scenario.Server, path string, v any) {
	t.Helper()
	st, code, body := apiCall(t, s, s.OperatorToken, http.MethodGet, path, nil)
	if st != 200 {
		t.Fatalf("GET %s: %d %s %s", path, st, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatal(err)
	}
}

// fetch sends a request with a Host header and returns status and body.
func fetch(t *testing.T, s *scenario.Server, method, host, path string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, s.PublicURL+path, bytes.NewReader(body))
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestDomainDNSAndClientSetup (issue 10 item 6): `domain dns` lists the
// records an admin publishes (MX, SPF, both DKIM keys, DMARC, MTA-STS,
// TLS-RPT, autoconfig/autodiscover CNAMEs and SRV records with the
// listeners' ports); `domain check`, against an authoritative DNS server
// on loopback, reports each as Missing with the record to publish, a
// wrong SPF and a doubled DMARC as Wrong, and all OK once the printed
// zone lines are published. The server then serves the MTA-STS policy
// whose id the TXT record carries, Thunderbird autoconfig and Outlook
// autodiscover with the IMAP and submission settings, and 404 for a
// domain no tenant holds verified.
func TestDomainDNSAndClientSetup(t *testing.T) {
	ctx := context.Background()
	dns := dnstest.Start(t, "contoso.example")
	imapAddr, subAddr := scenario.FreeAddr(t), scenario.FreeAddr(t)
	s := scenario.StartWith(t, scenario.Options{DNSResolver: dns.Addr, IMAP: imapAddr}, func(c *scenario.Config) {
		c.Submission, c.Hostname = subAddr, "mx.tenantferry.example"
	})
	s.Tenant("contoso")
	if _, err := s.Admin.AddDomain(ctx, s.Op, "contoso", "contoso.example", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.AddDkimKeys(ctx, s.Op, "contoso", "contoso.example", "both"); err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/tenants/contoso/domains/contoso.example"
	var recs []dnsRecord
	getJSON(t, s, base+"/dns", &recs)
	imapPort, subPort := imapAddr[strings.LastIndexByte(imapAddr, ':')+1:], subAddr[strings.LastIndexByte(subAddr, ':')+1:]
	want := map[string]string{
		"MX contoso.example":                     "10 mx.tenantferry.example.",
		"TXT contoso.example":                    "v=spf1 mx ~all",
		"TXT _dmarc.contoso.example":             "v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:postmaster@contoso.example",
		"CNAME mta-sts.contoso.example":          "mx.tenantferry.example.",
		"TXT _smtp._tls.contoso.example":         "v=TLSRPTv1; rua=mailto:postmaster@contoso.example",
		"CNAME autoconfig.contoso.example":       "mx.tenantferry.example.",
		"CNAME autodiscover.contoso.example":     "mx.tenantferry.example.",
		"SRV _imap._tcp.contoso.example":         "0 1 " + imapPort + " mx.tenantferry.example.",
		"SRV _submission._tcp.contoso.example":   "0 1 " + subPort + " mx.tenantferry.example.",
		"SRV _autodiscover._tcp.contoso.example": "0 1 443 mx.tenantferry.example.",
	}
	got := map[string]string{}
	dkim := 0
	var stsID string
	for _, r := range recs {
		got[r.Type+" "+r.Name] = r.Value
		if r.Purpose == "DKIM" {
			dkim++
		}
		if r.Type == "TXT" && r.Name == "_mta-sts.contoso.example" {
			stsID = strings.TrimPrefix(r.Value, "v=STSv1; id=")
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("domain dns: %s = %q, want %q", k, got[k], v)
		}
	}
	if dkim != 2 || stsID == "" {
		t.Fatalf("domain dns: %d DKIM records, MTA-STS id %q:\n%+v", dkim, stsID, recs)
	}

	check := func() map[string]dnsRecord {
		var cks []dnsRecord
		getJSON(t, s, base+"/check", &cks)
		out := map[string]dnsRecord{}
		for _, c := range cks {
			out[c.Type+" "+c.Name] = c
		}
		if len(cks) != len(recs) {
			t.Fatalf("check has %d results for %d records", len(cks), len(recs))
		}
		return out
	}
	for k, c := range check() {
		if c.Status != "Missing" || !strings.HasPrefix(c.Hint, "publish "+c.Name+". 3600 IN "+c.Type) {
			t.Errorf("empty zone: %s is %s (%s), want Missing with the record to publish", k, c.Status, c.Hint)
		}
	}
	// A wrong SPF record and two DMARC records.
	dns.Add(t, `contoso.example. TXT "v=spf1 -all"`, `_dmarc.contoso.example. TXT "v=DMARC1; p=none"`, `_dmarc.contoso.example. TXT "v=DMARC1; p=reject"`,
		`contoso.example. MX 10 mx.elsewhere.example.`)
	cks := check()
	for _, k := range []string{"TXT contoso.example", "TXT _dmarc.contoso.example", "MX contoso.example"} {
		if cks[k].Status != "Wrong" || cks[k].Hint == "" {
			t.Errorf("%s: %s %q, want Wrong with a hint", k, cks[k].Status, cks[k].Hint)
		}
	}
	// Publish exactly what `domain dns` printed: everything is OK.
	dns.Remove("contoso.example.", 16)
	dns.Remove("_dmarc.contoso.example.", 16)
	dns.Remove("contoso.example.", 15)
	for _, r := range recs {
		dns.Add(t, r.Zone)
	}
	for k, c := range check() {
		if c.Status != "OK" {
			t.Errorf("after publishing: %s is %s: %s (found %q)", k, c.Status, c.Hint, c.Found)
		}
	}

	// MTA-STS policy, matching the published id.
	st, policy := fetch(t, s, http.MethodGet, "mta-sts.contoso.example", "/.well-known/mta-sts.txt", nil)
	if st != 200 || !strings.Contains(string(policy), "mx: mx.tenantferry.example\r\n") || !strings.HasPrefix(string(policy), "version: STSv1\r\n") {
		t.Fatalf("mta-sts.txt: %d %q", st, policy)
	}
	if mailauth.MTASTSID(string(policy)) != stsID {
		t.Errorf("the served policy's id %s differs from the published %s", mailauth.MTASTSID(string(policy)), stsID)
	}
	for _, host := range []string{"mta-sts.unknown.example", "mx.tenantferry.example"} {
		if st, _ := fetch(t, s, http.MethodGet, host, "/.well-known/mta-sts.txt", nil); st != 404 {
			t.Errorf("mta-sts.txt for %s: %d, want 404", host, st)
		}
	}

	// Thunderbird autoconfig, by address and by host name.
	type srv struct {
		Type       string `xml:"type,attr"`
		Hostname   string `xml:"hostname"`
		Port       string `xml:"port"`
		SocketType string `xml:"socketType"`
		Username   string `xml:"username"`
	}
	type clientConfig struct {
		Provider struct {
			Domain   string `xml:"domain"`
			Incoming []srv  `xml:"incomingServer"`
			Outgoing []srv  `xml:"outgoingServer"`
		} `xml:"emailProvider"`
	}
	for _, q := range []struct{ host, path string }{
		{"", "/mail/config-v1.1.xml?emailaddress=user01%40contoso.example"},
		{"autoconfig.contoso.example", "/mail/config-v1.1.xml"},
		{"", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=user01@contoso.example"},
	} {
		var cc clientConfig
		st, body := fetch(t, s, http.MethodGet, q.host, q.path, nil)
		if st != 200 || xml.Unmarshal(body, &cc) != nil {
			t.Fatalf("autoconfig %s%s: %d %s", q.host, q.path, st, body)
		}
		in, out := cc.Provider.Incoming, cc.Provider.Outgoing
		if cc.Provider.Domain != "contoso.example" || len(in) != 1 || in[0].Hostname != "mx.tenantferry.example" || in[0].Port != imapPort ||
			in[0].Username != "%EMAILADDRESS%" || len(out) != 1 || out[0].Port != subPort {
			t.Fatalf("autoconfig: %+v", cc)
		}
	}
	if st, _ := fetch(t, s, http.MethodGet, "", "/mail/config-v1.1.xml?emailaddress=a@unknown.example", nil); st != 404 {
		t.Errorf("autoconfig for an unknown domain: %d", st)
	}

	// Outlook autodiscover.
	req := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request>` +
		`<EMailAddress>user01@contoso.example</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	st, body := fetch(t, s, http.MethodPost, "autodiscover.contoso.example", "/Autodiscover/Autodiscover.xml", []byte(req))
	var ad struct {
		Response struct {
			Account struct {
				Protocol []struct{ Type, Server, Port, LoginName string }
			}
		}
	}
	if st != 200 || xml.Unmarshal(body, &ad) != nil || len(ad.Response.Account.Protocol) != 2 {
		t.Fatalf("autodiscover: %d %s", st, body)
	}
	for _, p := range ad.Response.Account.Protocol {
		wantPort := map[string]string{"IMAP": imapPort, "SMTP": subPort}[p.Type]
		if p.Server != "mx.tenantferry.example" || p.Port != wantPort || p.LoginName != "user01@contoso.example" {
			t.Errorf("autodiscover %s: %+v", p.Type, p)
		}
	}
	if st, _ := fetch(t, s, http.MethodPost, "", "/autodiscover/autodiscover.xml", []byte(strings.Replace(req, "contoso.example", "unknown.example", 1))); st != 404 {
		t.Errorf("autodiscover for an unknown domain: %d", st)
	}
}
