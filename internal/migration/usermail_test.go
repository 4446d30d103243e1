package migration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// inboxMail returns the raw messages in the inbox of a mailbox (by
// tenant and GUID) whose subject contains sub.
func inboxMail(t *testing.T, s *scenario.Server, tenant, guid, sub string) []string {
	t.Helper()
	ctx := context.Background()
	mb := s.Content(tenant, guid)
	inbox, err := s.Store.FolderBySpecialUse(ctx, mb.ID, mailstore.UseInbox)
	if err != nil {
		t.Fatal(err)
	}
	items, err := s.Store.Fetch(ctx, mb.ID, inbox.ID, mailstore.AllUIDs)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if !strings.Contains(it.Subject, sub) {
			continue
		}
		b, err := s.Store.OpenUID(ctx, mb.ID, inbox.ID, it.UID)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(b)
		b.Close()
		out = append(out, string(raw))
	}
	return out
}

// imapLogin reports whether user can log in over IMAP with pw.
func imapLogin(t *testing.T, addr, user, pw string) error {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Login(user, pw).Wait()
}

// TestUserMailsAndCarriedPassword (issue 11 items 3 and 7): a same-server
// batch with --notify-users and --password-continuity carry mails the
// user at its source address once it is synced (from the tenant's own
// before template), carries the source password so the moved user signs
// in with it at once (the target had none), and mails the new mailbox
// after the cutover (the built-in after template). An invalid template
// or mode is refused and changes nothing.
func TestUserMailsAndCarriedPassword(t *testing.T) {
	r := newRigOn(t, scenario.Options{IMAP: "127.0.0.1:0"})
	ctx := r.ctx
	src := r.source("carry", 4, false, true)
	r.stamp(src, nil) // no password on the target
	addr := r.addr("carry")

	if _, err := r.tgt.Admin.SetMigrationTemplate(ctx, r.tgt.Op, tgtName, migration.TemplateBefore, "Moving {{.Nope}}", "x"); !isCode(err, "InvalidTemplate") {
		t.Fatalf("template with an unknown field: %v", err)
	}
	if _, err := r.tgt.Admin.SetMigrationTemplate(ctx, r.tgt.Op, tgtName, "during", "s", "b"); !isCode(err, "InvalidTemplate") {
		t.Fatalf("unknown template kind: %v", err)
	}
	if tp, _ := r.tgt.Admin.MigrationTemplate(ctx, r.tgt.Op, tgtName, migration.TemplateBefore); tp.Custom {
		t.Fatal("a refused template was stored")
	}
	if _, err := r.tgt.Admin.SetMigrationTemplate(ctx, r.tgt.Op, tgtName, migration.TemplateBefore,
		"Fabrikam welcomes {{.EmailAddress}}", "Dear {{.DisplayName}}, set up {{.Server}} as {{.EmailAddress}}.\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.tgt.Admin.CreateBatch(ctx, r.tgt.Op, tgtName, migration.BatchSpec{Name: "bad", Endpoint: r.tr.Endpoint, CSV: csvOf(addr),
		TargetDeliveryDomain: r.tr.TargetDelivery, PasswordContinuity: "telepathy"}); !isCode(err, "InvalidPasswordContinuity") {
		t.Fatalf("unknown mode: %v", err)
	}

	bv := r.batchSpec(migration.BatchSpec{Name: "carry", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true, NotifyUsers: true,
		PasswordContinuity: "Carry"})
	if !bv.NotifyUsers || bv.PasswordContinuity != migration.PasswordCarry {
		t.Fatalf("batch: %+v", bv)
	}
	r.waitUser("carry", addr, migration.StateSynced)
	for i := 0; i < 3; i++ {
		r.s.Migration.Tick(ctx, time.Now())
	}
	scenario.Eventually(t, 30*time.Second, "the before-cutover mail at the source", func() error {
		if got := inboxMail(t, r.s, srcName, src.ExchangeGuid, "Fabrikam welcomes"); len(got) != 1 || !strings.Contains(got[0], "as "+addr) {
			return fmt.Errorf("%d before mails", len(got))
		}
		return nil
	})
	if err := imapLogin(t, r.s.Addr("imap"), addr, "pw-carry"); err == nil {
		t.Fatal("the target signed in before the move")
	}
	r.cmd("carry", admin.BatchComplete, false)
	r.waitUser("carry", addr, migration.StateCompleted)
	if err := imapLogin(t, r.s.Addr("imap"), addr, "pw-carry"); err != nil {
		t.Fatalf("the moved user cannot sign in with its source password: %v", err)
	}
	scenario.Eventually(t, 30*time.Second, "the after-cutover mail in the new mailbox", func() error {
		if got := inboxMail(t, r.s, tgtName, src.ExchangeGuid, "Your mailbox has moved to "+addr); len(got) != 1 {
			return fmt.Errorf("%d after mails", len(got))
		}
		return nil
	})
	r.s.Migration.Tick(ctx, time.Now())
	if got := inboxMail(t, r.s, tgtName, src.ExchangeGuid, "Your mailbox has moved"); len(got) != 1 {
		t.Fatalf("%d after mails after another tick", len(got))
	}
}

