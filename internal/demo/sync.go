package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/tenantferry/tenantferry/internal/admin"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/migration"
	"github.com/tenantferry/tenantferry/internal/units"
)

// Phase time limits: generous for a shared 2-core machine, but a stuck
// demo ends with DemoTimeout instead of hanging.
const (
	syncTimeout     = 10 * time.Minute
	deliveryTimeout = time.Minute
)

// watch shows the batch's progress until no user is busy, then checks that
// every user reached state.
func (d *run) watch(ctx context.Context, what, state string) ([]*migration.UserView, error) {
	t := d.tgt
	wctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	fetch := func() ([]*migration.UserView, error) { return t.Admin.BatchUsers(wctx, t.admin, t.tenant, d.batch) }
	watch := d.o.Watch
	if watch == nil {
		watch = watchLines
	}
	if err := watch(wctx, d.o.Out, fetch); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, errs.New(errs.Unavailable, "DemoTimeout", "%s did not finish within %s", what, syncTimeout).
				WithHint("see %s for what the servers did", d.dd.sub(LogFile))
		}
		return nil, err
	}
	us, err := t.Admin.BatchUsers(ctx, t.admin, t.tenant, d.batch)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if u.Error != nil {
			return nil, errs.New(errs.Internal, u.Error.Code, "%s: %s is %s: %s", what, u.EmailAddress, u.Status, u.Error.Message).
				WithHint("see 'tenantferry batch report %s --user %s' and %s", d.batch, u.EmailAddress, d.dd.sub(LogFile))
		}
		if u.Status != state {
			return nil, errs.New(errs.Internal, "DemoUnexpectedState", "%s: %s is %s (%s), not %s", what, u.EmailAddress, u.Status, u.StatusDetail, state)
		}
	}
	return us, nil
}

// busy reports whether a user is still changing on its own.
func busy(u *migration.UserView) bool {
	switch u.Status {
	case migration.StateQueued, migration.StateValidating, migration.StateSyncing, migration.StateIncrementalSyncing,
		migration.StateCompleting, migration.StateStopping, migration.StateRemoving:
		return true
	}
	return u.Status == migration.StateSynced && (u.StatusDetail == "SyncQueued" || u.StatusDetail == "CompletionQueued")
}

