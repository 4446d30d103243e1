package cli_test

import (
	"database/sql"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// TestMigrationKill9 is issue 4's acceptance criterion 5 over real
// processes: the target server, and separately the source server, die by
// SIGKILL at every critical point of a move — chunk commits of the initial
// sync, each completion step, the source's lock and conversion (failpoints,
// TENANTFERRY_FAILPOINTS) and at a random moment of an initial sync (a
// plain kill -9 from outside) — and are restarted without the failpoint.
// After every kill the move converges: Completed, DataConsistencyScore
// Perfect, and the target holds exactly the source's items (per folder,
// the multiset of content hash, flags and internal date: no loss, no
// duplicate), checked on the staged content after the initial sync and
// over IMAP after the completion. Each mailbox also holds 340 calendar,
// task and contact objects, compared byte-exact over CalDAV/CardDAV after
// the completion (every object once).
func TestMigrationKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 fault test")
	}
	start := time.Now()
	nodes := newNodes(t, "A", "B")
	a, b := nodes[0], nodes[1]
	a.transports = []string{"fabrikam.tenantferry.test=" + b.smtp}
	b.transports = []string{"contoso.tenantferry.test=" + a.smtp}
	a.start("")
	// The target is armed from the start: nothing commits a sync chunk
	// before the first batch runs.
	b.start("replication.chunk.before=2")
	tr := setupTenants(t, a, b)
	src, tgt := tr.src, tr.tgt

	// 4,500 small items each: three chunks of an initial sync (the engine
	// commits 2,000 items per chunk).
	users := []*moveUser{{alias: "k1"}, {alias: "k2", archive: true}, {alias: "k3"}}
	counts := []int{4500, 4500, 4500}
	for i, u := range users {
		u.password = "pw-" + u.alias + "-Secret!"
		args := []string{"mailbox", "create", "--tenant", "contoso", "--alias", u.alias, "--password", u.password}
		if u.archive {
			args = append(args, "--archive")
		}
		src.run(args...)
		// Groupware first, so that it fills the first chunk of the initial
		// sync, which the chunk kills hit: 1,000 events, 200 tasks and 500
		// contacts.
		putGroupware(t, a.url, u.srcAddr(), u.password, mailgen.Groupware(mailgen.GroupwareOptions{Seed: int64(300 + i), Owner: u.srcAddr(),
			Events: 1000, Tasks: 200, Contacts: 500}))
		u.groupware = davSnapshot(t, a.url, u.srcAddr(), u.password)
		if len(u.groupware) != 1700 {
			t.Fatalf("%s holds %d groupware objects, want 1,700", u.alias, len(u.groupware))
		}
		// The bulk as mbox files per folder, 200 items with flags and
		// keywords as a maildir.
		n := 0
		for f, p := range writeGeneratedMbox(t, mailgen.Options{Seed: int64(100 + i), Count: counts[i] - 200, Owner: u.srcAddr(), Median: 400,
			Attach: 0.01, AttachKB: 4}) {
			n += src.importMailbox("contoso", u.alias, "--mbox", p, "--folder", f).Messages
		}
		gen := writeGeneratedMaildir(t, mailgen.Options{Seed: int64(200 + i), Count: 200, Owner: u.srcAddr(), Median: 400, Attach: 0.01, AttachKB: 4})
		n += src.importMailbox("contoso", u.alias, "--maildir", gen, "--folder", "INBOX").Messages
		if n != counts[i] {
			t.Fatalf("import %s: %d of %d", u.alias, n, counts[i])
		}
	}
	tr.setupTrust(t, a, b, "k1", "k2", "k3")
	for _, u := range users {
		src.json(&u.src, "mailbox", "show", "--tenant", "contoso", u.alias)
	}
	csvs := map[string]string{}
	for _, u := range users {
		csvs[u.alias] = writeCSV(t, b.dir, u.alias+".csv", u.tgtAddr())
	}
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv",
		writeCSV(t, b.dir, "all.csv", users[0].tgtAddr(), users[1].tgtAddr(), users[2].tgtAddr()),
		"--target-delivery-domain", "fabrikam.tenantferry.test")
	srcSnap := map[string]sc.Snapshot{}
	for _, u := range users {
		srcSnap[u.alias] = imapSnapshot(t, a.imap, u.srcAddr(), u.password)
	}
	t.Logf("setup: %d+%d+%d items (%s)", counts[0], counts[1], counts[2], time.Since(start).Round(time.Millisecond))
	createBatch := func(u *moveUser) {
		t.Helper()
		tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "kill-"+u.alias, "--endpoint", tr.endpoint, "--csv", csvs[u.alias],
			"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	}
	staged := func(u *moveUser) int { return stagedCount(t, b, tr.tgtTenant.Id, u.src.ExchangeGuid) }
	var kills []string
	killed := func(what string, u *moveUser) {
		n := staged(u)
		kills = append(kills, fmt.Sprintf("%s (%s: %d of %d items staged)", what, u.alias, n, srcSnap[u.alias].Count()+len(u.groupware)))
		t.Logf("killed: %s", kills[len(kills)-1])
	}

	// 1. The target dies before and after a chunk commit of k1's initial
	// sync.
	phase := time.Now()
	createBatch(users[0])
	b.awaitFailpoint("replication.chunk.before", time.Minute)
	// From the batch's creation to its second chunk's commit: an initial
	// sync of this size takes longer than that.
	toSecondChunk := time.Since(phase)
	killed("target at replication.chunk.before (2nd chunk)", users[0])
	b.start("replication.chunk.after=2")
	b.awaitFailpoint("replication.chunk.after", time.Minute)
	killed("target at replication.chunk.after (2nd chunk after the restart)", users[0])
	b.start("")
	tgt.waitBatch("fabrikam", "kill-k1", 2*time.Minute, "Synced")
	sameContent(t, "k1 after chunk kills", srcSnap["k1"], stagedSnapshot(t, b, tr.tgtTenant.Id, users[0].src.ExchangeGuid))
	t.Logf("phase 1 (chunk kills): %s", time.Since(phase).Round(time.Millisecond))

	// 2. A plain kill -9 of the target at a random moment of k2's initial
	// sync, and 3. of the source during k3's: a random delay after the
	// batch's creation, shorter than k1 took to reach its second chunk (the
	// same size, three chunks), so the kill lands in the initial sync —
	// which the test checks — anywhere from validation to the second chunk.
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for _, c := range []struct {
		victim *node
		u      *moveUser
	}{{b, users[1]}, {a, users[2]}} {
		phase = time.Now()
		createBatch(c.u)
		batch := "kill-" + c.u.alias
		delay := time.Duration(rng.Int63n(int64(toSecondChunk)))
		time.Sleep(delay - time.Since(phase))
		c.victim.kill9()
		delay = time.Since(phase)
		if done := initialSyncDone(t, b, c.u.tgtAddr()); done {
			t.Fatalf("%s: the initial sync had finished when %s was killed %s after the batch's creation (k1 reached its second chunk after %s)",
				batch, c.victim.name, delay, toSecondChunk)
		}
		killed(fmt.Sprintf("%s by kill -9 during the initial sync, %s after the batch's creation (of %s to k1's second chunk)", c.victim.name,
			delay.Round(time.Millisecond), toSecondChunk.Round(time.Millisecond)), c.u)
		c.victim.start("")
		tgt.waitBatch("fabrikam", batch, 2*time.Minute, "Synced")
		sameContent(t, c.u.alias+" after kill -9", srcSnap[c.u.alias], stagedSnapshot(t, b, tr.tgtTenant.Id, c.u.src.ExchangeGuid))
		t.Logf("kill -9 of %s: %s", c.victim.name, time.Since(phase).Round(time.Millisecond))
	}

	// The target dies right after the first commit of an incremental sync
	// of k2 (flag changes, moves, new mail), before it applied the
	// expunges and the folder deletion.
	phase = time.Now()
	if err := sc.Send(a.smtp, "someone@partner.example", []string{users[1].srcAddr()},
		sc.Message("someone@partner.example", users[1].srcAddr(), "incremental", "new")); err != nil {
		t.Fatal(err)
	}
	want := len(srcSnap["k2"]["INBOX"]) + 1
	sc.Eventually(t, time.Minute, "delivery to k2 on the source", func() error {
		if n := imapCount(t, a.imap, users[1].srcAddr(), users[1].password, "INBOX"); n != want {
			return fmt.Errorf("INBOX has %d, want %d", n, want)
		}
		return nil
	})
	changeOverIMAP(t, a.imap, users[1], nil)
	srcSnap["k2"] = imapSnapshot(t, a.imap, users[1].srcAddr(), users[1].password)
	b.stop()
	b.start("replication.chunk.after=1")
	tgt.try("batch", "sync-now", "--tenant", "fabrikam", "kill-k2") // the server may die before it answers
	b.awaitFailpoint("replication.chunk.after", time.Minute)
	killed("target at replication.chunk.after of an incremental sync", users[1])
	b.start("")
	tgt.waitBatch("fabrikam", "kill-k2", 2*time.Minute, "Synced")
	sameContent(t, "k2 after the incremental sync kill", srcSnap["k2"], stagedSnapshot(t, b, tr.tgtTenant.Id, users[1].src.ExchangeGuid))
	t.Logf("incremental sync kill: %s", time.Since(phase).Round(time.Millisecond))

	// New mail for k1 after its initial sync: the final sync of the
	// completion carries it.
	for i := 0; i < 3; i++ {
		subj := fmt.Sprintf("before completion %d", i)
		if err := sc.Send(a.smtp, "someone@partner.example", []string{users[0].srcAddr()},
			sc.Message("someone@partner.example", users[0].srcAddr(), subj, subj)); err != nil {
			t.Fatal(err)
		}
	}
	want = len(srcSnap["k1"]["INBOX"]) + 3
	sc.Eventually(t, time.Minute, "delivery to k1 on the source", func() error {
		if n := imapCount(t, a.imap, users[0].srcAddr(), users[0].password, "INBOX"); n != want {
			return fmt.Errorf("INBOX has %d, want %d", n, want)
		}
		return nil
	})
	srcSnap["k1"] = imapSnapshot(t, a.imap, users[0].srcAddr(), users[0].password)

	// 4. The target dies at every completion step of k1, one after the
	// other: each restart resumes the recorded step and dies at the next.
	// Between finalsync and verify it also dies right after the final
	// sync committed the new mail (the source locked).
	phase = time.Now()
	b.stop()
	b.start("completion.lock")
	tgt.try("batch", "complete", "--tenant", "fabrikam", "kill-k1", "--yes") // the server may die before it answers
	b.awaitFailpoint("completion.lock", time.Minute)
	killed("target at completion.lock", users[0])
	for _, fp := range []string{"completion.finalsync", "replication.chunk.after", "completion.verify", "completion.activate",
		"completion.convert", "completion.done"} {
		b.start(fp)
		b.awaitFailpoint(fp, time.Minute)
		killed("target at "+fp, users[0])
	}
	b.start("")
	checkCompleted(t, tr, a, b, users[0], srcSnap["k1"], "kill-k1", "")
	t.Logf("phase 4 (completion kills): %s", time.Since(phase).Round(time.Millisecond))

	// 5. The source dies when asked to lock k2.
	phase = time.Now()
	a.stop()
	a.start("source.lock")
	tgt.run("batch", "complete", "--tenant", "fabrikam", "kill-k2", "--yes")
	a.awaitFailpoint("source.lock", time.Minute)
	killed("source at source.lock", users[1])
	a.start("")
	checkCompleted(t, tr, a, b, users[1], srcSnap["k2"], "kill-k2", "")
	t.Logf("phase 5 (source kill at source.lock): %s", time.Since(phase).Round(time.Millisecond))

	// 6. k3: the target dies at completion.convert (the source locked, the
	// target active); mail to k3's old address arrives at the source, which
	// holds it; the restarted target asks the source to convert k3, and
	// the source dies right after converting (before retiring the content
	// and releasing the held mail), twice; restarted, it finishes and the
	// held mail reaches the target mailbox once.
	phase = time.Now()
	a.stop()
	a.start("source.finalize.converted")
	b.stop()
	b.start("completion.convert")
	tgt.try("batch", "complete", "--tenant", "fabrikam", "kill-k3", "--yes") // the server may die before it answers
	b.awaitFailpoint("completion.convert", time.Minute)
	killed("target at completion.convert", users[2])
	const heldSubject = "held during the cutover"
	if err := sc.Send(a.smtp, "someone@partner.example", []string{users[2].srcAddr()},
		sc.Message("someone@partner.example", users[2].srcAddr(), heldSubject, "held")); err != nil {
		t.Fatalf("mail to a locked mailbox: %v", err)
	}
	// The source's delivery job holds it (the row becomes held): only
	// then does the INBOX check below prove that it was not delivered.
	sc.Eventually(t, time.Minute, "the source holds the mail to the locked mailbox", func() error {
		if st := queueState(t, a, users[2].srcAddr()); st != "held" {
			return fmt.Errorf("queue row is %q", st)
		}
		return nil
	})
	if n := imapFindSubject(t, a.imap, users[2].srcAddr(), users[2].password, "INBOX", heldSubject); n != 0 {
		t.Fatalf("mail to the locked source mailbox was delivered into it (%d)", n)
	}
	b.start("")
	a.awaitFailpoint("source.finalize.converted", time.Minute)
	killed("source at source.finalize.converted", users[2])
	a.start("source.finalize.converted") // once more, on the target's retry
	a.awaitFailpoint("source.finalize.converted", time.Minute)
	killed("source at source.finalize.converted again (the target's retry)", users[2])
	a.start("")
	checkCompleted(t, tr, a, b, users[2], srcSnap["k3"], "kill-k3", heldSubject)
	// The kills kept k3's source locked for seconds: the report says so and why.
	if rep := tgt.run("batch", "report", "--tenant", "fabrikam", "kill-k3"); !strings.Contains(rep, "lock window outlier") ||
		!strings.Contains(rep, "completion retries while locked") {
		t.Fatalf("k3's report does not explain its lock window:\n%s", rep)
	}
	t.Logf("phase 6 (target and source kills at the conversion, held mail): %s", time.Since(phase).Round(time.Millisecond))

	// Mail to an old address still reaches the target mailbox.
	if err := sc.Send(a.smtp, "late@partner.example", []string{users[2].srcAddr()},
		sc.Message("late@partner.example", users[2].srcAddr(), "after the kills", "hello")); err != nil {
		t.Fatal(err)
	}
	sc.Eventually(t, time.Minute, "mail to the old address in the target", func() error {
		if n := imapFindSubject(t, b.imap, users[2].tgtAddr(), users[2].password, "INBOX", "after the kills"); n != 1 {
			return fmt.Errorf("found %d times", n)
		}
		return nil
	})
	t.Logf("%d kills, every move Completed with Perfect consistency and identical content (%s):\n  %s",
		len(kills), time.Since(start).Round(time.Millisecond), strings.Join(kills, "\n  "))
}

