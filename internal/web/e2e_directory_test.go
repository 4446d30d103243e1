package web_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/testsupport/scenario"
)

// fieldError reads the coded error shown in sel and checks that it speaks
// of the form's fields (no CLI flag) and carries code.
func (b *browser) fieldError(sel, code string, words ...string) {
	b.t.Helper()
	b.do("error in "+sel, 30*time.Second, chromedp.WaitVisible(chromedp.CSS(sel+" .error")))
	e := b.text(sel + " .error")
	if !codedError.MatchString(e) || !strings.HasPrefix(e, code+": ") || strings.Contains(e, "--") {
		b.t.Errorf("%s: error shown as %q, want %s in field words", sel, e, code)
	}
	for _, w := range words {
		if !strings.Contains(e, w) {
			b.t.Errorf("%s: error %q does not name %q", sel, e, w)
		}
	}
}

// TestDirectoryPagesInChromium drives the directory pages in headless
// Chromium against a real server: a mailbox created, renamed, given and
// relieved of an address, its password set in a dialog (then used to sign
// in), its quota set and lifted, and deleted after a typed confirmation;
// the mailbox list searched and paged; a mail-enabled security group
// created and its members added and removed (its members paged); Prepare
// mail users previewed (nothing written) then applied (MailUsers stamped
// with the source ExchangeGuid); one refusal per form, shown as a coded
// error in field words; the layout at 1400, 800 and 390 pixels.
func TestDirectoryPagesInChromium(t *testing.T) {
	browserTest(t)
	ctx := context.Background()
	dir := artifacts(t)
	s := scenario.Start(t, scenario.Options{})
	s.Tenant("contoso")
	s.Tenant("fabrikam")
	u1 := s.Mailbox("contoso", "user01", "pw-user01", false)
	u2 := s.Mailbox("contoso", "user02", "pw-user02", true)
	// More mailboxes than a page of the list holds.
	for i := 0; i < bulk; i++ {
		if _, err := s.Admin.CreateRecipient(ctx, s.Op, "contoso", directory.RecipientSpec{Type: directory.UserMailbox, Alias: fmt.Sprintf("bulk%02d", i),
			DisplayName: fmt.Sprintf("Bulk %02d", i), Shared: true}); err != nil {
			t.Fatal(err)
		}
	}
	tr := scenario.SetupTrust(t, s, "contoso", s, "fabrikam")
	tr.AddToScope(t, s, "user01", "user02")
	cDomain := s.Tenant("contoso").InitialDomain

	b := newBrowser(t)
	ui := s.PublicURL + "/ui/"
	b.uiSignIn(ui, operatorToken(t, s))

	d := &dirRun{t: t, ctx: ctx, s: s, b: b, ui: ui, dir: dir, cDomain: cDomain, u1: u1, u2: u2, tr: tr}
	ann := d.createMailbox()
	d.editMailbox(ann)
	d.quota(ann)
	d.listAndDelete(ann)
	d.group()
	d.prepare()
	d.asTenantAdmin()
	b.checkConsole()
}

// bulk is the number of shared mailboxes seeded past a page of the list.
const bulk = 55

// dirRun is the state TestDirectoryPagesInChromium's phases share.
type dirRun struct {
	t       *testing.T
	ctx     context.Context
	s       *scenario.Server
	b       *browser
	ui, dir string
	cDomain string
	u1, u2  *directory.Recipient
	tr      *scenario.Trust
}

