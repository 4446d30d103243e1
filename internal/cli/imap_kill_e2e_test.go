package cli_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/dovecot"
	"github.com/tenantferry/tenantferry/internal/mailgen"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// nonEmptyFolders drops empty folders (the target's empty default folders,
// the source's empty ones).
func nonEmptyFolders(s sc.Snapshot) sc.Snapshot {
	out := sc.Snapshot{}
	for f, xs := range s {
		if len(xs) > 0 {
			out[f] = xs
		}
	}
	return out
}

// TestIMAPMigrationKill9 kills `tenantferry serve` with SIGKILL during the
// initial sync of an IMAP batch (Dovecot as the source, 4,500 messages: at
// least three engine chunks): right after its first chunk commit
// (failpoint replication.chunk.after), and again right after the first
// chunk commit of the resumed process. The restarted server converges
// without loss or duplicate: over IMAP, the target mailbox holds per
// folder exactly what Dovecot serves (content hash, flags, internal date),
// with the statistics to match; the batch then completes Perfect. All
// through the CLI.
func TestIMAPMigrationKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 fault test")
	}
	if _, err := dovecot.Dovecot(); errors.Is(err, dovecot.ErrNotInstalled) {
		t.Skipf("%v; it is the IMAP source of this test", err)
	}
	start := time.Now()
	addr := sc.FreeAddr(t)
	const srcPassword = "dove-Pa55 word"
	src, err := dovecot.New(dovecot.Options{Listen: addr, Users: map[string]string{"alice": srcPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	gen := writeGeneratedMaildir(t, mailgen.Options{Seed: 41, Count: 4500, Owner: "alice@legacy.example", Median: 600, Attach: 0.01, AttachKB: 8})
	if err := os.MkdirAll(filepath.Dir(src.MailDir("alice")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(gen, src.MailDir("alice")); err != nil {
		t.Fatal(err)
	}
	if err := src.Chown(); err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := nonEmptyFolders(imapSnapshot(t, addr, "alice", srcPassword))
	t.Logf("Dovecot serves %d messages in %d folders (setup %s)", want.Count(), len(want), time.Since(start).Round(time.Millisecond))

	n := newNodes(t, "T")[0]
	n.start("replication.chunk.after=1")
	var ten struct{ Id, AdminToken, InitialDomain string }
	n.as(n.op).json(&ten, "tenant", "create", "fabrikam")
	adm := n.as(ten.AdminToken)
	adm.run("mailbox", "create", "--tenant", "fabrikam", "--alias", "alice", "--password", "pw-alice-target")
	target := "alice@" + ten.InitialDomain
	adm.run("endpoint", "create", "--tenant", "fabrikam", "--name", "dove", "--type", "IMAP", "--remote-server", "imap://"+addr)
	csv := filepath.Join(n.dir, "imap.csv")
	if err := os.WriteFile(csv, []byte("EmailAddress,UserName,Password\n"+target+",alice,"+srcPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adm.run("batch", "create", "--tenant", "fabrikam", "--name", "kill", "--endpoint", "dove", "--csv", csv, "--auto-start")
	n.awaitFailpoint("replication.chunk.after", 2*time.Minute)
	t.Logf("killed at the first chunk commit")
	n.start("replication.chunk.after=1")
	n.awaitFailpoint("replication.chunk.after", 2*time.Minute)
	t.Logf("killed at the first chunk commit after the restart")
	n.start("")
	us := adm.waitBatch("fabrikam", "kill", 3*time.Minute, "Synced")
	got := nonEmptyFolders(imapSnapshot(t, n.imap, target, "pw-alice-target"))
	sameContent(t, "the target after two kills", want, got)
	if us[0].ItemsSynced != int64(want.Count()) || us[0].ItemsTotal != int64(want.Count()) {
		t.Fatalf("statistics after the kills: %+v, want %d items", us[0], want.Count())
	}
	adm.run("batch", "complete", "--tenant", "fabrikam", "kill", "--yes")
	us = adm.waitBatch("fabrikam", "kill", 2*time.Minute, "Completed")
	if us[0].DataConsistencyScore != "Perfect" {
		t.Fatalf("completed with %+v", us[0])
	}
	sameContent(t, "the target after the completion", want, nonEmptyFolders(imapSnapshot(t, n.imap, target, "pw-alice-target")))
	t.Logf("converged after two kills: %d messages in %d folders, Completed Perfect (%s)", want.Count(), len(want), time.Since(start).Round(time.Millisecond))
}
