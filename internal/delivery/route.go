package delivery

import (
	"github.com/emersion/go-smtp"

	"context"
	"fmt"
	"strings"

	"github.com/tenantferry/tenantferry/internal/db"
	"github.com/tenantferry/tenantferry/internal/directory"
)

// targetKind is where a recipient routes to.
type targetKind int

const (
	targetLocal  targetKind = iota + 1 // a UserMailbox here
	targetGroup                        // a group here: expand to members
	targetRemote                       // another server, by transport map or MX
)

// target is the routing decision for one recipient.
type target struct {
	kind targetKind
	rec  *directory.Recipient // local mailbox or group
	addr string               // the final address (remote: the address sent to)
	via  []string             // forwarding chain, for logs
	// fwdTenant and fwdDomain name the last forwarder of the chain (a
	// MailUser's tenant and the domain of the address that reached it): a
	// remote delivery leaves on its behalf, signed and sealed with its
	// domain's keys, with an SRS sender.
	fwdTenant, fwdDomain string
}

// Route is the exported form of a routing decision, for tests and tools.
type Route struct {
	Kind    string // "mailbox", "group", "remote"
	Address string // the address finally routed to
	// TenantID and MailboxGUID name the local mailbox (kind "mailbox").
	TenantID, MailboxGUID string
	Via                   []string // addresses forwarded through
}

// Resolve returns where mail for addr would go now (the same decision a
// delivery job takes), with relay saying whether unhosted addresses may be
// sent to directly.
func (s *Service) Resolve(ctx context.Context, addr string, relay bool) (*Route, error) {
	t, err := s.route(ctx, addr, relay, 0)
	if err != nil {
		return nil, err
	}
	r := &Route{Address: t.addr, Via: t.via}
	switch t.kind {
	case targetLocal:
		r.Kind, r.TenantID, r.MailboxGUID = "mailbox", t.rec.TenantID, t.rec.ExchangeGuid
	case targetGroup:
		r.Kind, r.TenantID = "group", t.rec.TenantID
	case targetRemote:
		r.Kind = "remote"
	}
	return r, nil
}

// route resolves addr through the directory: a UserMailbox is local, a
// group is expanded by the caller, a MailUser forwards to its
// ExternalEmailAddress (resolved again: it may be hosted here), and an
// address nobody here owns goes out only when relay is allowed (or it was
// reached by forwarding). depth counts the expansions before this one.
func (s *Service) route(ctx context.Context, addr string, relay bool, depth int) (*target, error) {
	var via []string
	var fwdTenant, fwdDomain string
	for {
		if depth > s.MaxForwardDepth {
			return nil, errRoutingLoop.withCause(fmt.Errorf("forwarding chain %v", via))
		}
		_, domain, ok := SplitAddress(addr)
		if !ok {
			return nil, newErr(550, smtp.EnhancedCode{5, 1, 3}, "bad recipient address syntax")
		}
		rec, err := s.dir.ResolveAddress(ctx, addr)
		if err != nil {
			return nil, internal(err, "resolve recipient")
		}
		if rec == nil {
			hosted, err := s.hosted(ctx, domain)
			if err != nil {
				return nil, err
			}
			if hosted {
				orig, ok, err := s.reverseSRS(addr)
				if !ok {
					return nil, errUnknownRecipient
				}
				if err != nil {
					return nil, err
				}
				// A bounce to our SRS address goes back to the original
				// sender as it is: not signed or sealed by the domain, which
				// would make a valid SRS address a signing oracle.
				via = append(via, addr)
				addr, relay, fwdTenant, fwdDomain = orig, true, "", ""
				depth++
				continue
			}
			if !relay {
				return nil, newErr(550, smtp.EnhancedCode{5, 1, 2}, "recipient domain is not hosted here")
			}
			return &target{kind: targetRemote, addr: addr, via: via, fwdTenant: fwdTenant, fwdDomain: fwdDomain}, nil
		}
		switch {
		case rec.Type == directory.UserMailbox:
			return &target{kind: targetLocal, rec: rec, addr: addr, via: via}, nil
		case rec.Type.IsGroup():
			return &target{kind: targetGroup, rec: rec, addr: addr, via: via}, nil
		case rec.Type == directory.MailUser:
			ext := strings.TrimSpace(rec.ExternalEmailAddress)
			if ext == "" {
				return nil, errNoForward
			}
			via = append(via, addr)
			fwdTenant, fwdDomain = rec.TenantID, domain
			addr, relay = ext, true // an administrator-configured forward may leave the server
			depth++
		default:
			return nil, errUnknownRecipient
		}
	}
}

// expand replaces a group row by rows for its members (each routed on its
// own), in one transaction with their jobs.
func (s *Service) expand(ctx context.Context, r *rcptRow, m *msgRow, t *target) error {
	members, err := s.dir.ExpandGroup(ctx, t.rec.TenantID, t.rec.ID)
	if err != nil {
		return internal(err, "expand group")
	}
	var addrs []string
	for _, mem := range members {
		if mem.PrimarySmtpAddress != "" {
			addrs = append(addrs, mem.PrimarySmtpAddress)
		}
	}
	err = s.d.Write(ctx, func(tx *db.Tx) error {
		ok, err := finish(ctx, tx, r.id, StateExpanded, fmt.Sprintf("%d members", len(addrs)))
		if err != nil || !ok {
			return err
		}
		_, err = s.addRecipients(ctx, tx, m.id, r.id, r.depth+len(t.via)+1, m.expiresAt, addrs)
		return err
	})
	if err != nil {
		return internal(err, "expand group")
	}
	s.m.result(StateExpanded)
	s.log.Info("group expanded", "id", m.uid, "group", t.addr, "members", len(addrs))
	return nil
}
