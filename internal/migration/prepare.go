package migration

import (
	"context"
	"errors"
	"strings"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/replication"
)

// Prepare actions.
const (
	PrepareCreated   = "Created"
	PrepareUpdated   = "Updated"
	PrepareUnchanged = "Unchanged"
	PrepareFailed    = "Failed"
	PrepareWouldDo   = "WouldChange" // dry run
)

// PrepareRow is the outcome of `mailuser prepare` for one CSV row.
type PrepareRow struct {
	Line               int
	EmailAddress       string
	SourceEmailAddress string
	Action             string
	Changes            []string
	Error              *ErrorView `json:",omitempty"`
}

// Prepare reads the source identities of the CSV's users through the
// endpoint and creates or stamps the target MailUsers (docs/architecture.md §1 step 8):
// ExchangeGuid, ArchiveGuid, X500 of the source LegacyExchangeDN and of
// every source X500 proxy, an SMTP proxy in the target delivery domain, and
// ExternalEmailAddress = the source primary address. Rows are independent;
// a rerun changes nothing; dryRun only reports.
func (s *Service) Prepare(ctx context.Context, tenantID, endpoint string, csvData []byte, deliveryDomain string, dryRun bool) ([]PrepareRow, error) {
	rows, err := ParseCSV(csvData)
	if err != nil {
		return nil, err
	}
	ep, err := s.Dir.GetEndpoint(ctx, tenantID, endpoint)
	if err != nil {
		return nil, err
	}
	if ep.Type == directory.EndpointIMAP {
		return nil, errs.Invalidf("EndpointTypeNotSupported", "endpoint %s is an IMAP endpoint: an IMAP server has no mailbox identities to prepare MailUsers from", ep.Name).
			WithHint("an IMAP migration writes into existing mailboxes: create them with 'tenantferry mailbox create'")
	}
	t, err := s.Dir.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if deliveryDomain == "" {
		deliveryDomain = t.InitialDomain
	}
	if deliveryDomain, err = directory.CheckDomain(deliveryDomain); err != nil {
		return nil, err
	}
	v := &validation{}
	p := s.validateEndpoint(ctx, v, tenantID, ep)
	if v.failed != nil && p.source == nil {
		return nil, v.failed
	}
	var scope []replication.MailboxInfo
	out := make([]PrepareRow, 0, len(rows))
	for _, r := range rows {
		res := PrepareRow{Line: r.Line, EmailAddress: r.EmailAddress, SourceEmailAddress: r.SourceEmailAddress}
		var mi *replication.MailboxInfo
		if r.SourceEmailAddress != "" {
			mi, err = p.client.Mailbox(ctx, r.SourceEmailAddress)
		} else {
			if scope == nil {
				if scope, err = p.client.Scope(ctx); err != nil {
					return nil, err
				}
			}
			mi, err = matchAlias(scope, r.EmailAddress)
		}
		if err == nil {
			res.SourceEmailAddress = mi.PrimarySmtpAddress
			res.Action, res.Changes, err = s.prepareOne(ctx, tenantID, r.EmailAddress, deliveryDomain, mi, dryRun)
		}
		if err != nil {
			e := errs.As(err)
			res.Action = PrepareFailed
			res.Error = &ErrorView{Code: errs.CodeOf(err), Message: err.Error()}
			if e != nil {
				res.Error.Message = e.Message
				if e.Hint != "" {
					res.Error.Message += " (" + e.Hint + ")"
				}
			}
		}
		out = append(out, res)
	}
	return out, nil
}

