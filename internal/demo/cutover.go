package demo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/imapd"
	"github.com/tenantferry/tenantferry/internal/migration"
)

// step12Complete completes the batch and shows the converted recipients.
func (d *run) step12Complete(ctx context.Context) error {
	s, t := d.src, d.tgt
	d.p.step(12, "Complete the batch: lock the source, final incremental sync, verify, activate the target, convert the source",
		"Complete-MigrationBatch -Identity wave1")
	d.p.cmd("tenantferry --server $TGT batch complete --tenant fabrikam %s", d.batch)
	if _, err := t.Admin.BatchCommand(ctx, t.admin, t.tenant, d.batch, admin.BatchComplete, false); err != nil {
		return err
	}
	us, err := d.watch(ctx, "the completion", migration.StateCompleted)
	if err != nil {
		return err
	}
	d.res.Users = us
	for _, u := range us {
		d.p.result("%-36s %s  lock window %s  DataConsistencyScore %s", u.EmailAddress, u.Status, u.LockWindow, u.DataConsistencyScore)
	}
	for _, u := range d.users {
		if !u.moved {
			continue
		}
		sr, err := s.Admin.GetRecipient(ctx, s.admin, s.tenant, u.alias)
		if err != nil {
			return err
		}
		tr, err := t.Admin.GetRecipient(ctx, t.admin, t.tenant, u.alias)
		if err != nil {
			return err
		}
		if sr.Type != directory.MailUser || tr.Type != directory.UserMailbox || tr.ExchangeGuid != u.src.ExchangeGuid {
			return errs.New(errs.Internal, "DemoCutoverIncomplete", "%s is Completed, but contoso has a %s and fabrikam a %s (ExchangeGuid %s)",
				u.alias, sr.Type, tr.Type, tr.ExchangeGuid)
		}
		d.p.detail("contoso  %-8s UserMailbox → MailUser, ExternalEmailAddress %s", u.alias, sr.ExternalEmailAddress)
		d.p.detail("fabrikam %-8s MailUser → UserMailbox, ExchangeGuid %s (the source's)", u.alias, tr.ExchangeGuid)
	}
	return nil
}

// step13Remove removes the batch; its history stays.
func (d *run) step13Remove(ctx context.Context) error {
	t := d.tgt
	d.p.step(13, "Remove the batch (history and reports stay queryable)", "Remove-MigrationBatch -Identity wave1")
	d.p.cmd("tenantferry --server $TGT batch remove --tenant fabrikam %s", d.batch)
	b, err := t.Admin.BatchCommand(ctx, t.admin, t.tenant, d.batch, admin.BatchRemove, false)
	if err != nil {
		return err
	}
	d.p.result("%s: Status %s; 'tenantferry batch report %s --tenant fabrikam' still shows each user's report log", b.Name, b.Status, d.batch)
	return nil
}

// step14After gives the moved users a target password, sends mail to an
// old source address and finds it in the target mailbox over IMAP.
func (d *run) step14After(ctx context.Context) error {
	s, t := d.src, d.tgt
	u := d.users[0]
	old, addr := u.sourceAddr(s), u.alias+"@"+t.domain
	d.p.step(14, "Afterwards: mail to the old address reaches the target mailbox, where the user reads old and new mail over IMAP",
		"the contoso MailUser's ExternalEmailAddress (targetAddress) routes mail to fabrikam; the user signs in with the fabrikam account")
	pw := TargetPassword
	for _, mu := range d.users {
		if !mu.moved {
			continue
		}
		d.p.cmd("tenantferry --server $TGT mailbox set --tenant fabrikam %s --password %s", mu.alias, pw)
		if _, err := t.Admin.UpdateRecipient(ctx, t.admin, t.tenant, mu.alias, directory.RecipientUpdate{Password: &pw}, directory.UserMailbox); err != nil {
			return err
		}
	}
	subject := fmt.Sprintf("After the cutover: hello %s", u.first)
	d.p.cmd("swaks --server %s --from partner@partner.example --to %s --header %s", s.Addr("smtp"), old, quote("Subject: "+subject))
	sent := time.Now()
	if err := sendMail(s.Addr("smtp"), "partner@partner.example", old, message("Partner <partner@partner.example>", old, subject, "Welcome to fabrikam!")); err != nil {
		return fmt.Errorf("send to %s over SMTP: %w", old, err)
	}
	d.p.result("accepted by the contoso server (%s is now a MailUser forwarding to %s)", old, addr)
	d.p.cmd("(the user's mail app) IMAP %s, LOGIN %s, SELECT INBOX, SEARCH SUBJECT …", t.Addr("imap"), addr)
	sess, err := imapLogin(t.Addr("imap"), addr, pw)
	if err != nil {
		return err
	}
	defer sess.close()
	m, err := waitFor(ctx, deliveryTimeout, func() (*found, error) { return sess.findSubject("INBOX", subject) })
	if err != nil || m == nil {
		return errNotDelivered(err, addr, "the target mailbox", d)
	}
	a := &Arrival{SentTo: old, Mailbox: addr, Folder: m.Folder, UID: m.UID, Subject: m.Subject, Received: m.Received, After: time.Since(sent)}
	d.res.PostCutover = a
	d.p.result("landed in fabrikam: %s %s UID %d, %s after sending; INBOX holds %s messages (moved and new)",
		a.Mailbox, a.Folder, a.UID, dur(a.After), count(int64(m.Exists)))
	for _, r := range a.Received {
		if i := strings.Index(r, " id "); i > 0 {
			r = r[:i] // the hop, without queue id and date
		}
		d.p.detail("Received: %s", r)
	}
	if u.archive {
		folders, msgs, err := sess.treeCount(imapd.ArchiveRoot)
		if err != nil {
			return err
		}
		a.ArchiveMessages = msgs
		d.p.result("the moved archive is in the same account under %q: %s messages in %d folders", imapd.ArchiveRoot, count(msgs), folders)
	}
	gw, err := d.checkGroupware(ctx)
	if err != nil {
		return err
	}
	d.res.Groupware = gw
	d.p.cmd("(the user's calendar app) CalDAV %s/dav/calendars/%s/Calendar/ and CardDAV .../addressbooks/%s/Contacts/", t.PublicURL, addr, addr)
	d.p.result("calendars, tasks and contacts moved: %d events, %d tasks, %d contacts; %d of %d objects byte-exact (SHA-256)",
		gw.Events, gw.Tasks, gw.Contacts, gw.Matching, gw.Total)
	if gw.Matching != gw.Total {
		return fmt.Errorf("only %d of %d calendar, task and contact objects arrived unchanged", gw.Matching, gw.Total)
	}
	return nil
}
