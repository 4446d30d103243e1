package migration

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// permissionOutcome sorts the source's permissions of a completing move.
type permissionOutcome struct {
	carried, deferred []string
	notCarried        []string
}

// carryIdentity runs after activation: a SharedMailbox stays shared on the
// target, and the mailbox permissions involving the moved mailbox are
// granted on the target where both principals have a counterpart there
// (a recipient stamped with the source ExchangeGuid). A counterpart that
// is still a MailUser (its move has not completed) defers the permission:
// that move carries it. Others are not carried. Each outcome goes to the
// move's report. Idempotent: granting twice changes nothing.
func (s *Service) carryIdentity(ctx context.Context, m *Move, client replication.NativeSource) error {
	mi, err := client.Mailbox(ctx, m.ExchangeGuid)
	if err != nil {
		return err
	}
	var o permissionOutcome
	for _, p := range mi.Permissions {
		if err := s.carryPermission(ctx, m, p, &o); err != nil {
			return err
		}
	}
	return s.D.Write(ctx, func(tx *db.Tx) error {
		if mi.RecipientTypeDetails == "SharedMailbox" {
			if err := s.Dir.MarkShared(ctx, tx, m.TenantID, m.TargetRecipientID); err != nil {
				return err
			}
			if err := logMove(ctx, tx, m.ID, "info", "the mailbox is a SharedMailbox on the target too (no password; people use it through permissions)"); err != nil {
				return err
			}
		}
		return o.log(ctx, tx, m.ID, mi.PermissionsOutOfScope)
	})
}

// carryPermission maps one source permission to the target tenant.
func (s *Service) carryPermission(ctx context.Context, m *Move, p replication.PermissionInfo, o *permissionOutcome) error {
	desc := fmt.Sprintf("%s %s on %s", p.UserAddress, p.Right, p.MailboxAddress)
	var recs [2]*directory.Recipient
	for i, g := range []string{p.MailboxGuid, p.UserGuid} {
		r, err := s.Dir.ByExchangeGuid(ctx, nil, m.TenantID, g)
		if errors.Is(err, directory.ErrRecipientNotFound) {
			addr := p.MailboxAddress
			if i == 1 {
				addr = p.UserAddress
			}
			o.notCarried = append(o.notCarried, desc+" ("+addr+" has no counterpart on the target: move it too, or grant the permission by hand)")
			return nil
		}
		if err != nil {
			return err
		}
		recs[i] = r
	}
	for _, r := range recs {
		if r.Type == directory.MailUser {
			o.deferred = append(o.deferred, desc+" (carried when the move of "+r.PrimarySmtpAddress+" completes)")
			return nil
		}
	}
	_, err := s.Dir.AddPermission(ctx, m.TenantID, recs[0].ID, recs[1].ID, p.Right)
	if e := errs.As(err); e != nil && !e.Temporary() { // refused by the directory's rules
		o.notCarried = append(o.notCarried, desc+" ("+err.Error()+")")
		return nil
	}
	if err != nil {
		return err
	}
	o.carried = append(o.carried, desc)
	return nil
}

// log writes the outcome to the move's report.
func (o *permissionOutcome) log(ctx context.Context, tx *db.Tx, moveID string, outOfScope int) error {
	lines := []struct{ level, what string }{}
	add := func(level, head string, xs []string) {
		if len(xs) > 0 {
			lines = append(lines, struct{ level, what string }{level, fmt.Sprintf("%s (%d): %s", head, len(xs), strings.Join(xs, "; "))})
		}
	}
	add("info", "permissions carried", o.carried)
	add("info", "permissions deferred", o.deferred)
	add("warning", "permissions not carried", o.notCarried)
	if outOfScope > 0 {
		lines = append(lines, struct{ level, what string }{"warning", fmt.Sprintf("permissions not carried (%d): the other principal is outside the migration scope; grant them by hand on the target", outOfScope)})
	}
	for _, l := range lines {
		if err := logMove(ctx, tx, moveID, l.level, l.what); err != nil {
			return err
		}
	}
	return nil
}
