package dovecot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/freeport"
)

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	a, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDovecotToDovecot checks the package against Dovecot itself: a
// private listener serves a Maildir with one message, `doveadm backup -R
// imapc:` of a second instance copies it, and Stop leaves no process of
// the listener behind.
func TestDovecotToDovecot(t *testing.T) {
	if _, err := Dovecot(); errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := freeAddr(t)
	src, err := New(Options{Listen: addr, Users: map[string]string{"alice": "pw one"}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	msg := "From: a@example.org\r\nSubject: hello\r\n\r\nbody\r\n"
	cur := filepath.Join(src.MailDir("alice"), "cur")
	for _, d := range []string{cur, filepath.Join(src.MailDir("alice"), "new"), filepath.Join(src.MailDir("alice"), "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(cur, "1.m1.test:2,FS"), []byte(msg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := src.Chown(); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pgid := src.master.Process.Pid

	dst, err := New(Options{IMAPC: &IMAPC{Addr: addr, User: "alice", Password: "pw one"}, Settings: []string{"mail_save_crlf = yes"}})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if out, err := dst.Doveadm(ctx, "bob", "backup", "-R", "imapc:"); err != nil {
		t.Fatalf("%v\n%s", err, src.Log())
	} else {
		t.Logf("doveadm: %s", out)
	}
	files, _ := filepath.Glob(filepath.Join(dst.MailDir("bob"), "cur", "*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], ":2,FS") {
		t.Fatalf("copied files %v", files)
	}
	if b, _ := os.ReadFile(files[0]); string(b) != msg {
		t.Errorf("copied %q, want %q", b, msg)
	}
	if err := src.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pgid, 0); err == nil {
		t.Errorf("process group %d still alive after Stop", pgid)
	}
}
