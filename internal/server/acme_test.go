package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// pebble is a Pebble ACME CA (Debian's pebble) started for a test.
type pebble struct {
	Directory string // https://127.0.0.1:P/dir
	CAFile    string // trusts Pebble's own HTTPS listener
	mgmt      string
}

// startPebble starts Pebble on loopback: it validates tls-alpn-01 on
// tlsPort of the addresses the DNS server dnsAddr gives, without sleeps
// or rejected nonces. It skips the test when Pebble is not installed.
func startPebble(t *testing.T, dnsAddr string, tlsPort string) *pebble {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err != nil {
		t.Skip("pebble is not installed (Debian package pebble; .ci/run installs it)")
	}
	dir := t.TempDir()
	cert, key := selfSigned(t) // Pebble's HTTPS certificate, for 127.0.0.1
	listen, mgmt, httpPort := scenario.FreeAddr(t), scenario.FreeAddr(t), scenario.FreeAddr(t)
	cfg := map[string]any{"pebble": map[string]any{"listenAddress": listen, "managementListenAddress": mgmt, "certificate": cert,
		"privateKey": key, "httpPort": mustPort(httpPort), "tlsPort": mustPort("127.0.0.1:" + tlsPort), "ocspResponderURL": "",
		"externalAccountBindingRequired": false}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	os.WriteFile(cfgFile, b, 0o600)
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", dnsAddr)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	logf, _ := os.Create(filepath.Join(dir, "pebble.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("pebble log:\n%s", b)
		}
	})
	scenario.Eventually(t, 20*time.Second, "pebble listening", func() error {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err
	})
	return &pebble{Directory: "https://" + listen + "/dir", CAFile: cert, mgmt: mgmt}
}

func mustPort(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// roots returns a pool with Pebble's issuing root (from its management
// interface).
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	ca, _ := os.ReadFile(p.CAFile)
	trust := x509.NewCertPool()
	trust.AppendCertsFromPEM(ca)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: trust}}}
	resp, err := c.Get("https://" + p.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble root: %s", b)
	}
	return pool
}

// TestACMEWithPebble (issue 10 item 5): a server started with
// --acme-email/--acme-directory gets a certificate for its hostname from
// Pebble (tls-alpn-01, answered on its HTTPS listener) and serves it on
// HTTPS, IMAPS, IMAP STARTTLS and submission STARTTLS, verified by a
// client trusting only Pebble's root; a domain a tenant accepts gets
// mail., autoconfig. and mta-sts. certificates; and a certificate is
// renewed (a new serial on the same listeners) without a restart.
func TestACMEWithPebble(t *testing.T) {
	ctx := context.Background()
	dns := dnstest.Start(t, "tenantferry.example", "contoso.example")
	dns.Add(t, "mx.tenantferry.example. A 127.0.0.1", "mail.contoso.example. A 127.0.0.1", "autoconfig.contoso.example. A 127.0.0.1",
		"mta-sts.contoso.example. A 127.0.0.1")
	httpAddr, imapAddr, imapsAddr, subAddr := scenario.FreeAddr(t), scenario.FreeAddr(t), scenario.FreeAddr(t), scenario.FreeAddr(t)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	pb := startPebble(t, dns.Addr, httpPort)
	s := scenario.StartWith(t, scenario.Options{HTTP: httpAddr, IMAP: imapAddr, DNSResolver: dns.Addr}, func(c *scenario.Config) {
		c.IMAPS, c.Submission, c.Hostname = imapsAddr, subAddr, "mx.tenantferry.example"
		c.ACMEEmail, c.ACMEDirectory, c.ACMECAFile = "postmaster@tenantferry.example", pb.Directory, pb.CAFile
		c.ACMERenewBefore, c.ACMECheckInterval = 100000*time.Hour, 2*time.Second // longer than Pebble's 5 years: every check renews
	})
	roots := pb.roots(t)
	verified := func(name string) *tls.Config { return &tls.Config{RootCAs: roots, ServerName: name} }

	// serial returns the serial of the certificate a listener serves for
	// name, verified against Pebble's root.
	serial := func(addr, name string) (*big.Int, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, verified(name))
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}
	var first *big.Int
	scenario.Eventually(t, 60*time.Second, "a Pebble certificate on HTTPS", func() (err error) {
		first, err = serial(httpAddr, "mx.tenantferry.example")
		return err
	})
	if _, err := serial(imapsAddr, "mx.tenantferry.example"); err != nil {
		t.Fatalf("IMAPS: %v", err)
	}
	// IMAP STARTTLS.
	c, err := net.Dial("tcp", imapAddr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	r.ReadString('\n')
	fmt.Fprintf(c, "a STARTTLS\r\n")
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "a OK") {
		t.Fatalf("STARTTLS: %q", line)
	}
	if err := tls.Client(c, verified("mx.tenantferry.example")).Handshake(); err != nil {
		t.Fatalf("IMAP STARTTLS handshake: %v", err)
	}
	c.Close()
	// Submission STARTTLS.
	sc, err := smtp.DialStartTLS(subAddr, verified("mx.tenantferry.example"))
	if err != nil {
		t.Fatalf("submission STARTTLS: %v", err)
	}
	sc.Close()

	// An accepted domain's names get certificates at the next check.
	s.Tenant("contoso")
	if _, err := s.Admin.AddDomain(ctx, s.Op, "contoso", "contoso.example", true); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mail.contoso.example", "autoconfig.contoso.example", "mta-sts.contoso.example"} {
		scenario.Eventually(t, 60*time.Second, "a certificate for "+name, func() error {
			_, err := serial(httpAddr, name)
			return err
		})
	}
	if _, err := serial(imapsAddr, "mail.contoso.example"); err != nil {
		t.Fatalf("IMAPS for mail.contoso.example: %v", err)
	}

	// Renewal: the same listener soon serves a new certificate.
	scenario.Eventually(t, 60*time.Second, "a renewed certificate", func() error {
		now, err := serial(httpAddr, "mx.tenantferry.example")
		if err == nil && now.Cmp(first) == 0 {
			err = fmt.Errorf("still serial %x", first)
		}
		return err
	})
	if _, err := os.Stat(filepath.Join(s.Cfg.DataDir, "acme", "mx.tenantferry.example.pem")); err != nil {
		t.Errorf("the certificate is not kept in the data directory: %v", err)
	}
}

