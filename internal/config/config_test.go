package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tenantferry/tenantferry/internal/errs"
)

func TestLoadPrecedence(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tf.conf")
	os.WriteFile(p, []byte("# comment\nhttp = 127.0.0.1:9000\nimap = off\ntransport = a.example=127.0.0.1:25\ntransport = \"b.example=127.0.0.1:26\"\nallow-plaintext = true\nmax-message-size = 1000\n"), 0o600)
	c := Default()
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TENANTFERRY_HTTP": "127.0.0.1:9001", "TENANTFERRY_PUBLIC_URL": "https://mail.example/", "TENANTFERRY_TRANSPORT": "c.example=127.0.0.1:27"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("http", "127.0.0.1:9002", "--http"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	tm, _ := c.TransportMap()
	if c.HTTP != "127.0.0.1:9002" || c.IMAP != "off" || !c.AllowPlain || c.MaxMessageSize != 1000 || c.PublicURL != "https://mail.example" ||
		len(tm) != 3 || tm["b.example"] != "127.0.0.1:26" {
		t.Fatalf("%+v %v", c, tm)
	}
	if got := c.PublicURLFor("0.0.0.0:9002"); got != "https://mail.example" {
		t.Fatalf("public URL %s", got)
	}
	d := Default()
	if got := d.PublicURLFor("[::]:8080"); got != "http://127.0.0.1:8080" {
		t.Fatalf("derived public URL %s", got)
	}
}

func TestInvalid(t *testing.T) {
	bad := []struct {
		key, val, code string
	}{
		{"http", "nope", "InvalidSetting"},
		{"http", "off", "InvalidSetting"},
		{"public-url", "ftp://x", "InvalidSetting"},
		{"db", "mysql://x", "InvalidSetting"},
		{"blob-backend", "s3", "InvalidSetting"},
		{"transport", "no-equals", "InvalidTransport"},
		{"transport", "a.example=nohostport", "InvalidTransport"},
		{"imaps", ":9993", "InvalidSetting"},
		{"tls-cert", "/x.pem", "InvalidSetting"},
	}
	for _, b := range bad {
		c := Default()
		if err := c.Set(b.key, b.val, "test"); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); errs.CodeOf(err) != b.code {
			t.Errorf("%s=%s: got %v, want %s", b.key, b.val, err, b.code)
		}
	}
	c := Default()
	if err := c.Set("nope", "1", "test"); errs.CodeOf(err) != "UnknownSetting" {
		t.Errorf("unknown key: %v", err)
	}
	if err := c.Set("allow-plaintext", "maybe", "test"); errs.CodeOf(err) != "InvalidSetting" {
		t.Errorf("bad bool: %v", err)
	}
	if err := c.Set("max-message-size", "-1", "test"); errs.CodeOf(err) != "InvalidSetting" {
		t.Errorf("negative size: %v", err)
	}
	p := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(p, []byte("http 127.0.0.1:1\n"), 0o600)
	if err := c.LoadFile(p); errs.CodeOf(err) != "InvalidConfig" {
		t.Errorf("bad line: %v", err)
	}
	if err := c.LoadFile(filepath.Join(t.TempDir(), "missing")); errs.CodeOf(err) != "ConfigNotFound" {
		t.Errorf("missing file: %v", err)
	}
}

// TestSecuritySettings: the endpoint policy lists repeat in the config file
// and split on commas in the environment; the import limit is a number.
func TestSecuritySettings(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tf.conf")
	os.WriteFile(p, []byte("endpoint-allow = 10.1.0.0/16\nendpoint-allow = src.internal.example\nendpoint-deny = 10.1.2.0/24\nmax-import-size = 1048576\n"), 0o600)
	c := Default()
	if c.MaxImportSize != 8<<30 || len(c.EndpointAllow) != 0 {
		t.Fatalf("defaults: %d %v", c.MaxImportSize, c.EndpointAllow)
	}
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TENANTFERRY_ENDPOINT_ALLOW": "192.0.2.0/24, other.example"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.MaxImportSize != 1<<20 || len(c.EndpointAllow) != 4 || c.EndpointAllow[3] != "other.example" || len(c.EndpointDeny) != 1 {
		t.Fatalf("%d %q %q", c.MaxImportSize, c.EndpointAllow, c.EndpointDeny)
	}
}
