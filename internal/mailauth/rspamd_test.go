package mailauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rspamd is a private rspamd (Debian rspamd) on a loopback port, its DNS
// pointed at the test's DNS server: an independent verifier of DKIM, SPF,
// DMARC and ARC.
type rspamd struct {
	url string
	log string
}

// rspamdConf is the whole configuration: the packaged modules and
// defaults, one normal worker on our port, our DNS server, no local
// networks (127.0.0.0/8 would otherwise be trusted and skipped).
const rspamdConf = `.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    local_addrs = [];
    dns {
        nameserver = ["%s"];
        timeout = 2s;
        retransmits = 2;
    }
    .include(priority=0) "$CONFDIR/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}
worker "normal" {
    bind_socket = "%s";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
}
`

// startRspamd starts rspamd (it compiles its TLD list first: ~30 s) and
// stops it when the test ends; it skips the test when rspamd is missing.
func startRspamd(t *testing.T, dnsAddr string) *rspamd {
	t.Helper()
	bin, err := exec.LookPath("rspamd")
	if err != nil {
		t.Skip("rspamd is needed (Debian rspamd): " + err.Error())
	}
	dir := t.TempDir()
	for _, sub := range []string{"run", "db", "log"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// The tests send from loopback addresses, which rspamd would take for
	// local mail and not check.
	os.MkdirAll(filepath.Join(dir, "local.d"), 0o755)
	for _, m := range []string{"dkim", "spf", "dmarc", "arc"} {
		os.WriteFile(filepath.Join(dir, "local.d", m+".conf"), []byte("check_local = true;\ncheck_authed = true;\n"), 0o644)
	}
	conf := filepath.Join(dir, "rspamd.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, rspamdConf, dnsAddr, addr), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", "-i", "-c", conf, "--var=CONFDIR=/etc/rspamd", "--var=LOCAL_CONFDIR="+dir,
		"--var=RUNDIR="+filepath.Join(dir, "run"), "--var=DBDIR="+filepath.Join(dir, "db"), "--var=LOGDIR="+filepath.Join(dir, "log"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test binary
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	r := &rspamd{url: "http://" + addr, log: filepath.Join(dir, "log", "rspamd.log")}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			b, _ := os.ReadFile(r.log)
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("rspamd log tail:\n%s", b)
		}
	})
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(r.url + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-exited:
			t.Fatalf("rspamd exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rspamd did not answer /ping within 3 minutes: %s", out.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// check scans a message as received from ip (with envelope sender from)
// and returns its symbols.
func (r *rspamd) check(t *testing.T, msg []byte, ip, helo, from, rcpt string) map[string]json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url+"/checkv2", bytes.NewReader(msg))
	req.Header.Set("IP", ip)
	req.Header.Set("Helo", helo)
	req.Header.Set("From", from)
	req.Header.Set("Rcpt", rcpt)
	req.Header.Set("Hostname", helo)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		Symbols map[string]json.RawMessage `json:"symbols"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatalf("rspamd reply: %v", err)
	}
	return res.Symbols
}

// want fails unless every symbol in want is among syms.
func wantSymbols(t *testing.T, what string, syms map[string]json.RawMessage, want ...string) {
	t.Helper()
	var missing []string
	for _, w := range want {
		if _, ok := syms[w]; !ok {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		var have []string
		for k, v := range syms {
			if strings.HasPrefix(k, "R_") || strings.HasPrefix(k, "DMARC") || strings.HasPrefix(k, "ARC") || strings.HasPrefix(k, "DKIM") {
				have = append(have, k+"="+string(v))
			}
		}
		sort.Strings(have)
		t.Errorf("%s: rspamd lacks %v; its authentication symbols: %s", what, missing, strings.Join(have, "\n  "))
	}
}
