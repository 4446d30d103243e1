package migration

import (
	"context"
	"errors"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/migration/source"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Check results.
const (
	CheckPassed  = "Passed"
	CheckFailed  = "Failed"
	CheckSkipped = "Skipped"
)

// Check is the outcome of one validation rule.
type Check struct {
	Name    string
	Result  string
	Code    string // the error code of a failed check; "" otherwise (always present in JSON: part of the CLI contract)
	Message string
}

// TestResult is the outcome of an endpoint test (Test-MigrationServerAvailability).
type TestResult struct {
	Result  string // Success | Failed
	Message string
	Checks  []Check
}

// plan is what validation learned about a move: everything the sync needs.
type plan struct {
	endpoint *directory.Endpoint
	client   replication.NativeSource
	source   *replication.CheckReply
	target   *directory.Recipient
	mailbox  *replication.MailboxInfo
}

// validation collects checks in order; after the first failure the rest
// are reported as skipped.
type validation struct {
	checks []Check
	failed error
}

func (v *validation) run(name, okMsg string, f func() error) bool {
	if v.failed != nil {
		v.checks = append(v.checks, Check{Name: name, Result: CheckSkipped, Message: "not run: an earlier check failed"})
		return false
	}
	if err := f(); err != nil {
		v.failed = err
		c := Check{Name: name, Result: CheckFailed, Code: errs.CodeOf(err), Message: err.Error()}
		if e := errs.As(err); e != nil {
			c.Message = e.Message
			if e.Hint != "" {
				c.Message += " (" + e.Hint + ")"
			}
		}
		v.checks = append(v.checks, c)
		return false
	}
	v.checks = append(v.checks, Check{Name: name, Result: CheckPassed, Message: okMsg})
	return true
}

// validateEndpoint runs the endpoint checks: the endpoint's credentials,
// the source's checks 1–3, and the target's Inbound relationship (check 5).
func (s *Service) validateEndpoint(ctx context.Context, v *validation, tenantID string, ep *directory.Endpoint) *plan {
	return s.validateEndpointWith(ctx, v, tenantID, ep, false)
}

// validateEndpointWith is validateEndpoint; with cached, a source check
// that passed for the same endpoint (unchanged) within checkTTL is reused
// instead of asked again — the passes of a batch share one check. Only
// success is cached, and the source still authorizes every later call
// (mailbox, register, pull), so a revoked consent fails the pass there.
func (s *Service) validateEndpointWith(ctx context.Context, v *validation, tenantID string, ep *directory.Endpoint, cached bool) *plan {
	p := &plan{endpoint: ep}
	var authzErr error
	v.run("EndpointCredentials", "the migration app obtained a token the source server accepts", func() error {
		c, err := s.client(ep)
		if err != nil {
			return err
		}
		p.client = c
		key := checkKey(ep)
		if cached {
			if p.source = s.checks.get(key); p.source != nil {
				return nil
			}
		}
		p.source, err = c.Check(ctx)
		if err == nil {
			s.checks.put(key, p.source)
		}
		if isSourceAuthz(err) {
			authzErr = err // the credentials are fine; the source refuses the app
			return nil
		}
		return err
	})
	v.run("SourceAuthorization", "the source accepts the app: consent, permission and RemoteOutbound relationship are in place", func() error {
		return authzErr
	})
	v.run("InboundAuthorization", "an Inbound organization relationship names the source tenant", func() error {
		rels, err := s.Dir.ListOrgRels(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, o := range rels {
			if o.Enabled && o.MailboxMoveEnabled && o.HasCapability(directory.CapInbound) && o.Matches(p.source.TenantId, p.source.Domains...) {
				return nil
			}
		}
		return errs.Forbiddenf("InboundNotAuthorized", "no enabled organization relationship of this tenant allows Inbound mailbox moves from tenant %s (%s)",
			p.source.TenantId, p.source.TenantName).
			WithHint("run 'tenantferry orgrel create --name %s --domain-names %s --mailbox-move-enabled --mailbox-move-capability Inbound'",
				p.source.TenantName, p.source.TenantId)
	})
	return p
}

// isSourceAuthz reports errors that come from the source's authorization
// checks (they belong to the SourceAuthorization check, not credentials).
func isSourceAuthz(err error) bool {
	return errors.Is(err, source.ErrAppNotConsented) || errors.Is(err, source.ErrAppPermissionMissing) || errors.Is(err, source.ErrSourceNotAuthorized)
}

// validateUser runs the user checks of docs/architecture.md §6 for one target address.
func (s *Service) validateUser(ctx context.Context, v *validation, p *plan, tenantID, targetAddr, sourceAddr, deliveryDomain, batchID string) {
	v.run("TargetRecipient", "the target recipient is a MailUser", func() error {
		r, err := s.targetRecipient(ctx, tenantID, targetAddr)
		if r != nil {
			p.target = r
		}
		return err
	})
	v.run("SourceMailbox", "the source mailbox exists and is in a published scope", func() error {
		if sourceAddr == "" {
			sourceAddr = p.target.ExternalEmailAddress
		}
		mi, err := p.client.Mailbox(ctx, sourceAddr)
		if err != nil {
			return err
		}
		p.mailbox = mi
		return nil
	})
	v.run("ExchangeGuid", "ExchangeGuid matches the source", func() error {
		switch {
		case p.target.ExchangeGuid == "":
			return errs.Invalidf("MissingExchangeGuid", "target %s has no ExchangeGuid; the source mailbox's is %s", targetAddr, p.mailbox.ExchangeGuid).
				WithHint("run 'tenantferry mailuser set %s --exchange-guid %s' or 'tenantferry mailuser prepare'", p.target.Alias, p.mailbox.ExchangeGuid).WithObject(targetAddr)
		case !strings.EqualFold(p.target.ExchangeGuid, p.mailbox.ExchangeGuid):
			return errs.Invalidf("ExchangeGuidMismatch", "target %s has ExchangeGuid %s, the source mailbox %s", targetAddr, p.target.ExchangeGuid, p.mailbox.ExchangeGuid).
				WithHint("run 'tenantferry mailuser set %s --exchange-guid %s'", p.target.Alias, p.mailbox.ExchangeGuid).WithObject(targetAddr)
		}
		return nil
	})
	v.run("ArchiveGuid", "ArchiveGuid matches the source (or both have none)", func() error {
		if !strings.EqualFold(p.target.ArchiveGuid, p.mailbox.ArchiveGuid) {
			want := p.mailbox.ArchiveGuid
			if want == "" {
				want = "none"
			}
			return errs.Invalidf("ArchiveGuidMismatch", "target %s has ArchiveGuid %q, the source %q", targetAddr, p.target.ArchiveGuid, want).
				WithHint("stamp the source's ArchiveGuid with 'tenantferry mailuser set %s --archive-guid GUID'", p.target.Alias).WithObject(targetAddr)
		}
		return nil
	})
	v.run("X500", "the source LegacyExchangeDN and X500 addresses are on the target", func() error {
		have := map[string]bool{strings.ToLower(p.target.LegacyExchangeDN): true}
		for _, x := range p.target.X500() {
			have[strings.ToLower(x)] = true
		}
		var missing []string
		for _, x := range sourceX500(p.mailbox) {
			if !have[strings.ToLower(x)] {
				missing = append(missing, "X500:"+x)
			}
		}
		if len(missing) > 0 {
			return errs.Invalidf("MissingX500", "target %s lacks %s", targetAddr, strings.Join(missing, ", ")).
				WithHint("add them with 'tenantferry mailuser set %s --add-address X500:...' or run 'tenantferry mailuser prepare'", p.target.Alias).WithObject(targetAddr)
		}
		return nil
	})
	v.run("DeliveryDomainProxy", "the target has an address in the target delivery domain", func() error {
		if deliveryDomain == "" {
			return nil
		}
		for _, a := range p.target.SMTPAddresses() {
			if strings.EqualFold(a[strings.LastIndexByte(a, '@')+1:], deliveryDomain) {
				return nil
			}
		}
		return errs.Invalidf("NoDeliveryDomainProxy", "target %s has no SMTP address in the target delivery domain %s", targetAddr, deliveryDomain).
			WithHint("add one with 'tenantferry mailuser set %s --add-address smtp:%s@%s'", p.target.Alias, p.target.Alias, deliveryDomain).WithObject(targetAddr)
	})
	v.run("AcceptedDomains", "every target address is in an accepted domain", func() error {
		for _, a := range p.target.SMTPAddresses() {
			d := a[strings.LastIndexByte(a, '@')+1:]
			owner, err := s.Dir.TenantOfDomain(ctx, nil, d)
			if err != nil {
				return err
			}
			if owner != tenantID {
				return errs.Invalidf("NotAcceptedDomain", "target address %s is not in an accepted domain of this tenant", a).
					WithHint("add the domain with 'tenantferry domain add %s' or remove the address", d).WithObject(a)
			}
		}
		return nil
	})
	v.run("OtherBatch", "the user is in no other active batch", func() error {
		return s.otherBatch(ctx, tenantID, targetAddr, batchID)
	})
	v.run("Quota", "the source fits the target's mailbox and tenant quotas", func() error {
		return s.checkQuota(ctx, tenantID, p.target, p.mailbox.Bytes, p.mailbox.ArchiveBytes)
	})
}

// validateMailboxType checks a batch user's MailboxType against the source:
// completing a cross-tenant move converts the whole source recipient and
// retires its primary and archive mailboxes, so a MailboxType that leaves
// one of them behind (ArchiveOnly; PrimaryOnly of a source with an
// archive) would strand that mailbox's content on the source.
func validateMailboxType(v *validation, p *plan, targetAddr, mailboxType string) {
	v.run("MailboxType", "the move carries every mailbox of the source", func() error {
		left := ""
		switch {
		case mailboxType == MailboxTypeArchiveOnly:
			left = "primary mailbox"
		case mailboxType == MailboxTypePrimaryOnly && p.mailbox.ArchiveGuid != "":
			left = "archive"
		default:
			return nil
		}
		return errs.Invalidf("MailboxTypeNotSupported", "MailboxType %s would leave the %s of %s behind: completing the move converts the whole source mailbox",
			mailboxType, left, p.mailbox.PrimarySmtpAddress).
			WithHint("use MailboxType PrimaryAndArchive (or no MailboxType column) for %s", targetAddr).WithObject(targetAddr)
	})
}

// sourceX500 lists what the target must carry as X500: the source's
// LegacyExchangeDN and every X500 proxy of the source.
func sourceX500(mi *replication.MailboxInfo) []string {
	out := []string{mi.LegacyExchangeDN}
	for _, a := range mi.EmailAddresses {
		if len(a) > 5 && strings.EqualFold(a[:5], "x500:") {
			out = append(out, a[5:])
		}
	}
	return out
}

// TestEndpoint runs the endpoint checks and, with a test mailbox, every
// user check for it (Test-MigrationServerAvailability). deliveryDomain may
// be empty to skip that check.
func (s *Service) TestEndpoint(ctx context.Context, tenantID, name, testMailbox, deliveryDomain string) (*TestResult, error) {
	ep, err := s.Dir.GetEndpoint(ctx, tenantID, name)
	if err != nil {
		return nil, err
	}
	if ep.Type == directory.EndpointIMAP {
		return s.testIMAPEndpoint(ctx, tenantID, ep, testMailbox), nil
	}
	v := &validation{}
	p := s.validateEndpoint(ctx, v, tenantID, ep)
	if testMailbox != "" {
		s.validateUser(ctx, v, p, tenantID, testMailbox, "", deliveryDomain, "")
	}
	res := &TestResult{Result: "Success", Message: "every check passed", Checks: v.checks}
	if v.failed != nil {
		res.Result = "Failed"
		res.Message = v.failed.Error()
	}
	return res, nil
}