// TestPasswordLink (issue 11 item 7): with --password-continuity link the
// before-cutover mail carries a one-time link; the page refuses it before
// the move and a mismatched confirmation, then sets the password of the
// moved mailbox (IMAP login works with it) and refuses the used link.
func TestPasswordLink(t *testing.T) {
	r := newRigOn(t, scenario.Options{IMAP: "127.0.0.1:0"})
	ctx := r.ctx
	src := r.source("linku", 3, false, true)
	r.stamp(src, func(sp *directory.RecipientSpec) { sp.Password = "" })
	addr := r.addr("linku")
	bv := r.batchSpec(migration.BatchSpec{Name: "link", Endpoint: r.tr.Endpoint, CSV: csvOf(addr), AutoStart: true, PasswordContinuity: "link"})
	if !bv.NotifyUsers {
		t.Fatal("link does not imply NotifyUsers")
	}
	r.waitUser("link", addr, migration.StateSynced)
	r.s.Migration.Tick(ctx, time.Now())
	var link string
	scenario.Eventually(t, 30*time.Second, "the before-cutover mail with the link", func() error {
		got := inboxMail(t, r.s, srcName, src.ExchangeGuid, "is moving to")
		if len(got) != 1 {
			return fmt.Errorf("%d before mails", len(got))
		}
		link = regexp.MustCompile(`https?://\S+/password/set\?token=[A-Za-z0-9_-]+`).FindString(got[0])
		if link == "" {
			return fmt.Errorf("no link in:\n%s", got[0])
		}
		return nil
	})
	u, _ := url.Parse(link)
	page := "http://" + r.s.HTTPAddr() + u.Path
	token := u.Query().Get("token")
	post := func(tok, pw, confirm string) (int, string) {
		t.Helper()
		resp, err := http.PostForm(page, url.Values{"token": {tok}, "password": {pw}, "confirm": {confirm}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	resp, err := http.Get(page + "?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `name="token" value="`+token+`"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "form-action 'self'") {
		t.Fatalf("GET the page: %d %s", resp.StatusCode, body)
	}
	const newPW = "Brand-new-pw-1"
	if code, b := post(token, newPW, newPW); code != http.StatusConflict || !strings.Contains(b, "not moved yet") {
		t.Fatalf("before the move: %d %s", code, b)
	}
	r.cmd("link", admin.BatchComplete, false)
	r.waitUser("link", addr, migration.StateCompleted)
	if code, _ := post(token, newPW, "something-else"); code != http.StatusBadRequest {
		t.Fatalf("mismatched confirmation: %d", code)
	}
	if code, b := post("forged-token", newPW, newPW); code != http.StatusForbidden {
		t.Fatalf("forged token: %d %s", code, b)
	}
	if err := imapLogin(t, r.s.Addr("imap"), addr, newPW); err == nil {
		t.Fatal("signed in before the link was used")
	}
	if code, b := post(token, newPW, newPW); code != 200 || !strings.Contains(b, "Your password is set") {
		t.Fatalf("set the password: %d %s", code, b)
	}
	if err := imapLogin(t, r.s.Addr("imap"), addr, newPW); err != nil {
		t.Fatalf("login with the new password: %v", err)
	}
	if code, _ := post(token, "Another-pw-22", "Another-pw-22"); code != http.StatusForbidden {
		t.Fatalf("a used link: %d", code)
	}
}
