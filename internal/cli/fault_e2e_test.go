package cli_test

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/mailgen"
	sc "github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// faultSeed is the seed of TestFaultInjection's fault generator:
// TENANTFERRY_FAULT_SEED, or the clock (logged, to replay a run).
func faultSeed(t *testing.T) int64 {
	if v := os.Getenv("TENANTFERRY_FAULT_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("TENANTFERRY_FAULT_SEED=%q: %v", v, err)
		}
		return s
	}
	return time.Now().UnixNano()
}

// TestFaultInjection is issue 7's fault-injection trial, over real
// processes: two servers move a batch of four users (one holding the whole
// corpus) while mail is submitted continuously to their source addresses.
// A seeded generator injects faults during the sync and during the
// completion: kill -9 of either server (restarted at once), and a loopback
// TCP proxy between the target and the source that resets every
// connection or stalls traffic. At the end every user is Completed, every
// source message is in the target exactly once, and every message that got
// a 250 is in the target's INBOX exactly once.
func TestFaultInjection(t *testing.T) {
	if testing.Short() {
		t.Skip("fault-injection trial")
	}
	seed := faultSeed(t)
	t.Logf("fault seed %d (replay: TENANTFERRY_FAULT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	start := time.Now()
	plan := planCorpus(t)
	nodes := newNodes(t, "A", "B")
	a, b := nodes[0], nodes[1]
	px := startFaultProxy(t, a.http)
	a.extra = []string{"--public-url", px.url} // the target reaches the source through the proxy
	a.transports = []string{"fabrikam.tenantferry.test=" + b.smtp}
	b.transports = []string{"contoso.tenantferry.test=" + a.smtp}
	a.start("")
	b.start("")
	tr := setupTenants(t, a, b)
	src, tgt := tr.src, tr.tgt

	users := []*moveUser{{alias: "f1"}, {alias: "f2"}, {alias: "f3"}, {alias: "f4"}}
	for i, u := range users {
		u.password = "pw-" + u.alias + "-Secret!"
		src.run("mailbox", "create", "--tenant", "contoso", "--alias", u.alias, "--password", u.password)
		for f, p := range writeGeneratedMbox(t, mailgen.Options{Seed: int64(500 + i), Count: 800, Owner: u.srcAddr(), Median: 2000, AttachKB: 20}) {
			src.importMailbox("contoso", u.alias, "--mbox", p, "--folder", f)
		}
	}
	n := 0
	for _, e := range plan.mboxes {
		n += src.importMailbox("contoso", "f1", "--mbox", filepath.Join(plan.dir, filepath.FromSlash(e.Path)), "--folder", mboxFolder(e)).Messages
	}
	for _, root := range plan.maildirs {
		rel, _ := filepath.Rel(plan.dir, root)
		n += src.importMailbox("contoso", "f1", "--maildir", root, "--folder", "Maildir/"+strings.ReplaceAll(filepath.ToSlash(rel), "/", "-")).Messages
	}
	for i, dir := range plan.emlDirs {
		n += src.importMailbox("contoso", "f1", "--eml-dir", dir, "--folder", "Corpus/"+plan.emlSources[i]).Messages
	}
	if n != plan.total {
		t.Fatalf("imported %d corpus messages, the manifest has %d", n, plan.total)
	}
	aliases := []string{"f1", "f2", "f3", "f4"}
	tr.setupTrust(t, a, b, aliases...)
	tgt.run("endpoint", "set", "--tenant", "fabrikam", tr.endpoint, "--remote-server", px.url)
	var addrs []string
	base := map[string]sc.Snapshot{}
	for _, u := range users {
		src.json(&u.src, "mailbox", "show", "--tenant", "contoso", u.alias)
		addrs = append(addrs, u.tgtAddr())
		base[u.alias] = imapSnapshot(t, a.imap, u.srcAddr(), u.password)
	}
	csv := writeCSV(t, b.dir, "fault.csv", addrs...)
	tgt.run("mailuser", "prepare", "--tenant", "fabrikam", "--endpoint", tr.endpoint, "--csv", csv, "--target-delivery-domain", "fabrikam.tenantferry.test")
	t.Logf("setup: %d corpus + 3,200 generated messages (%s)", plan.total, time.Since(start).Round(time.Millisecond))

	// Mail submitted continuously to the source addresses; a 250 is a
	// promise.
	var mu sync.Mutex
	accepted := map[string]string{} // subject → user alias, for a 250
	attempted := map[string]bool{}  // every subject sent (a message whose 250 was lost with a killed server may arrive too)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			u := users[i%len(users)]
			subj := fmt.Sprintf("fault-%d-%d", seed%100000, i)
			mu.Lock()
			attempted[subj] = true
			mu.Unlock()
			if sc.Send(a.smtp, "stream@partner.example", []string{u.srcAddr()}, sc.Message("stream@partner.example", u.srcAddr(), subj, "x")) == nil {
				mu.Lock()
				accepted[subj] = u.alias
				mu.Unlock()
			}
		}
	}()

	var faults []string
	inject := func(phase string) {
		switch k := rng.Intn(4); k {
		case 0, 1:
			victim := []*node{a, b}[k]
			time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
			victim.kill9()
			victim.start("")
			faults = append(faults, phase+": kill -9 "+victim.name)
		case 2:
			px.reset()
			faults = append(faults, phase+": proxy reset")
		case 3:
			d := time.Duration(500+rng.Intn(2500)) * time.Millisecond
			px.stall(d)
			faults = append(faults, fmt.Sprintf("%s: proxy stall %s", phase, d))
			<-px.resumed() // the next fault comes after the stall
		}
	}
	tgt.run("batch", "create", "--tenant", "fabrikam", "--name", "faults", "--endpoint", tr.endpoint, "--csv", csv,
		"--target-delivery-domain", "fabrikam.tenantferry.test", "--auto-start")
	for i := 0; i < 6; i++ {
		time.Sleep(time.Duration(100+rng.Intn(500)) * time.Millisecond)
		inject("sync")
	}
	tgt.waitBatch("fabrikam", "faults", 3*time.Minute, "Synced")
	tgt.try("batch", "complete", "--tenant", "fabrikam", "faults", "--yes")
	for i := 0; i < 4; i++ {
		inject("completion")
	}
	tgt.try("batch", "complete", "--tenant", "fabrikam", "faults", "--yes") // in case the first request died with a server
	us := tgt.waitBatch("fabrikam", "faults", 3*time.Minute, "Completed")
	close(stop)
	wg.Wait()
	var windows []string
	for _, u := range us {
		if u.DataConsistencyScore != "Perfect" {
			t.Errorf("%s: DataConsistencyScore %s", u.EmailAddress, u.DataConsistencyScore)
		}
		windows = append(windows, u.LockWindow)
	}
	t.Logf("lock windows: %s", strings.Join(windows, ", "))

	// Every source message once; every accepted message once, in INBOX.
	mu.Lock()
	want := map[string]map[string]bool{}
	for subj, alias := range accepted {
		if want[alias] == nil {
			want[alias] = map[string]bool{}
		}
		want[alias][subj] = true
	}
	mu.Unlock()
	for _, u := range users {
		tgt.run("mailbox", "set", "--tenant", "fabrikam", u.tgtAddr(), "--password", u.password)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got := imapSubjects(t, b.imap, u.tgtAddr(), u.password, "INBOX", "fault-")
			bad := ""
			for subj := range want[u.alias] {
				if got[subj] != 1 {
					bad = subj
					break
				}
			}
			if bad == "" {
				break
			}
			if time.Now().After(deadline) || got[bad] > 1 {
				t.Fatalf("%s: %s is in the target %d times; the copies' trace fields:\n%s", u.alias, bad, got[bad],
					imapTraces(t, b.imap, u.tgtAddr(), u.password, "INBOX", bad))
			}
			time.Sleep(200 * time.Millisecond)
		}
		got := imapSnapshot(t, b.imap, u.tgtAddr(), u.password)
		// Besides the accepted ones, a message may have arrived whose 250
		// died with a killed server (the client saw an error): at most
		// once, and only one that was sent.
		streamed := imapSubjects(t, b.imap, u.tgtAddr(), u.password, "INBOX", "fault-")
		for subj, n := range streamed {
			mu.Lock()
			sent := attempted[subj]
			mu.Unlock()
			if n != 1 || !sent {
				t.Fatalf("%s: %s is in the target %d times (sent: %v)", u.alias, subj, n, sent)
			}
		}
		if len(got["INBOX"]) != len(base[u.alias]["INBOX"])+len(streamed) {
			t.Fatalf("%s: INBOX holds %d, want %d source messages + %d streamed", u.alias, len(got["INBOX"]), len(base[u.alias]["INBOX"]), len(streamed))
		}
		if !containsAll(got["INBOX"], base[u.alias]["INBOX"]) {
			t.Fatalf("%s: a source INBOX message is missing in the target", u.alias)
		}
		delete(got, "INBOX")
		b2 := sc.Snapshot{}
		for f, es := range base[u.alias] {
			if f != "INBOX" {
				b2[f] = es
			}
		}
		sameContent(t, u.alias+" after the faults", b2, got)
	}
	total := 0
	for _, w := range want {
		total += len(w)
	}
	t.Logf("seed %d: %d faults, %d messages accepted during the trial, all in the target once (%s):\n  %s",
		seed, len(faults), total, time.Since(start).Round(time.Millisecond), strings.Join(faults, "\n  "))
}

