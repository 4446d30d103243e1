package migration

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
)

// RowCheck is the verdict on one CSV row of a batch being validated: Err
// is nil when the row would be accepted.
type RowCheck struct {
	Line         int
	EmailAddress string
	Err          *errs.Error
}

// targetRecipient returns the target recipient of a move, refused unless
// it is a MailUser (RecipientNotFound, TargetAlreadyHasMailbox); r is the
// recipient when there is one.
func (s *Service) targetRecipient(ctx context.Context, tenantID, targetAddr string) (*directory.Recipient, error) {
	r, err := s.Dir.GetRecipient(ctx, tenantID, targetAddr)
	if err != nil {
		if errors.Is(err, directory.ErrRecipientNotFound) {
			return nil, errs.NotFoundf("RecipientNotFound", "no recipient %s in the target tenant", targetAddr).
				WithHint("create the MailUser with 'tenantferry mailuser prepare' or 'tenantferry mailuser create'").WithObject(targetAddr)
		}
		return nil, err
	}
	switch r.Type {
	case directory.MailUser:
		return r, nil
	case directory.UserMailbox:
		return r, errs.Conflictf("TargetAlreadyHasMailbox", "target %s is a UserMailbox, not a MailUser", targetAddr).
			WithHint("a move needs a MailUser target; remove the mailbox or move to another recipient").WithObject(targetAddr)
	}
	return r, errs.Conflictf("RecipientNotFound", "target %s is a %s, not a MailUser", targetAddr, r.Type).WithObject(targetAddr)
}

// ValidateBatch checks a batch as CreateBatch does and writes nothing: an
// error refuses the batch as a whole (name taken, endpoint, delivery
// domain, schedule, limits, the CSV's header or syntax); otherwise each
// CSV row gets its verdict, in line order: the CSV rules (address,
// duplicate, columns), its user already in an active batch
// (UserInAnotherBatch) and, for a tenantferry source, the target being a
// MailUser stamped with an ExchangeGuid (RecipientNotFound,
// TargetAlreadyHasMailbox, MissingExchangeGuid: the checks a move runs
// when it starts, found before the batch is created).
func (s *Service) ValidateBatch(ctx context.Context, tenantID string, spec BatchSpec) ([]RowCheck, error) {
	var bad []CSVProblem
	p, err := s.checkBatchSpec(ctx, tenantID, &spec, func(ep *directory.Endpoint) ([]CSVRow, error) {
		imap := ep.Type == directory.EndpointIMAP
		secret := imap && !(ep.OAuth != nil && ep.OAuth.Grant == directory.OAuthClientCredentials)
		rows, b, err := parseCSVRows(spec.CSV, imap, secret)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 && len(b) == 0 {
			return nil, invalidCSVHint(csvHintFor(imap), 0, "the file lists no users")
		}
		bad = b
		return rows, nil
	})
	if err != nil {
		return nil, err
	}
	q := s.D.Read()
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM batches WHERE tenant_id = ? AND name_key = ? AND removed_at = 0`, tenantID, strings.ToLower(spec.Name)).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, ErrBatchExists.Newf("a migration batch named %q already exists", spec.Name).WithObject(spec.Name).WithHint("choose another name or remove the old batch")
	}
	out := make([]RowCheck, 0, len(p.rows)+len(bad))
	for _, b := range bad {
		out = append(out, RowCheck{Line: b.Line, EmailAddress: b.EmailAddress, Err: b.Err})
	}
	for _, r := range p.rows {
		c := RowCheck{Line: r.Line, EmailAddress: r.EmailAddress}
		if err := s.checkRow(ctx, tenantID, p, r); err != nil {
			var e *errs.Error
			if !errors.As(err, &e) {
				return nil, err
			}
			c.Err = e
		}
		out = append(out, c)
	}
	sortRowChecks(out)
	return out, nil
}

// checkRow checks one parsed row of a batch being validated.
func (s *Service) checkRow(ctx context.Context, tenantID string, p *batchPlan, r CSVRow) error {
	var other string
	err := s.D.Read().QueryRowContext(ctx, `SELECT b.name FROM moves m JOIN batches b ON b.id = m.batch_id WHERE m.tenant_id = ? AND m.email_key = ? AND m.active = ?`,
		tenantID, strings.ToLower(r.EmailAddress), true).Scan(&other)
	switch {
	case err == nil:
		return errs.Conflictf("UserInAnotherBatch", "%s is already in the active batch %s", r.EmailAddress, other).WithObject(r.EmailAddress).
			WithHint("remove it from the CSV, or remove it from batch %s first", other)
	case !db.IsNoRows(err):
		return err
	}
	if p.imap {
		return nil
	}
	t, err := s.targetRecipient(ctx, tenantID, r.EmailAddress)
	if err != nil {
		return err
	}
	if t.ExchangeGuid == "" {
		return errs.Invalidf("MissingExchangeGuid", "target %s has no ExchangeGuid: it is not stamped for the move", r.EmailAddress).
			WithHint("run 'tenantferry mailuser prepare' for it (the Mail users page's Prepare)").WithObject(r.EmailAddress)
	}
	return nil
}

// sortRowChecks orders checks by line.
func sortRowChecks(cs []RowCheck) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Line < cs[j].Line })
}