// createMailbox creates ann (after a refusal) and checks the identity
// page (step 7) of an archive mailbox; it returns ann's address.
func (d *dirRun) createMailbox() string {
	t, ctx, s, b, ui, dir, cDomain, u2 := d.t, d.ctx, d.s, d.b, d.ui, d.dir, d.cDomain, d.u2
	// Create: a refusal first (a user mailbox needs a password), nothing
	// written; then ann.
	b.do("open mailboxes", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes"),
		chromedp.WaitVisible(chromedp.CSS("#mb-new summary")),
		chromedp.Click(chromedp.CSS("#mb-new summary")),
		chromedp.SendKeys(chromedp.CSS("#mb-alias"), "nopw"),
		chromedp.Click(chromedp.CSS("#mb-create")))
	b.fieldError("#mb-create-notice", "MissingField", "Password")
	if _, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", "nopw"); !errors.Is(err, directory.ErrRecipientNotFound) {
		t.Errorf("refused mailbox nopw: %v, want RecipientNotFound", err)
	}
	b.shot(dir, "mailbox-create-refused")
	ann := b.uiCreateMailbox(ui, "contoso", "ann", "pw-ann-first")
	if ann != "ann@"+cDomain {
		t.Errorf("created %q, want ann@%s", ann, cDomain)
	}
	r, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", ann)
	if err != nil || r.Type != directory.UserMailbox || r.Shared {
		t.Fatalf("ann after create: %v %+v", err, r)
	}
	if _, err := s.Dir.Login(ctx, ann, "pw-ann-first"); err != nil {
		t.Errorf("login with the password given at creation: %v", err)
	}

	// The identity (step 7), with copy buttons for the GUIDs.
	if g := b.uiMailboxIdentity(ui, "contoso", u2.PrimarySmtpAddress); g != u2.ExchangeGuid {
		t.Errorf("ExchangeGuid shown %q, want %q", g, u2.ExchangeGuid)
	}
	if got := b.text(`#recipient dd[data-field="ArchiveGuid"] code`); got != u2.ArchiveGuid || u2.ArchiveGuid == "" {
		t.Errorf("ArchiveGuid shown %q, want %q", got, u2.ArchiveGuid)
	}
	for _, id := range []string{"#copy-ExchangeGuid", "#copy-ArchiveGuid"} {
		if n := eval[int](b, `document.querySelectorAll('`+id+`').length`); n != 1 {
			t.Errorf("%s: %d buttons", id, n)
		}
	}
	if got := b.text(`#recipient dd[data-field="LegacyExchangeDN"]`); got != u2.LegacyExchangeDN {
		t.Errorf("LegacyExchangeDN shown %q, want %q", got, u2.LegacyExchangeDN)
	}
	return ann
}