// watchLines is the default WatchFunc: a line per user whenever its state
// changes or its progress passes a quarter.
func watchLines(ctx context.Context, w io.Writer, fetch func() ([]*migration.UserView, error)) error {
	last := map[string]string{}
	explained := false
	for {
		us, err := fetch()
		if err != nil {
			return err
		}
		anyBusy := false
		for _, u := range us {
			key := fmt.Sprintf("%s %d", u.Status, u.PercentComplete/25)
			if last[u.EmailAddress] != key {
				last[u.EmailAddress] = key
				fmt.Fprintln(w, progressLine(u))
				if u.Status == migration.StateSynced && !explained {
					explained = true
					fmt.Fprintln(w, "      (Synced shows 95%, as in Exchange: the last 5% is the completion)")
				}
			}
			anyBusy = anyBusy || busy(u)
		}
		if !anyBusy {
			return nil
		}
		if err := units.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// progressLine is one user's progress; before validation has counted the
// source it says so instead of showing 0/0 items.
func progressLine(u *migration.UserView) string {
	if u.ItemsTotal == 0 && (u.Status == migration.StateQueued || u.Status == migration.StateValidating) {
		return fmt.Sprintf("    %-36s %-20s       (the item count is known after validation)", u.EmailAddress, u.Status)
	}
	return fmt.Sprintf("    %-36s %-20s %3d%%  %s/%s items  %s", u.EmailAddress, u.Status, u.PercentComplete,
		count(u.ItemsSynced), count(u.ItemsTotal), units.Bytes(u.BytesTransferred))
}

// step11Watch follows the initial sync until every user is Synced.
func (d *run) step11Watch(ctx context.Context) error {
	d.p.step(11, "Watch the initial sync (validate → Syncing → Synced; progress is persisted as it goes)",
		"Get-MigrationUser -BatchId wave1 | Get-MigrationUserStatistics (StatusDetail, PercentageComplete, BytesTransferred)")
	d.p.cmd("tenantferry --server $TGT batch watch --tenant fabrikam %s", d.batch)
	us, err := d.watch(ctx, "the initial sync", migration.StateSynced)
	if err != nil {
		return err
	}
	// The wall time ends when the last user finished its initial sync (the
	// watch polls, so its own end would add up to a poll interval).
	end := time.Time{}
	for _, u := range us {
		if u.InitialSeedingCompletedTime != nil && u.InitialSeedingCompletedTime.After(end) {
			end = *u.InitialSeedingCompletedTime
		}
	}
	if end.IsZero() {
		end = time.Now()
	}
	d.res.InitialSync = max(end.Sub(d.initialStart), time.Millisecond)
	for _, u := range us {
		if u.ItemsSynced != u.ItemsTotal {
			return errs.New(errs.Internal, "DemoIncompleteSync", "%s is Synced with %d of %d items", u.EmailAddress, u.ItemsSynced, u.ItemsTotal)
		}
		d.res.InitialItems += u.ItemsSynced
		d.res.InitialBytes += u.BytesTransferred
	}
	secs := d.res.InitialSync.Seconds()
	d.p.result("all %d users Synced: %s items, %s in %s (%s/s, %s items/s), validation included", len(us), count(d.res.InitialItems),
		units.Bytes(d.res.InitialBytes), dur(d.res.InitialSync), units.Bytes(int64(float64(d.res.InitialBytes)/secs)), count(int64(float64(d.res.InitialItems)/secs)))
	return nil
}

// step11Incremental changes a source mailbox (new mail over SMTP, a flag
// over IMAP), runs sync-now and shows both changes on the target.
func (d *run) step11Incremental(ctx context.Context) error {
	s, t := d.src, d.tgt
	u := d.users[min(1, d.o.Users-1)]
	addr := u.sourceAddr(s)
	d.p.continued(11, "Incremental sync before the cutover: new mail and a flag change reach the target on demand",
		"Set-MigrationBatch -Identity wave1 -SyncNow (and automatically every IncrementalSyncInterval)")
	subject := "Quarterly numbers (sent before the cutover)"
	d.p.cmd("swaks --server %s --from cfo@partner.example --to %s --header %s", s.Addr("smtp"), addr, quote("Subject: "+subject))
	if err := sendMail(s.Addr("smtp"), "cfo@partner.example", addr, message("CFO <cfo@partner.example>", addr, subject, "Numbers attached soon.")); err != nil {
		return fmt.Errorf("send to %s over SMTP: %w", addr, err)
	}
	sess, err := imapLogin(s.Addr("imap"), addr, SourcePassword)
	if err != nil {
		return err
	}
	defer sess.close()
	m, err := waitFor(ctx, deliveryTimeout, func() (*found, error) { return sess.findSubject("INBOX", subject) })
	if err != nil || m == nil {
		return errNotDelivered(err, addr, "the source", d)
	}
	d.p.result("delivered on the source: %s INBOX UID %d (seen over IMAP at %s)", addr, m.UID, s.Addr("imap"))
	d.p.cmd("(%s's mail app, over IMAP) UID STORE <oldest unflagged in INBOX> +FLAGS (\\Flagged)", u.alias)
	fl, err := sess.flagFirstUnflagged("INBOX", imap.FlagFlagged)
	if err != nil {
		return err
	}
	d.p.result("flagged INBOX UID %d %q", fl.UID, fl.Subject)

	d.p.cmd("tenantferry --server $TGT batch sync-now --tenant fabrikam %s", d.batch)
	if _, err := t.Admin.BatchCommand(ctx, t.admin, t.tenant, d.batch, admin.BatchSyncNow, false); err != nil {
		return err
	}
	us, err := d.watch(ctx, "the incremental sync", migration.StateSynced)
	if err != nil {
		return err
	}
	got, err := findInStore(ctx, t.Store, t.tenantID, u.src.ExchangeGuid, func(it mailstore.Item) bool { return it.Subject == subject })
	if err != nil {
		return err
	}
	flagged, err := findInStore(ctx, t.Store, t.tenantID, u.src.ExchangeGuid, func(it mailstore.Item) bool { return sameMsgID(it.MessageID, fl.MessageID) })
	if err != nil {
		return err
	}
	if got == nil || flagged == nil || !slices.Contains(flagged.Flags, `\Flagged`) {
		return errs.New(errs.Internal, "DemoIncrementalMissing", "after sync-now the target copy of %s lacks the new message or the flag", addr)
	}
	pass := ""
	for _, v := range us {
		if strings.EqualFold(v.SourceAddress, addr) || strings.HasPrefix(v.EmailAddress, u.alias+"@") {
			pass = v.LastSyncDuration
		}
	}
	d.p.result("target copy of %s (still staged, not yet a mailbox): new message at INBOX UID %d, %q now \\Flagged; the pass took %s",
		u.alias, got.UID, fl.Subject, pass)
	return nil
}

// sameMsgID compares Message-IDs with or without angle brackets.
func sameMsgID(a, b string) bool {
	return a != "" && strings.Trim(a, "<> ") == strings.Trim(b, "<> ")
}

// findInStore finds an INBOX item of a mailbox (by GUID) directly in a
// server's store; nil when none matches.
func findInStore(ctx context.Context, st *mailstore.Store, tenantID, guid string, match func(mailstore.Item) bool) (*mailstore.Item, error) {
	mb, err := st.Mailbox(ctx, tenantID, guid)
	if err != nil {
		return nil, err
	}
	inbox, err := st.FolderBySpecialUse(ctx, mb.ID, mailstore.UseInbox)
	if err != nil {
		return nil, err
	}
	items, err := st.Fetch(ctx, mb.ID, inbox.ID, mailstore.AllUIDs)
	if err != nil {
		return nil, err
	}
	for i := range items {
		if match(items[i]) {
			return &items[i], nil
		}
	}
	return nil, nil
}

// errNotDelivered reports mail that did not arrive in time.
func errNotDelivered(err error, addr, where string, d *run) error {
	if err != nil {
		return err
	}
	return errs.New(errs.Unavailable, "DemoMailNotDelivered", "the message to %s did not arrive in %s within %s", addr, where, deliveryTimeout).
		WithHint("see %s for the delivery queue's log", d.dd.sub(LogFile))
}