// TestTLSFileReload (issue 10 item 5): certificate files replaced on disk
// are served from the next connection on, without a restart, and SIGHUP
// reloads them at once; a broken file keeps the previous certificate in
// use and is logged.
func TestTLSFileReload(t *testing.T) {
	var logs scenario.LogBuffer
	cert, key := selfSigned(t)
	s := scenario.StartWith(t, scenario.Options{SMTP: "off", Log: &logs}, func(c *scenario.Config) { c.TLSCert, c.TLSKey = cert, key })
	served := func() string {
		c, err := tls.Dial("tcp", s.HTTPAddr(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return fmt.Sprintf("%x", c.ConnectionState().PeerCertificates[0].Signature)
	}
	before := served()
	cert2, key2 := selfSigned(t)
	for src, dst := range map[string]string{cert2: cert, key2: key} {
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var after string
	scenario.Eventually(t, 10*time.Second, "the replaced certificate served", func() error {
		if after = served(); after == before {
			return fmt.Errorf("still the old certificate")
		}
		return nil
	})
	// SIGHUP reloads at once: no handshake happens until the reload is
	// logged, so the change check at handshakes cannot be what did it.
	cert3, key3 := selfSigned(t)
	for src, dst := range map[string]string{cert3: cert, key3: key} {
		b, _ := os.ReadFile(src)
		os.WriteFile(dst, b, 0o600)
	}
	reloads := strings.Count(logs.String(), "TLS certificate reloaded")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	scenario.Eventually(t, 10*time.Second, "the SIGHUP reload logged", func() error {
		if strings.Count(logs.String(), "TLS certificate reloaded") == reloads {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if now := served(); now == after {
		t.Fatal("SIGHUP did not replace the certificate")
	}
	after = served()
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	scenario.Eventually(t, 10*time.Second, "the failed reload logged", func() error {
		served()
		if !strings.Contains(logs.String(), "TLS certificate reload failed") {
			return fmt.Errorf("not logged yet")
		}
		return nil
	})
	if now := served(); now != after {
		t.Fatal("a broken file replaced the certificate in use")
	}
}
