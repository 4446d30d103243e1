package migration

import (
	"context"
	"errors"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/mailstore"
	"github.com/tenantferry/tenantferry/internal/quota"
)

// checkQuota is the Quota validation of a move: the source's primary
// mailbox (primary bytes) must fit the target recipient's quota, and the
// whole source (primary and archive) the target tenant's room. What the
// target already holds of this move (an earlier pass) is counted once:
// it is part of the tenant's usage and of what the source brings. It
// returns quota.ErrQuotaExceeded, before anything of the pass is written.
func (s *Service) checkQuota(ctx context.Context, tenantID string, target *directory.Recipient, primary, archive int64) error {
	if s.Quota == nil || target == nil || target.ExchangeGuid == "" {
		return nil
	}
	st, err := s.Quota.Status(ctx, tenantID, target.ExchangeGuid)
	if err != nil {
		return err
	}
	if st.MailboxLimit == 0 && st.TenantLimit == 0 {
		return nil
	}
	have, err := s.targetBytes(ctx, tenantID, target.ExchangeGuid)
	if err != nil {
		return err
	}
	haveArchive := int64(0)
	if target.ArchiveGuid != "" {
		if haveArchive, err = s.targetBytes(ctx, tenantID, target.ArchiveGuid); err != nil {
			return err
		}
	}
	// The target's copy of an earlier pass is counted as room: the whole
	// source is what the target will hold.
	tenantUsed := max(0, st.TenantUsed-have-haveArchive)
	if err := (quota.Status{MailboxLimit: st.MailboxLimit}).Fits(target.PrimarySmtpAddress, primary); err != nil {
		return err
	}
	return (quota.Status{TenantLimit: st.TenantLimit, TenantUsed: tenantUsed}).Fits(target.PrimarySmtpAddress, primary+archive)
}

// targetBytes is what the target mailbox guid holds (0 before the move
// created it).
func (s *Service) targetBytes(ctx context.Context, tenantID, guid string) (int64, error) {
	mb, err := s.Store.Mailbox(ctx, tenantID, guid)
	if errors.Is(err, mailstore.ErrMailboxNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return s.Store.Usage(ctx, mb.ID)
}
