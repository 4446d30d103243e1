package imapd_test

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestPythonImaplib is issue 3's acceptance criterion 2: Python's imaplib,
// a client nobody here wrote, logs in to a full server, lists the folders
// with their special-use attributes, appends (APPENDUID), selects,
// searches, fetches byte-exact bodies and sections, stores flags, copies
// (COPYUID), moves and expunges, and a second connection in IDLE sees a
// new message. The script is testdata/imaplib_client.py; every step prints
// a PASS line.
func TestPythonImaplib(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; it runs the imaplib interoperability test")
	}
	eachFull(t, func(t *testing.T, e *env) {
		addr := e.user(t, "pyuser")
		host, port, _ := net.SplitHostPort(e.Addr)
		ctx, cancel := context.WithTimeout(bg, 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, py, "testdata/imaplib_client.py", host, port, addr, password).CombinedOutput()
		t.Logf("imaplib_client.py:\n%s", out)
		if err != nil {
			t.Fatalf("imaplib client failed: %v", err)
		}
		for _, want := range []string{
			"PASS login " + addr,
			"PASS list 6 folders; special-use Archive=\\Archive,Deleted Items=\\Trash,Drafts=\\Drafts,Junk Email=\\Junk,Sent Items=\\Sent",
			"PASS append uids 1 2",
			"PASS search 11 queries",
			"PASS fetch byte-exact 2 messages and sections",
			"PASS store flags",
			"PASS copy move expunge; INBOX (MESSAGES 0)",
			"PASS idle saw * 1 EXISTS",
			"PASS logout",
		} {
			if !strings.Contains(string(out), want+"\n") {
				t.Errorf("output lacks %q", want)
			}
		}
	})
}