// editMailbox renames ann, adds and removes an address and sets her
// password, each after a refusal.
func (d *dirRun) editMailbox(ann string) {
	t, ctx, s, b, ui, dir, cDomain, tr := d.t, d.ctx, d.s, d.b, d.ui, d.dir, d.cDomain, d.tr
	r, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", ann)
	if err != nil {
		t.Fatal(err)
	}
	// Edit: names, an address added and removed, a foreign address refused.
	extra := "smtp:ann.lee@" + cDomain
	b.do("too long a display name", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes/"+ann),
		chromedp.WaitVisible(chromedp.CSS("#ed-display")),
		chromedp.SetValue(chromedp.CSS("#ed-display"), strings.Repeat("x", directory.MaxDisplayNameLen+1)),
		chromedp.Click(chromedp.CSS("#ed-save")))
	b.fieldError("#mb-notice", "NameTooLong", "DisplayName")
	if r2, _ := s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); r2.DisplayName != r.DisplayName {
		t.Errorf("refused display name written: %q, was %q", r2.DisplayName, r.DisplayName)
	}
	b.do("edit names", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#ed-display"), "Ann Lee"),
		chromedp.SetValue(chromedp.CSS("#ed-last"), "Lee"),
		chromedp.Click(chromedp.CSS("#ed-save")),
		chromedp.WaitVisible(chromedp.CSS(`#mb-notice [data-change="names"]`)),
		chromedp.SendKeys(chromedp.CSS("#ed-add-address"), extra),
		chromedp.Click(chromedp.CSS("#ed-add")),
		chromedp.WaitVisible(chromedp.CSS(`#addresses li[data-address="`+extra+`"]`)))
	if r, err = s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); err != nil || r.DisplayName != "Ann Lee" || r.LastName != "Lee" ||
		!strings.Contains(strings.Join(r.EmailAddresses(), ","), extra) {
		t.Fatalf("ann after edit: %v %+v %v", err, r, r.EmailAddresses())
	}
	if got := b.text(`#recipient dd[data-field="DisplayName"]`); got != "Ann Lee" {
		t.Errorf("display name shown %q after save", got)
	}
	b.do("remove address", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#addresses li[data-address="`+extra+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#addr-notice [data-removed="`+extra+`"]`)))
	if r, _ = s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); strings.Contains(strings.Join(r.EmailAddresses(), ","), extra) {
		t.Errorf("address %s still there: %v", extra, r.EmailAddresses())
	}
	b.do("add a foreign address", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#ed-add-address"), "smtp:ann@"+tr.TargetDelivery),
		chromedp.Click(chromedp.CSS("#ed-add")))
	b.do("foreign address refused", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#addr-notice .error")))
	if e := b.text("#addr-notice .error"); !codedError.MatchString(e) || strings.Contains(e, "--") {
		t.Errorf("foreign address refused as %q", e)
	}
	if r, _ = s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); strings.Contains(strings.ToLower(strings.Join(r.EmailAddresses(), ",")), tr.TargetDelivery) {
		t.Errorf("refused address written: %v", r.EmailAddresses())
	}

	// Password: an empty one refused in the dialog, then a new one set,
	// never shown back, and it signs in.
	const newPw = "pw-ann-second-Zq7"
	b.do("password dialog", 30*time.Second,
		chromedp.Click(chromedp.CSS("#mb-set-password")),
		chromedp.WaitVisible(chromedp.CSS("#pw-new")),
		chromedp.Click(chromedp.CSS("#pw-ok")))
	b.fieldError("#pw-error", "InvalidPassword")
	b.shot(dir, "password-refused")
	b.do("set password", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#pw-new"), newPw),
		chromedp.Click(chromedp.CSS("#pw-ok")),
		chromedp.WaitVisible(chromedp.CSS(`#mb-notice [data-change="password"]`)))
	if eval[bool](b, `document.body.innerText.includes(`+jsq(newPw)+`) || !!document.querySelector('#pw-dialog')`) {
		t.Error("the password is shown back, or its dialog stayed")
	}
	if _, err := s.Dir.Login(ctx, ann, newPw); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if _, err := s.Dir.Login(ctx, ann, "pw-ann-first"); err == nil {
		t.Error("the old password still signs in")
	}
}

// quota sets ann's quota (after a refusal), checks the mailbox page's
// layout, then lifts the quota.
func (d *dirRun) quota(ann string) {
	t, ctx, s, b, dir := d.t, d.ctx, d.s, d.b, d.dir
	r, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", ann)
	if err != nil {
		t.Fatal(err)
	}
	// Quota: a negative one refused, 2 GB set, then lifted.
	b.do("negative quota", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#quota-value"), "-1"),
		chromedp.Click(chromedp.CSS("#quota-set")))
	b.fieldError("#quota-notice", "InvalidQuota")
	b.do("quota 2 GB", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#quota-value"), "2"),
		chromedp.SetValue(chromedp.CSS("#quota-unit"), fmt.Sprint(1<<30)),
		chromedp.Click(chromedp.CSS("#quota-set")),
		chromedp.WaitVisible(chromedp.CSS(`#quota-notice [data-quota="`+fmt.Sprint(2<<30)+`"]`)))
	if r, _ = s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); r.Quota != 2<<30 {
		t.Errorf("quota %d, want %d", r.Quota, 2<<30)
	}
	if got := b.text(`#recipient dd[data-field="ProhibitSendReceiveQuota"]`); got != "2.00 GiB" {
		t.Errorf("quota shown %q", got)
	}
	b.shot(dir, "mailbox-1400")
	for _, w := range []int64{800, 390} {
		b.do(fmt.Sprintf("mailbox at %dpx", w), 30*time.Second, chromedp.EmulateViewport(w, 844), chromedp.WaitVisible(chromedp.CSS("#quota-set")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("mailbox page at %dpx: %s", w, probs)
		}
		if sw := eval[int](b, `document.documentElement.scrollWidth`); sw > int(w) {
			t.Errorf("mailbox page at %dpx is %dpx wide", w, sw)
		}
		b.shot(dir, fmt.Sprintf("mailbox-%d", w))
	}
	b.do("unlimited", 30*time.Second,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Click(chromedp.CSS("#quota-unlimited")),
		chromedp.WaitVisible(chromedp.CSS(`#quota-notice [data-quota="0"]`)))
	if r, _ = s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); r.Quota != 0 {
		t.Errorf("quota %d after Unlimited", r.Quota)
	}
}