// containsAll reports whether got holds every entry of want (as multisets).
func containsAll(got, want []string) bool {
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		if count[w] == 0 {
			return false
		}
		count[w]--
	}
	return true
}

// imapSubjects counts the messages of a folder by subject, for the
// subjects with prefix.
func imapSubjects(t *testing.T, addr, user, password, folder, prefix string) map[string]int {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("imap examine %s: %v", folder, err)
	}
	out := map[string]int{}
	if sel.NumMessages == 0 {
		return out
	}
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("imap fetch: %v", err)
	}
	for _, m := range msgs {
		if m.Envelope != nil && strings.HasPrefix(m.Envelope.Subject, prefix) {
			out[m.Envelope.Subject]++
		}
	}
	return out
}

// imapTraces returns the Received and Message-ID fields of the messages of
// a folder with a subject, for diagnosing a duplicate.
func imapTraces(t *testing.T, addr, user, password, folder, subject string) string {
	t.Helper()
	c := imapLogin(t, addr, user, password)
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatalf("imap examine %s: %v", folder, err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: subject}}}, nil).Wait()
	if err != nil {
		t.Fatalf("imap search: %v", err)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(data.AllUIDs()...), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{
		{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Received", "Message-ID"}, Peek: true}}}).Collect()
	if err != nil {
		t.Fatalf("imap fetch: %v", err)
	}
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "UID %d:\n", m.UID)
		for _, sec := range m.BodySection {
			b.Write(sec.Bytes)
		}
	}
	return b.String()
}
