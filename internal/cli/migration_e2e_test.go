package cli_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// moveUser is one user of the cross-server move.
type moveUser struct {
	alias    string
	password string
	archive  bool
	src      recipient // `mailbox show` on the source
	// groupware is the calendar, task and contact objects the source
	// mailbox holds (davSnapshot lines); checkCompleted compares them.
	groupware []string
}

func (u moveUser) srcAddr() string { return u.alias + "@contoso.tenantferry.test" }
func (u moveUser) tgtAddr() string { return u.alias + "@fabrikam.example" }
func (u moveUser) tddAddr() string { return u.alias + "@fabrikam.tenantferry.test" }

// TestCrossServerMigrationCLI is issue 4's acceptance criteria 1, 2 and 3
// over real processes: two `tenantferry serve` processes (source contoso on
// A, target fabrikam on B, each routing the other's domain to the other's
// SMTP port) and every step of docs/architecture.md §1 as a CLI subprocess with the
// commands and flags of the contract. The content of every folder is
// compared over IMAP (SHA-256 of BODY[], flags, INTERNALDATE) after the
// initial sync, after changes made over SMTP and IMAP plus `batch
// sync-now`, and after `batch complete`, when mail to the old address
// reaches the target mailbox.
func TestCrossServerMigrationCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end migration test")
	}
	plan := planCorpus(t)
	start := time.Now()
	nodes := newNodes(t, "A", "B")
	a, b := nodes[0], nodes[1]
	a.transports = []string{"fabrikam.tenantferry.test=" + b.smtp}
	b.transports = []string{"contoso.tenantferry.test=" + a.smtp}
	a.start("")
	b.start("")
	tr := setupTenants(t, a, b)
	src, tgt := tr.src, tr.tgt

	// The source mailboxes: three users, user01 with an archive.
	users := []*moveUser{{alias: "user01", archive: true}, {alias: "user02"}, {alias: "user03"}}
	for _, u := range users {
		u.password = "pw-" + u.alias + "-Secret!"
		args := []string{"mailbox", "create", "--tenant", "contoso", "--alias", u.alias, "--name", "User " + u.alias,
			"--display-name", "Display " + u.alias, "--first-name", "First", "--last-name", u.alias, "--password", u.password}
		if u.archive {
			args = append(args, "--archive")
		}
		src.run(args...)
	}

	// The whole corpus through `mailbox import`: every mbox file (--mbox),
	// every maildir root (--maildir), the single message files per corpus
	// source (--eml-dir), spread over the users and folders; plus
	// generated business mail with folders, flags and keywords.
	imported := map[string]int{}
	for _, e := range plan.mboxes {
		u := users[1]
		if strings.HasPrefix(filepath.Base(e.Path), "enron.") {
			u = users[0]
		}
		res := src.importMailbox("contoso", u.alias, "--mbox", filepath.Join(plan.dir, filepath.FromSlash(e.Path)), "--folder", mboxFolder(e))
		if res.Messages != e.Messages {
			t.Fatalf("import %s: %d messages, the manifest says %d", e.Path, res.Messages, e.Messages)
		}
		imported[u.alias] += res.Messages
	}
	for _, root := range plan.maildirs {
		rel, _ := filepath.Rel(plan.dir, root)
		res := src.importMailbox("contoso", users[1].alias, "--maildir", root, "--folder", "Maildir/"+strings.ReplaceAll(filepath.ToSlash(rel), "/", "-"))
		if res.Messages != plan.maildirMsgs[root] {
			t.Fatalf("import maildir %s: %d messages, the manifest says %d", rel, res.Messages, plan.maildirMsgs[root])
		}
		imported[users[1].alias] += res.Messages
	}
	for i, dir := range plan.emlDirs {
		u := users[i%3]
		res := src.importMailbox("contoso", u.alias, "--eml-dir", dir, "--folder", "Corpus/"+plan.emlSources[i])
		if res.Messages != plan.emlCounts[i] {
			t.Fatalf("import --eml-dir %s: %d messages, the manifest says %d", plan.emlSources[i], res.Messages, plan.emlCounts[i])
		}
		imported[u.alias] += res.Messages
	}
	corpusTotal := imported["user01"] + imported["user02"] + imported["user03"]
	if corpusTotal != plan.total {
		t.Fatalf("imported %d corpus messages, the manifest has %d", corpusTotal, plan.total)
	}
	gen := writeGeneratedMaildir(t, mailgen.Options{Seed: 4, Count: 300, Owner: users[2].srcAddr(), Median: 3000, AttachKB: 40})
	generated := src.importMailbox("contoso", users[2].alias, "--maildir", gen, "--folder", "INBOX").Messages
	if generated != 300 {
		t.Fatalf("imported %d generated messages of 300", generated)
	}
	imported["user03"] += generated
	t.Logf("imported %d corpus messages and %d generated ones: %v (%s)", corpusTotal, generated, imported, time.Since(start).Round(time.Millisecond))

	// The source as IMAP shows it, per user.
	srcSnap := map[string]sc.Snapshot{}
	total := 0
	for _, u := range users {
		srcSnap[u.alias] = imapSnapshot(t, a.imap, u.srcAddr(), u.password)
		if n := srcSnap[u.alias].Count(); n != imported[u.alias] {
			t.Fatalf("%s: IMAP shows %d messages, %d were imported", u.alias, n, imported[u.alias])
		}
		total += srcSnap[u.alias].Count()
	}
	if total < 1000 {
		t.Fatalf("only %d items to move", total)
	}

	// §1 steps 1–6.
	tr.setupTrust(t, a, b, "user01", "user02", "user03")
	// Step 7: the source identities.
	for _, u := range users {
		src.json(&u.src, "mailbox", "show", "--tenant", "contoso", u.alias)
		if u.src.RecipientType != "UserMailbox" || !guidRE.MatchString(u.src.ExchangeGuid) || u.src.LegacyExchangeDN == "" ||
			(u.archive && !guidRE.MatchString(u.src.ArchiveGuid)) {
			t.Fatalf("mailbox show %s: %+v", u.alias, u.src)
		}
	}
	// Step 8: the target MailUsers, prepared from the source identities
	// (a dry run first, which changes nothing).
	csv := writeCSV(t, b.dir, "users.csv", users[0].tgtAddr(), users[1].tgtAddr(), users[2].tgtAddr())
	type prepareRow struct {
		Line                                     int
		EmailAddress, SourceEmailAddress, Action string
		Changes                                  []string
		Error                                    *struct{ Code, Message string }
	}
	var rows []prepareRow
	tgt.json(&rows, "mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", csv,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--dry-run")
	if len(rows) != 3 {
		t.Fatalf("prepare --dry-run: %+v", rows)
	}
	for _, r := range rows {
		if r.Action != "WouldChange" || r.Error != nil {
			t.Fatalf("prepare --dry-run: %+v", r)
		}
	}
	tgt.fail("RecipientNotFound", "mailuser", "show", "--tenant", "fabrikam", users[0].tgtAddr())
	tgt.json(&rows, "mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", csv,
		"--target-delivery-domain", "fabrikam.tenantferry.test")
	for _, r := range rows {
		if r.Action != "Created" || r.Error != nil {
			t.Fatalf("prepare: %+v", r)
		}
	}
	// A rerun changes nothing.
	tgt.json(&rows, "mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", csv,
		"--target-delivery-domain", "fabrikam.tenantferry.test")
	for _, r := range rows {
		if r.Action != "Unchanged" || r.Error != nil {
			t.Fatalf("prepare rerun: %+v", r)
		}
	}
	for _, u := range users {
		var mu recipient
		tgt.json(&mu, "mailuser", "show", "--tenant", "fabrikam", u.tgtAddr())
		if mu.RecipientType != "MailUser" || mu.ExchangeGuid != u.src.ExchangeGuid || mu.ArchiveGuid != u.src.ArchiveGuid && u.archive ||
			!contains(mu.EmailAddresses, "X500:"+u.src.LegacyExchangeDN) || !contains(mu.EmailAddresses, "smtp:"+u.tddAddr()) {
			t.Fatalf("prepared mail user %s: %+v", u.alias, mu)
		}
	}
	// Step 9: the endpoint test for one mailbox, in JSON.
	epOut := tgt.run("endpoint", "test", "--tenant", "fabrikam", tr.endpoint, "--test-mailbox", users[0].tgtAddr(),
		"--target-delivery-domain", "fabrikam.tenantferry.test", "-o", "json")
	var ept map[string]any
	if err := json.Unmarshal([]byte(epOut), &ept); err != nil {
		t.Fatalf("endpoint test -o json: %v\n%s", err, epOut)
	}
	for _, f := range []string{"Result", "Message", "Checks"} {
		if _, ok := ept[f]; !ok {
			t.Fatalf("endpoint test -o json lacks %s:\n%s", f, epOut)
		}
	}
	checks, _ := ept["Checks"].([]any)
	if ept["Result"] != "Success" || len(checks) < 5 {
		t.Fatalf("endpoint test: %s", epOut)
	}
	for _, c := range checks {
		cm, _ := c.(map[string]any)
		for _, f := range []string{"Name", "Result", "Code", "Message"} {
			if _, ok := cm[f]; !ok {
				t.Fatalf("endpoint test check lacks %s: %v", f, cm)
			}
		}
		if cm["Result"] != "Success" && cm["Result"] != "Passed" {
			t.Fatalf("endpoint test check: %v", cm)
		}
	}
	if table := tgt.run("endpoint", "test", "--tenant", "fabrikam", tr.endpoint, "--test-mailbox", users[0].tgtAddr()); !strings.Contains(table, "Result: Success") {
		t.Fatalf("endpoint test table:\n%s", table)
	}

	// A user that cannot move fails with a coded Error in `batch users`.
	bad := writeCSV(t, b.dir, "bad.csv", "nobody@fabrikam.example")
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "wave0", "--endpoint", tr.endpoint, "--csv", bad,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	failed := tgt.waitBatch("fabrikam", "wave0", time.Minute, "Failed")
	if failed[0].Error == nil || failed[0].Error.Code != "RecipientNotFound" || !strings.Contains(failed[0].Error.Message, "nobody@fabrikam.example") {
		t.Fatalf("failed user: %+v", failed[0])
	}
	checkUserFields(t, tgt, "wave0")
	tgt.run("batch", "remove", "--tenant", "fabrikam", "wave0", "--yes")

	// Step 10–11: the batch, started at once, watched until Synced.
	syncStart := time.Now()
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "wave1", "--endpoint", tr.endpoint, "--csv", csv,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	watch := tgt.runFor(5*time.Minute, "batch", "watch", "--tenant", "fabrikam", "wave1")
	us := tgt.waitBatch("fabrikam", "wave1", 3*time.Minute, "Synced")
	t.Logf("initial sync of %d items: %s\n%s", total, time.Since(syncStart).Round(time.Millisecond), watch)
	checkUserFields(t, tgt, "wave1")
	byAddr := map[string]batchUser{}
	for _, u := range us {
		byAddr[u.EmailAddress] = u
		if u.ItemsSynced != u.ItemsTotal || u.ItemsSkipped != 0 || u.Error != nil {
			t.Fatalf("after the initial sync: %+v", u)
		}
	}
	for _, u := range users {
		bu := byAddr[u.tgtAddr()]
		if int(bu.ItemsTotal) != srcSnap[u.alias].Count() {
			t.Fatalf("%s: ItemsTotal %d, the source has %d", u.alias, bu.ItemsTotal, srcSnap[u.alias].Count())
		}
		sameContent(t, u.alias+" after the initial sync", srcSnap[u.alias], stagedSnapshot(t, b, tr.tgtTenant.Id, u.src.ExchangeGuid))
	}

	// Acceptance 2: change the source over the wire, then sync now.
	for i := 0; i < 5; i++ {
		subj := fmt.Sprintf("incremental %d", i)
		if err := sc.Send(a.smtp, "someone@partner.example", []string{users[2].srcAddr()},
			sc.Message("someone@partner.example", users[2].srcAddr(), subj, "new mail "+subj)); err != nil {
			t.Fatal(err)
		}
	}
	inbox0 := len(srcSnap["user03"]["INBOX"])
	sc.Eventually(t, time.Minute, "SMTP delivery on the source", func() error {
		if n := imapCount(t, a.imap, users[2].srcAddr(), users[2].password, "INBOX"); n != inbox0+5 {
			return fmt.Errorf("INBOX has %d messages, want %d", n, inbox0+5)
		}
		return nil
	})
	changeOverIMAP(t, a.imap, users[2], users[0])
	for _, u := range users {
		srcSnap[u.alias] = imapSnapshot(t, a.imap, u.srcAddr(), u.password)
	}
	if _, ok := srcSnap["user03"]["Customers/Alpha Renamed"]; !ok {
		t.Fatalf("the rename is not visible on the source: %v", keys(srcSnap["user03"]))
	}
	if _, ok := srcSnap["user03"]["Projects/Beta/Reports"]; ok {
		t.Fatal("the deleted folder is still on the source")
	}
	tgt.run("batch", "sync-now", "--tenant", "fabrikam", "wave1")
	tgt.runFor(5*time.Minute, "batch", "watch", "--tenant", "fabrikam", "wave1")
	us = tgt.waitBatch("fabrikam", "wave1", 2*time.Minute, "Synced")
	for _, bu := range us {
		byAddr[bu.EmailAddress] = bu
	}
	for _, u := range users {
		if bu := byAddr[u.tgtAddr()]; int(bu.ItemsSynced) != srcSnap[u.alias].Count() || bu.Error != nil {
			t.Fatalf("%s after the incremental sync: %+v, the source has %d items", u.alias, bu, srcSnap[u.alias].Count())
		}
		sameContent(t, u.alias+" after the incremental sync", srcSnap[u.alias], stagedSnapshot(t, b, tr.tgtTenant.Id, u.src.ExchangeGuid))
	}

	// Acceptance 3: complete.
	tgt.run("batch", "complete", "--tenant", "fabrikam", "wave1", "--yes")
	tgt.runFor(5*time.Minute, "batch", "watch", "--tenant", "fabrikam", "wave1")
	us = tgt.waitBatch("fabrikam", "wave1", 3*time.Minute, "Completed")
	for _, u := range us {
		if u.DataConsistencyScore != "Perfect" || u.PercentComplete != 100 || u.ItemsSynced != u.ItemsTotal || u.Error != nil {
			t.Fatalf("completed user: %+v", u)
		}
		t.Logf("%s: %d items, lock window %s", u.EmailAddress, u.ItemsSynced, u.LockWindow)
	}
	var bs struct {
		Name, Status   string
		FinalizedCount int
	}
	tgt.json(&bs, "batch", "show", "--tenant", "fabrikam", "wave1")
	if bs.Status != "Completed" || bs.FinalizedCount != 3 {
		t.Fatalf("batch show: %+v", bs)
	}
	for _, u := range users {
		// The source is a MailUser forwarding to the target's address in
		// the target delivery domain, keeping its addresses.
		var s recipient
		src.json(&s, "mailuser", "show", "--tenant", "contoso", u.alias)
		if s.RecipientType != "MailUser" || strings.TrimPrefix(s.ExternalEmailAddress, "SMTP:") != u.tddAddr() ||
			s.PrimarySmtpAddress != u.srcAddr() || s.ExchangeGuid != u.src.ExchangeGuid {
			t.Fatalf("source %s after completion: %+v", u.alias, s)
		}
		src.fail("RecipientNotFound", "mailbox", "show", "--tenant", "contoso", u.alias)
		// The target is a UserMailbox with the same GUIDs.
		var g recipient
		tgt.json(&g, "mailbox", "show", "--tenant", "fabrikam", u.tgtAddr())
		if g.RecipientType != "UserMailbox" || g.ExchangeGuid != u.src.ExchangeGuid || g.ArchiveGuid != u.src.ArchiveGuid {
			t.Fatalf("target %s after completion: %+v (source %s / %s)", u.alias, g, u.src.ExchangeGuid, u.src.ArchiveGuid)
		}
		// IMAP on the target shows everything.
		tgt.run("mailbox", "set", "--tenant", "fabrikam", u.tgtAddr(), "--password", u.password)
		sameContent(t, u.alias+" after completion (IMAP on the target)", srcSnap[u.alias], imapSnapshot(t, b.imap, u.tgtAddr(), u.password))
	}
	// Mail to the old address, sent to the source, lands in the target.
	for _, u := range users {
		if err := sc.Send(a.smtp, "late@partner.example", []string{u.srcAddr()},
			sc.Message("late@partner.example", u.srcAddr(), "after cutover "+u.alias, "hello")); err != nil {
			t.Fatalf("send to the old address %s: %v", u.srcAddr(), err)
		}
	}
	for _, u := range users {
		sc.Eventually(t, time.Minute, "mail to "+u.srcAddr()+" in the target mailbox", func() error {
			if n := imapFindSubject(t, b.imap, u.tgtAddr(), u.password, "INBOX", "after cutover "+u.alias); n != 1 {
				return fmt.Errorf("found %d times", n)
			}
			return nil
		})
	}

	// Step 13: remove the batch; its history stays queryable.
	tgt.run("batch", "remove", "--tenant", "fabrikam", "wave1", "--yes")
	var rep []struct {
		EmailAddress string
		Report       []struct{ Message string }
	}
	tgt.json(&rep, "batch", "report", "--tenant", "fabrikam", "wave1")
	if len(rep) != 3 || len(rep[0].Report) == 0 {
		t.Fatalf("batch report after remove: %d users", len(rep))
	}
	t.Logf("acceptance 1–3 over two processes: %d items in %s", total, time.Since(start).Round(time.Millisecond))
}