// initialSyncDone reports whether the target recorded the end of a move's
// initial sync (read from its database: the server may be dead).
func initialSyncDone(t *testing.T, n *node, email string) bool {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "tenantferry-data", "tenantferry.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var at int64
	if err := d.QueryRow(`SELECT initial_sync_done_at FROM moves WHERE email_key = ? AND active = ?`, strings.ToLower(email), true).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at != 0
}

// checkCompleted waits for a move to complete and checks the outcome: the
// user Completed with DataConsistencyScore Perfect and every item synced,
// the source a MailUser forwarding to the target delivery domain, the
// target a UserMailbox with the same GUIDs whose content over IMAP equals
// the source's snapshot.
func checkCompleted(t *testing.T, tr *trust, a, b *node, u *moveUser, want sc.Snapshot, batch, held string) {
	t.Helper()
	us := tr.tgt.waitBatch("fabrikam", batch, 3*time.Minute, "Completed")
	extra := int64(0)
	if held != "" {
		extra = 1 // the held message may be counted when it arrives before the move finishes
	}
	items := int64(want.Count() + len(u.groupware))
	if bu := us[0]; bu.DataConsistencyScore != "Perfect" || bu.PercentComplete != 100 || bu.ItemsSynced < items ||
		bu.ItemsSynced > items+extra || bu.ItemsSkipped != 0 || bu.Error != nil {
		t.Fatalf("%s: %+v (the source has %d items)", u.alias, bu, items)
	} else {
		t.Logf("%s: Completed, %s, %d items, lock window %s", u.alias, bu.DataConsistencyScore, bu.ItemsSynced, bu.LockWindow)
	}
	var s recipient
	tr.src.json(&s, "mailuser", "show", "--tenant", "contoso", u.alias)
	if s.RecipientType != "MailUser" || strings.TrimPrefix(s.ExternalEmailAddress, "SMTP:") != u.tddAddr() {
		t.Fatalf("source %s: %+v", u.alias, s)
	}
	var g recipient
	tr.tgt.json(&g, "mailbox", "show", "--tenant", "fabrikam", u.tgtAddr())
	if g.RecipientType != "UserMailbox" || g.ExchangeGuid != u.src.ExchangeGuid || g.ArchiveGuid != u.src.ArchiveGuid {
		t.Fatalf("target %s: %+v", u.alias, g)
	}
	tr.tgt.run("mailbox", "set", "--tenant", "fabrikam", u.tgtAddr(), "--password", u.password)
	got := imapSnapshot(t, b.imap, u.tgtAddr(), u.password)
	if held != "" {
		// The held message arrives once, in the INBOX; apart from it the
		// target holds exactly the source's items.
		sc.Eventually(t, time.Minute, "held mail in the target", func() error {
			if n := imapFindSubject(t, b.imap, u.tgtAddr(), u.password, "INBOX", held); n != 1 {
				return fmt.Errorf("found %d times", n)
			}
			return nil
		})
		got = imapSnapshot(t, b.imap, u.tgtAddr(), u.password)
		got["INBOX"] = minus(got["INBOX"], want["INBOX"])
		if len(got["INBOX"]) != len(want["INBOX"]) {
			t.Fatalf("%s: INBOX has %d items besides the source's %d", u.alias, len(got["INBOX"])-len(want["INBOX"]), len(want["INBOX"]))
		}
	}
	sameContent(t, u.alias+" after completion", want, got)
	if u.groupware != nil {
		sameGroupwareSnap(t, u.alias+" after completion", u.groupware, davSnapshot(t, b.url, u.tgtAddr(), u.password))
	}
}

