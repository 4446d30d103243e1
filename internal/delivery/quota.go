package delivery

import (
	"github.com/emersion/go-smtp"

	"context"
	"errors"

	"github.com/tenantferry/tenantferry/internal/directory"
)

// Quota refusals. A mailbox that is full, or whose tenant is, gets the
// temporary 452 4.2.2 (RFC 3463: mailbox full), so the sender retries
// once the user has made room; a message larger than the quota itself can
// never fit and gets the permanent 552 5.2.2.
var (
	errMailboxFull    = newErr(452, smtp.EnhancedCode{4, 2, 2}, "mailbox full: over quota, try again later")
	errOverQuotaLimit = newErr(552, smtp.EnhancedCode{5, 2, 2}, "message larger than the mailbox's quota")
)

// quotaRefusal returns nil when a message of size bytes fits the quota of
// the local mailbox rec (a UserMailbox), else errMailboxFull or
// errOverQuotaLimit. Without a quota checker, or for any other recipient,
// it returns nil. size 0 (unknown) asks whether the mailbox is full.
func (s *Service) quotaRefusal(ctx context.Context, rec *directory.Recipient, size int64) error {
	if s.quota == nil || rec == nil || rec.Type != directory.UserMailbox || rec.ExchangeGuid == "" {
		return nil
	}
	st, err := s.quota.Status(ctx, rec.TenantID, rec.ExchangeGuid)
	if err != nil {
		return internal(err, "measure quota")
	}
	err = st.Fits(rec.PrimarySmtpAddress, max(size, 1))
	switch {
	case err == nil:
		return nil
	case st.NeverFits(size):
		return errOverQuotaLimit.withCause(err)
	}
	return errMailboxFull.withCause(err)
}

// dataQuotaRefusal decides at the end of DATA, when the size is known:
// when every recipient is a local mailbox that has no room for size
// bytes, the message is refused (552 5.2.2 when it can never fit one of
// them, else 452 4.2.2) and nothing is queued. When at least one
// recipient can take it, the message is accepted, and the local delivery
// of each full mailbox waits for room (retried, then bounced at expiry)
// or bounces at once when it can never fit: one SMTP reply cannot refuse
// some recipients only.
func (s *Service) dataQuotaRefusal(ctx context.Context, rcpts []string, size int64) error {
	if s.quota == nil {
		return nil
	}
	var first error
	permanent := false
	for _, a := range rcpts {
		rec, err := s.dir.ResolveAddress(ctx, a)
		if err != nil {
			return internal(err, "resolve recipient")
		}
		err = s.quotaRefusal(ctx, rec, size)
		if err == nil {
			return nil
		}
		var e *Error
		if !errors.As(err, &e) || e.Code != errMailboxFull.Code && e.Code != errOverQuotaLimit.Code {
			return err
		}
		permanent = permanent || e.Code == errOverQuotaLimit.Code
		if first == nil {
			first = err
		}
	}
	if permanent {
		return errOverQuotaLimit.withCause(first)
	}
	return first
}
