package mailauth_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/db/dbtest"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// testMessage is a small message from addr.
func testMessage(from, to, subject string) []byte {
	return []byte("From: Alice <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject +
		"\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nHello,  this   body has   runs of spaces \t\r\nand trailing blanks   \r\n\r\n\r\n")
}

var selectorRe = regexp.MustCompile(`^tf\d{8}[er]\d*$`)

// TestDkimKeys covers key management: dated selectors for both algorithms,
// no second add, only accepted domains of the caller's tenant, rotation
// with a grace period, and that only active keys of the right tenant sign.
func TestDkimKeys(t *testing.T) {
	dbtest.Dialects(t, func(t *testing.T, d *db.DB) {
		e := newAuthEnv(t, d, "contoso.example")
		contoso := e.tenant(t, "contoso", "contoso.example")
		fabrikam := e.tenant(t, "fabrikam", "fabrikam.example")

		ks, err := e.svc.AddKeys(bg, contoso, "Contoso.Example.", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(ks) != 2 || ks[0].Algorithm != mailauth.Ed25519 || ks[1].Algorithm != mailauth.RSA {
			t.Fatalf("keys = %+v", ks)
		}
		for _, k := range ks {
			if !selectorRe.MatchString(k.Selector) || k.Domain != "contoso.example" || k.State(time.Now()) != mailauth.StateActive {
				t.Fatalf("key %+v", k)
			}
			if !strings.HasPrefix(k.RecordValue(), "v=DKIM1; k="+string(k.Algorithm)+"; p=") || k.RecordName() != k.Selector+"._domainkey.contoso.example" {
				t.Fatalf("record %s %s", k.RecordName(), k.RecordValue())
			}
		}
		if _, err := e.svc.AddKeys(bg, contoso, "contoso.example", nil); !errors.Is(err, mailauth.ErrKeyExists) {
			t.Fatalf("second add: %v", err)
		}
		// Another tenant's domain and an unknown one look the same.
		for _, dom := range []string{"fabrikam.example", "nowhere.example"} {
			if _, err := e.svc.AddKeys(bg, contoso, dom, nil); !errors.Is(err, mailauth.ErrDomainNotAccepted) {
				t.Fatalf("add for %s: %v", dom, err)
			}
			if _, err := e.svc.ListKeys(bg, contoso, dom); !errors.Is(err, mailauth.ErrDomainNotAccepted) {
				t.Fatalf("list for %s: %v", dom, err)
			}
		}
		if _, err := e.svc.RotateKeys(bg, fabrikam, "fabrikam.example", 0); !errors.Is(err, mailauth.ErrNoKey) {
			t.Fatalf("rotate without keys: %v", err)
		}
		if _, err := mailauth.ParseAlgorithms("dsa"); !errors.Is(err, mailauth.ErrBadAlgorithm) {
			t.Fatalf("bad algorithm: %v", err)
		}
		var n int
		d.Read().QueryRowContext(bg, `SELECT COUNT(*) FROM dkim_keys`).Scan(&n)
		if n != 2 {
			t.Fatalf("%d key rows after the refusals, want 2", n)
		}
		// The private halves are sealed: no PKCS#8 header in clear.
		var sealed []byte
		d.Read().QueryRowContext(bg, `SELECT private_sealed FROM dkim_keys WHERE algorithm = 'rsa'`).Scan(&sealed)
		if _, err := x509.ParsePKCS8PrivateKey(sealed); err == nil || len(sealed) < 1000 {
			t.Fatalf("private key stored in clear (%d bytes)", len(sealed))
		}

		msg := testMessage("alice@contoso.example", "bob@example.net", "keys test")
		sigs, err := e.svc.SignDKIM(bg, contoso, "contoso.example", bytes.NewReader(msg))
		if err != nil || bytes.Count(sigs, []byte("DKIM-Signature:")) != 2 {
			t.Fatalf("sign: %v\n%s", err, sigs)
		}
		// A tenant never signs with another tenant's keys.
		if other, err := e.svc.SignDKIM(bg, fabrikam, "contoso.example", bytes.NewReader(msg)); err != nil || other != nil {
			t.Fatalf("fabrikam signed for contoso.example: %q %v", other, err)
		}

		grace := 48 * time.Hour
		fresh, err := e.svc.RotateKeys(bg, contoso, "contoso.example", grace)
		if err != nil || len(fresh) != 2 {
			t.Fatalf("rotate: %v %+v", err, fresh)
		}
		all, err := e.svc.ListKeys(bg, contoso, "contoso.example")
		if err != nil || len(all) != 4 {
			t.Fatalf("list: %v %d keys", err, len(all))
		}
		states := map[string]string{}
		for _, k := range all {
			states[k.Selector] = k.State(time.Now())
			if k.State(time.Now()) == mailauth.StateRetiring {
				if got := k.RetiredAt.Sub(k.RetiringAt); got != grace {
					t.Fatalf("grace %s, want %s", got, grace)
				}
				if k.State(k.RetiredAt.Add(time.Second)) != mailauth.StateRetired {
					t.Fatal("not Retired after the grace period")
				}
			}
		}
		for _, k := range ks {
			if states[k.Selector] != mailauth.StateRetiring {
				t.Fatalf("old key %s is %s", k.Selector, states[k.Selector])
			}
		}
		for _, k := range fresh {
			if states[k.Selector] != mailauth.StateActive || k.Selector == ks[0].Selector || k.Selector == ks[1].Selector {
				t.Fatalf("new key %s is %s", k.Selector, states[k.Selector])
			}
		}
		sigs, err = e.svc.SignDKIM(bg, contoso, "contoso.example", bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if bytes.Contains(sigs, []byte("s="+k.Selector+";")) {
				t.Fatalf("retiring key %s still signs", k.Selector)
			}
		}
		for _, k := range fresh {
			if !bytes.Contains(sigs, []byte("s="+k.Selector+";")) {
				t.Fatalf("new key %s does not sign:\n%s", k.Selector, sigs)
			}
		}
	})
}