// matchAlias finds the published-scope mailbox whose alias is the local
// part of the target address.
func matchAlias(scope []replication.MailboxInfo, target string) (*replication.MailboxInfo, error) {
	local := target[:strings.LastIndexByte(target, '@')]
	var found []*replication.MailboxInfo
	for i := range scope {
		if strings.EqualFold(scope[i].Alias, local) {
			found = append(found, &scope[i])
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, errs.NotFoundf("SourceMailboxNotFound", "no source mailbox in a published scope has the alias %q", local).
			WithHint("add a SourceEmailAddress column to the CSV, or add the mailbox to the scope group").WithObject(target)
	}
	return nil, errs.Conflictf("AmbiguousSourceMailbox", "%d source mailboxes have the alias %q", len(found), local).
		WithHint("add a SourceEmailAddress column to the CSV").WithObject(target)
}

// prepareOne creates or stamps one target MailUser.
func (s *Service) prepareOne(ctx context.Context, tenantID, target, deliveryDomain string, mi *replication.MailboxInfo, dryRun bool) (string, []string, error) {
	want := append([]string{"X500:" + mi.LegacyExchangeDN}, prefixed("X500:", sourceX500(mi)[1:])...)
	local := mi.Alias
	proxy := local + "@" + deliveryDomain
	r, err := s.Dir.GetRecipient(ctx, tenantID, target)
	if errors.Is(err, directory.ErrRecipientNotFound) {
		changes := []string{"create MailUser " + target, "ExchangeGuid " + mi.ExchangeGuid}
		if mi.ArchiveGuid != "" {
			changes = append(changes, "ArchiveGuid "+mi.ArchiveGuid)
		}
		changes = append(changes, "ExternalEmailAddress "+mi.PrimarySmtpAddress)
		add := append([]string(nil), want...)
		if !strings.EqualFold(proxy, target) {
			add = append(add, "smtp:"+proxy)
		}
		changes = append(changes, add...)
		if dryRun {
			// Predict what the creation would refuse: addresses outside the
			// tenant's accepted domains.
			for _, a := range []string{target, proxy} {
				d := a[strings.LastIndexByte(a, '@')+1:]
				if owner, err := s.Dir.TenantOfDomain(ctx, nil, d); err != nil {
					return "", nil, err
				} else if owner != tenantID {
					return "", nil, errs.Invalidf("NotAcceptedDomain", "%s is not in an accepted domain of this tenant", a).
						WithHint("add the domain with 'tenantferry domain add %s'", d).WithObject(a)
				}
			}
			return PrepareWouldDo, changes, nil
		}
		_, err := s.Dir.CreateRecipient(ctx, tenantID, directory.RecipientSpec{Type: directory.MailUser, Name: mi.Name, Alias: targetAlias(target),
			DisplayName: mi.DisplayName, FirstName: mi.FirstName, LastName: mi.LastName, PrimarySmtp: target, ExchangeGuid: mi.ExchangeGuid,
			ArchiveGuid: mi.ArchiveGuid, ExternalEmail: mi.PrimarySmtpAddress, AddAddresses: add})
		if err != nil {
			return "", nil, err
		}
		return PrepareCreated, changes, nil
	}
	if err != nil {
		return "", nil, err
	}
	if r.Type != directory.MailUser {
		return "", nil, errs.Conflictf("TargetAlreadyHasMailbox", "target %s is a %s, not a MailUser", target, r.Type).
			WithHint("a move needs a MailUser target; remove the mailbox or move to another recipient").WithObject(target)
	}
	var u directory.RecipientUpdate
	var changes []string
	if !strings.EqualFold(r.ExchangeGuid, mi.ExchangeGuid) {
		u.ExchangeGuid = &mi.ExchangeGuid
		changes = append(changes, "ExchangeGuid "+mi.ExchangeGuid)
	}
	if !strings.EqualFold(r.ArchiveGuid, mi.ArchiveGuid) {
		u.ArchiveGuid = &mi.ArchiveGuid
		changes = append(changes, "ArchiveGuid "+mi.ArchiveGuid)
	}
	if !strings.EqualFold(r.ExternalEmailAddress, mi.PrimarySmtpAddress) {
		u.ExternalEmail = &mi.PrimarySmtpAddress
		changes = append(changes, "ExternalEmailAddress "+mi.PrimarySmtpAddress)
	}
	have := map[string]bool{}
	for _, a := range r.EmailAddresses() {
		have[strings.ToLower(a)] = true
	}
	for _, x := range want {
		if !have[strings.ToLower(x)] && !strings.EqualFold(x[5:], r.LegacyExchangeDN) {
			u.AddAddresses = append(u.AddAddresses, x)
		}
	}
	hasProxy := false
	for _, a := range r.SMTPAddresses() {
		if strings.EqualFold(a[strings.LastIndexByte(a, '@')+1:], deliveryDomain) {
			hasProxy = true
		}
	}
	if !hasProxy {
		u.AddAddresses = append(u.AddAddresses, "smtp:"+proxy)
	}
	changes = append(changes, u.AddAddresses...)
	if len(changes) == 0 {
		return PrepareUnchanged, nil, nil
	}
	if dryRun {
		return PrepareWouldDo, changes, nil
	}
	if _, err := s.Dir.UpdateRecipient(ctx, tenantID, r.ID, u, directory.MailUser); err != nil {
		return "", nil, err
	}
	return PrepareUpdated, changes, nil
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

// targetAlias derives a valid alias from the target address's local part.
func targetAlias(addr string) string {
	local := addr[:strings.LastIndexByte(addr, '@')]
	if directory.CheckAlias(local) == nil {
		return local
	}
	var b strings.Builder
	for _, c := range local {
		if c < 128 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}
