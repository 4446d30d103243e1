// Package quota decides whether a mailbox may take more bytes.
//
// Two limits apply to a primary mailbox: its own (the recipient's
// ProhibitSendReceiveQuota, directory.Recipient.Quota) and its tenant's
// (directory.Tenant.Quota, over every mailbox of the tenant that is not
// retired). An archive mailbox counts toward the tenant's quota only.
// 0 means unlimited.
//
// Invariants:
//   - usage is read from internal/mailstore (the items themselves), limits
//     from internal/directory; this package owns no table;
//   - a check is made before anything is written, so a refusal leaves no
//     trace; concurrent writers that each pass the check may together
//     overshoot a limit by at most their own sizes (as Dovecot's quota
//     does), and the next check refuses;
//   - a limit of 0 costs one directory query and no measurement.
//
// Where it is applied: SMTP RCPT (452 4.2.2, or 552 5.2.2 when a declared
// SIZE can never fit) and DATA, local delivery from the queue, IMAP APPEND
// and COPY (NO [OVERQUOTA]), mail import and migration preflight (the
// validation code QuotaExceeded).
package quota

import (
	"context"
	"errors"
	"fmt"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/units"
)

// ErrQuotaExceeded refuses bytes a mailbox or its tenant has no room for.
// It is the validation code of imports and migration preflight.
var ErrQuotaExceeded = errs.Sentinel(errs.TooLarge, "QuotaExceeded")

// Checker measures mailboxes against their limits.
type Checker struct {
	Dir   *directory.Directory
	Store *mailstore.Store
}

// Status is a mailbox's quota state. A limit of 0 is unlimited; a usage
// is measured only when its limit is set.
type Status struct {
	MailboxLimit, MailboxUsed int64
	TenantLimit, TenantUsed   int64
}

// Status reads the limits of the mailbox guid of the tenant and measures
// the usage each set limit applies to. A mailbox that does not exist yet
// uses nothing.
func (c *Checker) Status(ctx context.Context, tenantID, guid string) (Status, error) {
	var st Status
	var err error
	st.MailboxLimit, st.TenantLimit, err = c.Dir.QuotaLimits(ctx, tenantID, guid)
	if err != nil {
		return st, err
	}
	if st.MailboxLimit > 0 {
		mb, err := c.Store.Mailbox(ctx, tenantID, guid)
		switch {
		case errors.Is(err, mailstore.ErrMailboxNotFound):
		case err != nil:
			return st, err
		default:
			if st.MailboxUsed, err = c.Store.Usage(ctx, mb.ID); err != nil {
				return st, err
			}
		}
	}
	if st.TenantLimit > 0 {
		if st.TenantUsed, err = c.Store.TenantUsage(ctx, tenantID); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Room is how many more bytes fit (never negative), or -1 when no limit
// applies.
func (st Status) Room() int64 {
	room := int64(-1)
	for _, l := range [][2]int64{{st.MailboxLimit, st.MailboxUsed}, {st.TenantLimit, st.TenantUsed}} {
		if l[0] <= 0 {
			continue
		}
		left := max(0, l[0]-l[1])
		if room < 0 || left < room {
			room = left
		}
	}
	return room
}

// NeverFits reports whether size is larger than a limit itself, so that
// no clean-up would make room: a permanent refusal rather than a
// temporary one.
func (st Status) NeverFits(size int64) bool {
	return st.MailboxLimit > 0 && size > st.MailboxLimit || st.TenantLimit > 0 && size > st.TenantLimit
}

// Fits returns nil when size more bytes fit, else ErrQuotaExceeded naming
// the mailbox (name, e.g. its address) and the limit that refuses.
func (st Status) Fits(name string, size int64) error {
	room := st.Room()
	if room < 0 || size <= room {
		return nil
	}
	which, limit, used := "mailbox", st.MailboxLimit, st.MailboxUsed
	if st.MailboxLimit <= 0 || st.TenantLimit > 0 && st.TenantLimit-st.TenantUsed < st.MailboxLimit-st.MailboxUsed {
		which, limit, used = "tenant", st.TenantLimit, st.TenantUsed
	}
	e := ErrQuotaExceeded.Newf("%s of %s does not fit the %s quota of %s (%s used, %s free)",
		units.Bytes(size), name, which, units.Bytes(limit), units.Bytes(used), units.Bytes(room)).WithObject(name)
	if which == "tenant" {
		return e.WithHint("free space in the tenant's mailboxes, or ask the operator to raise the quota: tenantferry tenant set TENANT --quota SIZE")
	}
	return e.WithHint("free space in the mailbox, or raise its quota: tenantferry mailbox set %s --quota SIZE", name)
}

// Check measures the mailbox and returns Status.Fits.
func (c *Checker) Check(ctx context.Context, tenantID, guid, name string, size int64) error {
	st, err := c.Status(ctx, tenantID, guid)
	if err != nil {
		return err
	}
	return st.Fits(name, size)
}

// String prints a status for logs.
func (st Status) String() string {
	return fmt.Sprintf("mailbox %d/%d tenant %d/%d", st.MailboxUsed, st.MailboxLimit, st.TenantUsed, st.TenantLimit)
}
