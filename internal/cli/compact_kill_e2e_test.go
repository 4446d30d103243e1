package cli_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/blobstore/blobtest"
	"github.com/tenantferry/tenantferry/internal/mailgen"
)

// TestCompactionKill9: `tenantferry serve` dies by SIGKILL in the middle
// of a compaction — after copying the live messages into a new container
// but before pointing them at it (failpoint blobstore.compact.copied), and
// after pointing them but before deleting the old container
// (blobstore.compact.relocated). After every restart the mailbox reads
// back over IMAP exactly as before (per message SHA-256 of BODY[], flags,
// INTERNALDATE), and the next `storage gc` finishes the work: the space
// of the deleted mail comes back, measured on disk or in the bucket.
func TestCompactionKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 fault test")
	}
	for _, backend := range []string{"files", "s3"} {
		t.Run(backend, func(t *testing.T) { compactionKill9(t, backend) })
	}
}

func compactionKill9(t *testing.T, backend string) {
	nodes := newNodes(t, "A")
	a := nodes[0]
	var stored func() int64
	switch backend {
	case "files":
		blobs := filepath.Join(a.dir, "tenantferry-data", "blobs")
		stored = func() int64 { return dirBytes(t, blobs) }
	case "s3":
		w := blobtest.Start(t)
		bucket := w.Bucket(t)
		cred := filepath.Join(t.TempDir(), "credentials")
		if err := os.WriteFile(cred, []byte("[default]\naws_access_key_id = "+blobtest.AccessKey+"\naws_secret_access_key = "+blobtest.SecretKey+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		a.extra = []string{"--blob-backend", "s3", "--s3-endpoint", w.Endpoint, "--s3-bucket", bucket, "--s3-credentials-file", cred}
		stored = func() int64 { _, n := w.BucketBytes(t, bucket); return n }
	}
	a.start("")
	op := a.as(a.op)
	op.run("tenant", "create", "contoso")
	const user, pw = "keeper@contoso.tenantferry.test", "pw-Keeper-Secret!"
	op.run("mailbox", "create", "--tenant", "contoso", "--alias", "keeper", "--password", pw)
	n := 0
	for f, p := range writeGeneratedMbox(t, mailgen.Options{Seed: 41, Count: 1500, Owner: user, Median: 3000, Attach: 0.05, AttachKB: 200}) {
		n += op.importMailbox("contoso", "keeper", "--mbox", p, "--folder", f).Messages
	}
	if n != 1500 {
		t.Fatalf("imported %d of 1500", n)
	}

	// Round 1: delete about two thirds, kill after the copy; round 2:
	// delete half of the rest, kill after the relocation.
	before := stored()
	var after int64
	for _, r := range []struct {
		keepEvery uint32
		failpoint string
	}{{3, "blobstore.compact.copied"}, {2, "blobstore.compact.relocated"}} {
		deleteOverIMAP(t, a.imap, user, pw, r.keepEvery)
		want := imapSnapshot(t, a.imap, user, pw)
		a.stop()
		a.start(r.failpoint)
		if res := op.try("storage", "gc", "--grace", "0s", "--reader-grace", "0s"); res.code == 0 {
			t.Fatalf("storage gc survived failpoint %s: %s", r.failpoint, res.stdout)
		}
		a.awaitFailpoint(r.failpoint, time.Minute)
		a.start("")
		sameContent(t, "after a kill at "+r.failpoint, want, imapSnapshot(t, a.imap, user, pw))
		op.run("storage", "gc", "--grace", "0s", "--reader-grace", "0s")
		sameContent(t, "after the compaction resumed", want, imapSnapshot(t, a.imap, user, pw))
		after = stored()
		t.Logf("%s: %d bytes stored, %d after deleting all but 1/%d and a compaction killed at %s", backend, before, after, r.keepEvery, r.failpoint)
		if after > before*2/3 {
			t.Fatalf("space not reclaimed: %d → %d bytes", before, after)
		}
		before = after
	}
	var st struct{ Blobs, ReclaimableBytes int64 }
	op.json(&st, "storage", "stats")
	// Compaction rewrites containers at least half dead: what is left
	// reclaimable is below half of what is stored.
	if st.Blobs == 0 || st.ReclaimableBytes >= after/2 {
		t.Fatalf("storage stats after compaction: %+v (stored %d)", st, after)
	}
}

// deleteOverIMAP marks every message whose sequence number is not a
// multiple of keepEvery \Deleted in every folder, and expunges.
func deleteOverIMAP(t *testing.T, addr, user, password string, keepEvery uint32) {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		sel, err := c.Select(l.Mailbox, nil).Wait()
		if err != nil || sel.NumMessages == 0 {
			continue
		}
		var set imap.SeqSet
		for i := uint32(1); i <= sel.NumMessages; i++ {
			if i%keepEvery != 0 {
				set.AddNum(i)
			}
		}
		if len(set) == 0 {
			continue
		}
		if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatalf("store \\Deleted in %s: %v", l.Mailbox, err)
		}
		if err := c.Expunge().Close(); err != nil {
			t.Fatalf("expunge %s: %v", l.Mailbox, err)
		}
	}
	c.Logout().Wait()
}

// dirBytes sums the sizes of the files in dir.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}