// minus returns got without its one entry that want lacks (when there is
// exactly one such entry; got unchanged otherwise, so the comparison
// reports it).
func minus(got, want []string) []string {
	count := map[string]int{}
	for _, w := range want {
		count[w]++
	}
	var extra []int
	for i, g := range got {
		if count[g] > 0 {
			count[g]--
		} else {
			extra = append(extra, i)
		}
	}
	if len(extra) != 1 {
		return got
	}
	out := append([]string(nil), got[:extra[0]]...)
	return append(out, got[extra[0]+1:]...)
}

// queueState returns the state of the newest queue row for a recipient on a
// node (read from its database: "" when there is none).
func queueState(t *testing.T, n *node, rcpt string) string {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "tenantferry-data", "tenantferry.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var st string
	err = d.QueryRow(`SELECT state FROM queue_recipients WHERE rcpt_key = ? ORDER BY id DESC LIMIT 1`, strings.ToLower(rcpt)).Scan(&st)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return st
}

// stagedCount counts the items a target server holds for a GUID (0 when
// it holds no mailbox for it yet).
func stagedCount(t *testing.T, n *node, tenantID, guid string) int {
	t.Helper()
	d, err := sql.Open("sqlite", "file:"+filepath.Join(n.dir, "tenantferry-data", "tenantferry.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var c int
	if err := d.QueryRow(`SELECT COUNT(*) FROM items i JOIN mailboxes m ON m.id = i.mailbox_id WHERE m.tenant_id = ? AND m.guid = ?`,
		tenantID, strings.ToLower(guid)).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}
