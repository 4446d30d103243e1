package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/delivery"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx/dnstest"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	File string // its certificate, PEM
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenantferry test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	f := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	return &testCA{cert: cert, key: key, File: f}
}

// issue writes a certificate for names signed by the CA and returns the
// files and the certificate.
func (ca *testCA) issue(t *testing.T, names ...string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile, cert
}

// TestOutboundTLSPolicy (issue 10 item 4): a sender resolving through a
// test DNS server delivers to a receiving server on 127.0.0.7 (ports 25
// and 443) under each policy, and records which TLS protected each
// delivery:
//   - MTA-STS enforce (policy fetched over verified HTTPS from the
//     receiver's mta-sts. name): verified TLS, "MTA-STS";
//   - an MX the enforced policy does not name: not tried, 451 4.7.5;
//   - DANE (TLSA 3 1 1 in a DNSSEC-authenticated zone): "DANE";
//   - a TLSA record that does not match: 451 4.7.5, no plain-text fallback;
//   - the same wrong TLSA in a zone that is not authenticated: ignored,
//     opportunistic TLS ("unverified");
//   - no policy: opportunistic STARTTLS.
func TestOutboundTLSPolicy(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t)
	certFile, keyFile, cert := ca.issue(t, "mx.target.example", "mta-sts.sts.example", "mta-sts.badsts.example")
	dns := dnstest.Start(t, "target.example", "sts.example", "badsts.example", "plain.example", "insecure.example")
	dns.AddZone("dane.example", true)
	dns.AddZone("danebad.example", true)
	spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	dns.Add(t,
		"mx.target.example. A 127.0.0.7", "other.target.example. A 127.0.0.7",
		"sts.example. MX 10 mx.target.example.", `_mta-sts.sts.example. TXT "v=STSv1; id=20261204"`, "mta-sts.sts.example. A 127.0.0.7",
		"badsts.example. MX 10 other.target.example.", `_mta-sts.badsts.example. TXT "v=STSv1; id=1"`, "mta-sts.badsts.example. A 127.0.0.7",
		"dane.example. MX 10 mx.dane.example.", "mx.dane.example. A 127.0.0.7", "_25._tcp.mx.dane.example. TLSA 3 1 1 "+hex.EncodeToString(spki[:]),
		"danebad.example. MX 10 mx.danebad.example.", "mx.danebad.example. A 127.0.0.7", "_25._tcp.mx.danebad.example. TLSA 3 1 1 "+strings.Repeat("ab", 32),
		"insecure.example. MX 10 mx.insecure.example.", "mx.insecure.example. A 127.0.0.7", "_25._tcp.mx.insecure.example. TLSA 3 1 1 "+strings.Repeat("ab", 32),
		"plain.example. MX 10 mx.target.example.",
	)
	recv := scenario.StartWith(t, scenario.Options{HTTP: "127.0.0.7:443", SMTP: "127.0.0.7:25"}, func(c *scenario.Config) {
		c.TLSCert, c.TLSKey, c.Hostname = certFile, keyFile, "mx.target.example"
	})
	recv.Tenant("target")
	domains := []string{"sts.example", "badsts.example", "dane.example", "danebad.example", "insecure.example", "plain.example"}
	for _, d := range domains {
		if _, err := recv.Admin.AddDomain(ctx, recv.Op, "target", d, true); err != nil {
			t.Fatal(err)
		}
	}
	bob := recv.Mailbox("target", "bob", "pw", false)
	for _, d := range domains {
		if _, err := recv.Admin.UpdateRecipient(ctx, recv.Op, "target", "bob", directoryAdd("smtp:bob@"+d)); err != nil {
			t.Fatal(err)
		}
	}
	send := scenario.StartWith(t, scenario.Options{SMTP: "off", DNSResolver: dns.Addr}, func(c *scenario.Config) {
		c.OutboundCAFile = ca.File
		c.InboundAuth = false
	})
	send.Delivery.RetryBase = time.Hour // one attempt each: a temporary failure stays visible

	enqueue := func(to, marker string) string {
		msg := scenario.Message("alice@sender.example", to, marker, marker)
		q, err := send.Delivery.Enqueue(ctx, delivery.Envelope{From: "alice@sender.example", To: []string{to}, Source: "api", Relay: true}, bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		return q.ID
	}
	status := func(id string, done func(delivery.RecipientStatus) bool) delivery.RecipientStatus {
		var st delivery.RecipientStatus
		scenario.Eventually(t, 30*time.Second, "delivery of "+id, func() error {
			sts, err := send.Delivery.Status(ctx, id)
			if err != nil || len(sts) != 1 {
				return fmt.Errorf("%v %v", sts, err)
			}
			if st = sts[0]; !done(st) {
				return fmt.Errorf("%+v", st)
			}
			return nil
		})
		return st
	}
	relayed := func(st delivery.RecipientStatus) bool { return st.State == "relayed" }
	failed := func(st delivery.RecipientStatus) bool { return st.Attempts > 0 }

	for _, c := range []struct {
		domain, want string
		ok           bool
	}{
		{"sts.example", "TLS 1.3 MTA-STS", true},
		{"dane.example", "TLS 1.3 DANE", true},
		{"insecure.example", "TLS 1.3 unverified", true},
		{"plain.example", "TLS 1.3 unverified", true},
		{"badsts.example", "4.7.5", false},
		{"danebad.example", "4.7.5", false},
	} {
		marker := "tls-policy-" + c.domain
		id := enqueue("bob@"+c.domain, marker)
		if c.ok {
			st := status(id, relayed)
			if !strings.HasSuffix(st.Result, c.want) {
				t.Errorf("%s: relayed with %q, want %q", c.domain, st.Result, c.want)
			}
			scenario.Eventually(t, 20*time.Second, "bob receives "+marker, func() error {
				if !holds(t, recv, "target", bob.ExchangeGuid, marker) {
					return fmt.Errorf("not yet")
				}
				return nil
			})
			continue
		}
		st := status(id, failed)
		if st.State != "queued" || !strings.Contains(st.LastError, c.want) {
			t.Errorf("%s: %+v, want a temporary %s failure", c.domain, st, c.want)
		}
		if holds(t, recv, "target", bob.ExchangeGuid, marker) {
			t.Errorf("%s: delivered although its TLS policy could not be met", c.domain)
		}
	}
}

// directoryAdd is an update adding one proxy address.
func directoryAdd(addr string) directory.RecipientUpdate {
	return directory.RecipientUpdate{AddAddresses: []string{addr}}
}
