package bench

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/dovecot"
)

// dsyncTimes is what the dsync reference measured.
type dsyncTimes struct {
	initial, noop time.Duration
	items         int // message files in the Maildir after the initial copy
}

// DSyncAvailable reports whether the dsync reference can run (doveadm is
// installed).
func DSyncAvailable() bool {
	_, err := dovecot.Doveadm()
	return err == nil
}

// dsyncReference measures Dovecot's dsync on the benchmark mailbox
// (docs/architecture.md §9): `doveadm backup -R imapc:` from the source server's IMAP listener
// into an empty Maildir of a private Dovecot configuration under parent,
// then the same command again without changes. Dovecot keeps its default
// fsync (mail_fsync = optimized); imapc uses the settings Dovecot's
// migration documentation recommends (imapc_features = rfc822.size
// fetch-headers, mail_prefetch_count = 20). dsync reads through our IMAP
// server, so its figure includes our IMAP server's cost. The Maildir is
// removed afterwards.
func dsyncReference(ctx context.Context, imapAddr, user, password, parent string) (*dsyncTimes, error) {
	in, err := dovecot.New(dovecot.Options{
		Parent:   parent,
		IMAPC:    &dovecot.IMAPC{Addr: imapAddr, User: user, Password: password, Features: "rfc822.size fetch-headers"},
		Settings: []string{"mail_prefetch_count = 20"},
	})
	if err != nil {
		return nil, err
	}
	defer in.Close()
	run := func() (time.Duration, error) {
		t0 := time.Now()
		out, err := in.Doveadm(ctx, "bench", "backup", "-R", "imapc:")
		d := time.Since(t0)
		if err != nil {
			return 0, err
		}
		if s := string(out); strings.Contains(s, "Error:") || strings.Contains(s, "Warning:") {
			return 0, fmt.Errorf("doveadm backup reported problems: %s", strings.TrimSpace(s))
		}
		return d, nil
	}
	res := &dsyncTimes{}
	if res.initial, err = run(); err != nil {
		return nil, err
	}
	if res.items, err = countMaildir(in.MailDir("bench")); err != nil {
		return nil, err
	}
	if res.noop, err = run(); err != nil {
		return nil, err
	}
	return res, nil
}

// countMaildir counts the message files (in cur/ and new/) of a Maildir++
// tree.
func countMaildir(root string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			switch filepath.Base(filepath.Dir(p)) {
			case "cur", "new":
				n++
			}
		}
		return nil
	})
	return n, err
}

// loadAvg returns the first three fields of /proc/loadavg ("" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
