package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSystemdUnit checks packaging/tenantferry.service with systemd's own
// analyzer: `systemd-analyze verify` reports nothing (an unknown or
// misspelt directive is only a warning there, so any output fails the
// test), and `systemd-analyze security --offline` rates its exposure OK
// (below 2.0 of 10). The binary path is replaced by one that exists here.
func TestSystemdUnit(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not checked")
	}
	unit, err := os.ReadFile("tenantferry.service")
	if err != nil {
		t.Fatal(err)
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/local/bin/tenantferry serve ")) {
		t.Fatal("the unit does not start /usr/local/bin/tenantferry serve")
	}
	path := filepath.Join(t.TempDir(), "tenantferry.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/tenantferry"), []byte(truePath)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	if level, _ := strconv.ParseFloat(string(m[1]), 64); level >= 2.0 {
		t.Fatalf("exposure level %.1f, want below 2.0:\n%s", level, out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}

// TestDockerBuild builds the image from the repository's Dockerfile when
// a Docker daemon answers, and runs its `version` command.
func TestDockerBuild(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker is not installed: the image is not built")
	}
	if out, err := exec.Command(docker, "info").CombinedOutput(); err != nil || !strings.Contains(string(out), "Server Version") {
		t.Skip("no Docker daemon answers here: the image is not built")
	}
	if testing.Short() {
		t.Skip("building the image")
	}
	const tag = "tenantferry-packaging-test"
	if out, err := exec.Command(docker, "build", "-t", tag, "..").CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", tag).Run() })
	out, err := exec.Command(docker, "run", "--rm", tag, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tenantferry") {
		t.Fatalf("docker run version: %v\n%s", err, out)
	}
}