// listAndDelete pages through and searches the mailbox list, then deletes ann.
func (d *dirRun) listAndDelete(ann string) {
	t, ctx, s, b, ui, dir := d.t, d.ctx, d.s, d.b, d.ui, d.dir
	// The list: a page, then the rest with Load more; a search.
	all, err := s.Admin.ListRecipients(ctx, s.Op, "contoso", directory.UserMailbox)
	if err != nil || len(all) != bulk+3 {
		t.Fatalf("contoso's mailboxes: %d, %v", len(all), err)
	}
	b.do("list first page", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes"),
		chromedp.WaitVisible(chromedp.CSS(`#recipients-pager[data-more="yes"]`)))
	if n := eval[int](b, `document.querySelectorAll('#recipients tbody tr[data-address]').length`); n != 50 {
		t.Errorf("first page: %d rows, want 50", n)
	}
	b.shot(dir, "mailboxes-1400")
	for _, w := range []int64{800, 390} {
		b.do(fmt.Sprintf("list at %dpx", w), 30*time.Second, chromedp.EmulateViewport(w, 844), chromedp.WaitVisible(chromedp.CSS("#recipients-more")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("mailbox list at %dpx: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("mailboxes-%d", w))
	}
	b.do("load more", 30*time.Second,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Click(chromedp.CSS("#recipients-more")),
		chromedp.WaitVisible(chromedp.CSS(`#recipients-pager[data-more="no"]`)))
	shown := eval[[]string](b, `[...document.querySelectorAll('#recipients tbody tr[data-address]')].map((tr) => tr.dataset.address.toLowerCase())`)
	want := make([]string, len(all))
	for i, r := range all {
		want[i] = strings.ToLower(r.PrimarySmtpAddress)
	}
	if strings.Join(shown, ",") != strings.Join(want, ",") {
		t.Errorf("list after Load more:\n%v\nwant\n%v", shown, want)
	}
	b.do("search", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#rc-search"), "BULK0"),
		chromedp.Click(chromedp.CSS("#rc-search-go")),
		chromedp.WaitVisible(chromedp.CSS(`#recipients-pager[data-rows="10"][data-more="no"]`)))
	b.do("search by display name", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#rc-search"), "ann lee"),
		chromedp.Click(chromedp.CSS("#rc-search-go")),
		chromedp.WaitVisible(chromedp.CSS(`#recipients-pager[data-rows="1"]`)))
	if got := eval[string](b, `document.querySelector('#recipients tbody tr[data-address]').dataset.address`); !strings.EqualFold(got, ann) {
		t.Errorf("search for ann lee found %q", got)
	}
	b.shot(dir, "mailboxes-search")
	b.do("too long a search", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#rc-search"), strings.Repeat("x", directory.MaxSearchLen+1)),
		chromedp.Click(chromedp.CSS("#rc-search-go")))
	b.fieldError("#rc-search-notice", "InvalidSearch", "search")

	// Delete after typing the address.
	b.do("delete ann", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes/"+ann),
		chromedp.WaitVisible(chromedp.CSS("#rc-delete")),
		chromedp.Click(chromedp.CSS("#rc-delete")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-typed")),
		chromedp.SendKeys(chromedp.CSS("#confirm-typed"), ann),
		chromedp.WaitEnabled(chromedp.CSS("#confirm-ok")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.WaitVisible(chromedp.CSS("#mb-new")))
	if _, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", ann); !errors.Is(err, directory.ErrRecipientNotFound) {
		t.Errorf("ann after Delete: %v", err)
	}
}

// group creates the scope group (step 5) and adds and removes its
// members, listed a page at a time.
func (d *dirRun) group() {
	t, ctx, s, b, ui, dir, cDomain, u1, u2 := d.t, d.ctx, d.s, d.b, d.ui, d.dir, d.cDomain, d.u1, d.u2
	// The scope group (step 5): created, a duplicate refused, members
	// added, an unknown one refused, one removed.
	b.uiCreateGroup(ui, "contoso", "Wave Scope")
	b.do("duplicate group", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#grp-name"), "Wave Scope"),
		chromedp.Click(chromedp.CSS("#grp-create")))
	b.do("duplicate group refused", 30*time.Second, chromedp.WaitVisible(chromedp.CSS("#grp-notice .error")))
	if e := b.text("#grp-notice .error"); !codedError.MatchString(e) || strings.Contains(e, "--") {
		t.Errorf("duplicate group shown as %q", e)
	}
	g, err := s.Admin.GetGroup(ctx, s.Op, "contoso", "Wave Scope")
	if err != nil || g.Type != directory.SecurityGroup {
		t.Fatalf("group Wave Scope: %v %+v", err, g)
	}
	b.uiAddGroupMembers(ui, "contoso", "Wave Scope", u1.PrimarySmtpAddress, u2.PrimarySmtpAddress)
	// Typing a member suggests mailboxes (a search of the mailbox list).
	b.do("member suggestions", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS("#member-add"), "BULK1"),
		chromedp.WaitReady(chromedp.CSS(`#member-suggest option[value="bulk10@`+cDomain+`"]`)))
	if n := eval[int](b, `document.querySelectorAll('#member-suggest option').length`); n != 10 {
		t.Errorf("%d suggestions for BULK1, want bulk10 to bulk19", n)
	}
	b.do("unknown member", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#member-add"), "nobody@"+cDomain),
		chromedp.Click(chromedp.CSS("#member-add-btn")))
	b.fieldError("#member-notice", "RecipientNotFound")
	members := func() []string {
		t.Helper()
		gv, err := s.Admin.GetGroup(ctx, s.Op, "contoso", "Wave Scope")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range gv.Members {
			out = append(out, m.PrimarySmtpAddress)
		}
		return out
	}
	if got := members(); len(got) != 2 {
		t.Errorf("members after adding two: %v", got)
	}
	b.shot(dir, "group-1400")
	for _, w := range []int64{800, 390} {
		b.do(fmt.Sprintf("group at %dpx", w), 30*time.Second, chromedp.EmulateViewport(w, 844), chromedp.WaitVisible(chromedp.CSS("#member-add-btn")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("group page at %dpx: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("group-%d", w))
	}
	row2 := `#members tr[data-address="` + strings.ToLower(u2.PrimarySmtpAddress) + `"]`
	b.do("remove member", 30*time.Second,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Click(chromedp.CSS(row2+` button[data-action="remove-member"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#member-notice[data-change="Removed"]`)))
	if got := members(); strings.Join(got, ",") != u1.PrimarySmtpAddress {
		t.Errorf("members after removing %s: %v", u2.PrimarySmtpAddress, got)
	}
	if n := eval[int](b, `document.querySelectorAll('`+row2+`').length`); n != 0 {
		t.Errorf("removed member still listed")
	}
	// A big group's members come a page at a time.
	for i := 0; i < bulk; i++ {
		if _, err := s.Admin.AddMember(ctx, s.Op, "contoso", "Wave Scope", fmt.Sprintf("bulk%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b.do("members pages", 30*time.Second,
		chromedp.Navigate(ui+"#/t/contoso/mailboxes"),
		chromedp.WaitVisible(chromedp.CSS("#recipients-pager")),
		chromedp.Navigate(ui+"#/t/contoso/groups/Wave%20Scope"),
		chromedp.WaitVisible(chromedp.CSS(`#members-pager[data-rows="50"][data-more="yes"]`)),
		chromedp.Click(chromedp.CSS("#members-more")),
		chromedp.WaitVisible(chromedp.CSS(`#members-pager[data-rows="56"][data-more="no"]`)))
}

// prepare previews then applies Prepare mail users (step 8) on the target.
func (d *dirRun) prepare() {
	t, ctx, s, b, ui, dir, u1, u2, tr := d.t, d.ctx, d.s, d.b, d.ui, d.dir, d.u1, d.u2, d.tr
	// Prepare mail users (step 8) on the target: a bad CSV refused; a
	// preview writes nothing, Apply is stale once the inputs change;
	// then the step helper previews and applies.
	tgt := func(a string) string { return a + "@" + tr.TargetDelivery }
	csv := "EmailAddress\n" + tgt("user01") + "\n" + tgt("user02") + "\n"
	b.do("open prepare", 30*time.Second,
		chromedp.Navigate(ui+"#/t/fabrikam/prepare"),
		chromedp.WaitVisible(chromedp.CSS("#prep-preview")))
	b.fillPrepare(tr.Endpoint, "Address\n"+tgt("user01")+"\n", tr.TargetDelivery)
	b.do("preview a bad CSV", 30*time.Second, chromedp.Click(chromedp.CSS("#prep-preview")))
	b.fieldError("#prep-notice", "InvalidCsv", "EmailAddress")
	b.shot(dir, "prepare-refused")
	b.fillPrepare(tr.Endpoint, csv, tr.TargetDelivery)
	b.do("preview", time.Minute,
		chromedp.Click(chromedp.CSS("#prep-preview")),
		chromedp.WaitVisible(chromedp.CSS(`#prep-result[data-mode="preview"] #prepare-rows`)),
		chromedp.WaitEnabled(chromedp.CSS("#prep-apply")))
	for _, u := range []struct{ alias, guid string }{{"user01", u1.ExchangeGuid}, {"user02", u2.ExchangeGuid}} {
		row := `#prepare-rows tr[data-address="` + tgt(u.alias) + `"]`
		if k := eval[string](b, `(document.querySelector('`+row+`') || {dataset: {}}).dataset.kind || ''`); k != "create" {
			t.Errorf("preview of %s: %q, want create", u.alias, k)
		}
		if got := b.text(row + " td:nth-child(5)"); got != u.guid {
			t.Errorf("preview of %s: ExchangeGuid %q, want %q", u.alias, got, u.guid)
		}
		if got := b.text(row + " td:nth-child(7)"); got != tgt(u.alias) {
			t.Errorf("preview of %s: target address %q", u.alias, got)
		}
		if !strings.Contains(b.text(row+" td:nth-child(6)"), "X500:") {
			t.Errorf("preview of %s shows no X500 address", u.alias)
		}
		if _, err := s.Admin.GetRecipient(ctx, s.Op, "fabrikam", tgt(u.alias)); !errors.Is(err, directory.ErrRecipientNotFound) {
			t.Errorf("preview wrote %s: %v", tgt(u.alias), err)
		}
	}
	b.shot(dir, "prepare-preview-1400")
	for _, w := range []int64{800, 390} {
		b.do(fmt.Sprintf("prepare at %dpx", w), 30*time.Second, chromedp.EmulateViewport(w, 844), chromedp.WaitVisible(chromedp.CSS("#prep-apply")))
		if probs := eval[string](b, layoutProblems); probs != "" {
			t.Errorf("prepare page at %dpx: %s", w, probs)
		}
		b.shot(dir, fmt.Sprintf("prepare-preview-%d", w))
	}
	b.do("change the CSV", 30*time.Second,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.SendKeys(chromedp.CSS("#prep-csv"), "x"))
	if !eval[bool](b, `document.querySelector('#prep-apply').disabled`) {
		t.Error("Apply stays enabled after the CSV changed")
	}
	if n := b.uiPrepareMailUsers(ui, "fabrikam", tr.Endpoint, csv, tr.TargetDelivery); n != 2 {
		t.Errorf("prepare applied %d rows, want 2", n)
	}
	for _, u := range []struct{ alias, guid, src string }{{"user01", u1.ExchangeGuid, u1.PrimarySmtpAddress}, {"user02", u2.ExchangeGuid, u2.PrimarySmtpAddress}} {
		mu, err := s.Admin.GetRecipient(ctx, s.Op, "fabrikam", tgt(u.alias))
		if err != nil || mu.Type != directory.MailUser || mu.ExchangeGuid != u.guid || mu.ExternalEmailAddress != u.src {
			t.Errorf("MailUser %s after Apply: %v %+v", tgt(u.alias), err, mu)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('#prepare-rows tr[data-kind="create"][data-action="Created"]').length`); n != 2 {
		t.Errorf("result table: %d rows created, want 2", n)
	}
	b.shot(dir, "prepare-applied")
	b.do("to the mail users", 30*time.Second,
		chromedp.Click(chromedp.CSS("#prep-done a")),
		chromedp.WaitVisible(chromedp.CSS(`#recipients tr[data-address="`+tgt("user01")+`"]`)))
}

// asTenantAdmin runs the steps as the source tenant's admin.
func (d *dirRun) asTenantAdmin() {
	t, ctx, s, b, ui, cDomain, u1 := d.t, d.ctx, d.s, d.b, d.ui, d.cDomain, d.u1
	// The steps as the source tenant's admin (as the whole scenario runs
	// them): a mailbox, its identity, a group with it as member; the
	// mailbox lands in contoso's default domain.
	tok, _, _, err := s.Admin.IssueAdminToken(ctx, s.Op, "contoso", "web-steps", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b.uiSignIn(ui, tok)
	bo := b.uiCreateMailbox(ui, "contoso", "bo", "pw-bo-1")
	// A step repeated on the page it left open renders it afresh.
	if cy := b.uiCreateMailbox(ui, "contoso", "cy", "pw-cy-1"); !strings.EqualFold(cy, "cy@"+cDomain) {
		t.Errorf("second mailbox created as %q", cy)
	}
	bob, err := s.Admin.GetRecipient(ctx, s.Op, "contoso", "bo")
	if err != nil || !strings.EqualFold(bo, bob.PrimarySmtpAddress) || !strings.HasSuffix(bo, "@"+cDomain) {
		t.Fatalf("bo created as %q: %v %+v", bo, err, bob)
	}
	if g := b.uiMailboxIdentity(ui, "contoso", bo); g != bob.ExchangeGuid {
		t.Errorf("tenant admin sees ExchangeGuid %q, want %q", g, bob.ExchangeGuid)
	}
	b.uiCreateGroup(ui, "contoso", "Second Scope")
	b.uiAddGroupMembers(ui, "contoso", "Second Scope", bo, u1.PrimarySmtpAddress)
	b.uiAddGroupMembers(ui, "contoso", "Second Scope", "cy@"+cDomain)
	if gv, err := s.Admin.GetGroup(ctx, s.Op, "contoso", "Second Scope"); err != nil || len(gv.Members) != 3 {
		t.Errorf("Second Scope after the tenant admin's steps: %v %+v", err, gv)
	}
}