// checkUserFields checks that `batch users -o json` carries every contract
// field (Error only when a user failed).
func checkUserFields(t *testing.T, a *admin, batch string) {
	t.Helper()
	out := a.run("batch", "users", "--tenant", "fabrikam", batch, "-o", "json")
	var us []map[string]any
	if err := json.Unmarshal([]byte(out), &us); err != nil || len(us) == 0 {
		t.Fatalf("batch users -o json: %v\n%s", err, out)
	}
	for _, u := range us {
		for _, f := range []string{"EmailAddress", "Status", "StatusDetail", "PercentComplete", "ItemsTotal", "ItemsSynced", "ItemsSkipped",
			"BytesTotal", "BytesTransferred", "DataConsistencyScore"} {
			if _, ok := u[f]; !ok {
				t.Fatalf("batch users -o json lacks %s:\n%s", f, out)
			}
		}
		if u["Status"] == "Failed" {
			e, _ := u["Error"].(map[string]any)
			if e == nil || e["Code"] == "" || e["Message"] == "" {
				t.Fatalf("a failed user without Error {Code, Message}:\n%s", out)
			}
		}
	}
}

// changeOverIMAP changes the source mailboxes the way users do: flags and
// keywords, MOVE between folders, EXPUNGE, a folder RENAME and a folder
// DELETE (with its messages) in gen's generated folders; flags and a MOVE
// in corpusUser's Enron folders (when not nil).
func changeOverIMAP(t *testing.T, addr string, gen, corpusUser *moveUser) {
	t.Helper()
	c := imapLogin(t, addr, gen.srcAddr(), gen.password)
	defer c.Close()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages < 20 {
		t.Fatalf("INBOX has %d messages", sel.NumMessages)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	seq := func(nums ...uint32) imap.SeqSet { return imap.SeqSetNum(nums...) }
	must("store +flags", c.Store(seq(1, 2, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Important"}, Silent: true}, nil).Close())
	must("store -flags", c.Store(seq(4), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close())
	_, err = c.Move(seq(5, 6, 7), "Archive").Wait()
	must("move", err)
	must("store \\Deleted", c.Store(seq(8, 9), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close())
	must("expunge", c.Expunge().Close())
	must("rename", c.Rename("Projects/Alpha", "Customers/Alpha Renamed", nil).Wait())
	must("delete", c.Delete("Projects/Beta/Reports").Wait())
	c.Logout().Wait()
	if corpusUser == nil {
		return
	}

	// The corpus mailbox too: flags on odd messages, a move between folders.
	c2 := imapLogin(t, addr, corpusUser.srcAddr(), corpusUser.password)
	defer c2.Close()
	_, err = c2.Select("Enron/richey-c/inbox", nil).Wait()
	must("select", err)
	must("store", c2.Store(seq(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, imap.FlagAnswered}, Silent: true}, nil).Close())
	_, err = c2.Move(seq(3), "Enron/quenet-j/inbox").Wait()
	must("move", err)
	c2.Logout().Wait()
}

func keys(s sc.Snapshot) []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	return out
}
