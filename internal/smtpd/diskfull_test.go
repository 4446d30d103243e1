package smtpd_test

import (
	"github.com/tenantferry/tenantferry/internal/db/dbtest"

	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tenantferry/tenantferry/internal/config"
	"github.com/tenantferry/tenantferry/internal/db"
)

// mountTmpfs mounts a tmpfs of size at a new directory for the test, or
// skips the test when mounting is not permitted.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the disk-full test (needs root or CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file that leaves about keep bytes free on dir's
// file system and returns its path.
func fillDisk(t *testing.T, dir string, keep int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	p := filepath.Join(dir, "filler")
	if err := os.WriteFile(p, make([]byte, max(0, free-keep)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// emptyPacks lists the empty pack files of a data directory's blob store.
func emptyPacks(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pack") {
			if fi, err := d.Info(); err == nil && fi.Size() == 0 {
				out = append(out, p)
			}
		}
		return nil
	})
	return out
}

// TestDiskFull (issue 7): the data directory (blob packs, and the SQLite
// database) is a small tmpfs, filled up.
// SMTP answers 4xx (never 5xx) once the disk is full, and every message
// that got 250 is delivered byte-exact; 20 refusals leave no empty pack
// file behind; after space is freed, delivery resumes and every accepted
// message arrives once.
func TestDiskFull(t *testing.T) {
	dbtest.EachDialect(t, func(t *testing.T, dialect db.Dialect) {
		dir := mountTmpfs(t, "48m")
		s := startServer(t, dialect, func(c *config.Config) { c.DataDir = filepath.Join(dir, "data") })
		s.tenant("contoso")
		alice := s.mailbox("contoso", "alice")
		mx := s.Addr("smtp")
		filler := fillDisk(t, dir, 2<<20)

		body := strings.Repeat("disk full test line with some text 0123456789\r\n", 4000) // ~190 KB
		var accepted []string
		refusals := 0
		for i := 0; refusals < 20 && i < 200; i++ {
			msg := message("x@example.org", alice.PrimarySmtpAddress, fmt.Sprintf("full-%d", i), body)
			err := sendMail(mx, "x@example.org", []string{alice.PrimarySmtpAddress}, msg)
			if err == nil {
				accepted = append(accepted, msg)
				continue
			}
			code, text := smtpCode(err)
			if code < 400 || code >= 500 {
				t.Fatalf("message %d on a full disk: %d %s (want 4xx)", i, code, text)
			}
			refusals++
		}
		if refusals < 20 || len(accepted) == 0 {
			t.Fatalf("%d accepted, %d refused: the disk never filled or nothing fit", len(accepted), refusals)
		}
		if ps := emptyPacks(t, filepath.Join(dir, "data")); len(ps) != 0 {
			t.Fatalf("%d empty pack files after %d refusals: %v", len(ps), refusals, ps)
		}

		// Free the space: delivery resumes, for the queued and for new mail.
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		after := message("x@example.org", alice.PrimarySmtpAddress, "after-free", "space again")
		if err := sendMail(mx, "x@example.org", []string{alice.PrimarySmtpAddress}, after); err != nil {
			t.Fatalf("after freeing space: %v", err)
		}
		accepted = append(accepted, after)
		got := s.waitInbox(alice, len(accepted))
		s.drained()
		got = s.inbox(alice)
		if len(got) != len(accepted) {
			t.Fatalf("inbox holds %d messages, %d were accepted", len(got), len(accepted))
		}
		have := map[[32]byte]int{}
		for _, g := range got {
			raw, ok := stripReceived(g)
			if !ok {
				t.Fatalf("stored message lacks our Received header")
			}
			have[sha256.Sum256([]byte(raw))]++
		}
		for i, a := range accepted {
			if have[sha256.Sum256([]byte(a))] != 1 {
				t.Errorf("accepted message %d is stored %d times, byte-exact", i, have[sha256.Sum256([]byte(a))])
			}
		}
		t.Logf("%d accepted, %d refused with 4xx, all delivered once after space was freed", len(accepted), refusals)
	})
}
