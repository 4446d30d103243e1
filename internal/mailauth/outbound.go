package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"io"
)

// Outgoing describes a message leaving the server, for Outbound.
type Outgoing struct {
	// TenantID is the tenant the message leaves on behalf of: only its
	// keys sign.
	TenantID string
	// Domain is the signing domain: the forwarding domain, or the
	// sender's domain.
	Domain string
	// PreferFrom signs with the From field's domain instead when the
	// tenant has keys for it (authenticated submissions).
	PreferFrom bool
	// Seal adds an ARC set (forwarded mail), carrying Results (this
	// server's Authentication-Results on arrival; "" for none). Chain and
	// Instance are the ARC chain the message arrived with ("" when it was
	// not checked on arrival: Outbound validates it then).
	Seal     bool
	Results  string
	Chain    string
	Instance int
}

// Outbound returns the header fields to put above a message leaving the
// server: an ARC set when o.Seal (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results), then the DKIM-Signature fields. open returns
// a fresh reader of the queued message each time. Without keys for the
// domain it returns nil, nil: the message leaves unsigned.
func (s *Service) Outbound(ctx context.Context, o Outgoing, open func() io.Reader) ([]byte, error) {
	domain := o.Domain
	if o.PreferFrom {
		fs, _, _ := readHeader(bufio.NewReader(open()))
		for _, d := range fromDomains(fs) {
			if ks, err := s.signingKeys(ctx, o.TenantID, d); err == nil && len(ks) > 0 {
				domain = d
				break
			}
		}
	}
	sigs, err := s.SignDKIM(ctx, o.TenantID, domain, open())
	if err != nil {
		return nil, err
	}
	if !o.Seal {
		return sigs, nil
	}
	if o.Chain == "" {
		br := bufio.NewReaderSize(open(), 64<<10)
		fs, _, _ := readHeader(br)
		o.Chain, o.Instance = s.verifyARC(ctx, fs, func() io.Reader {
			b := bufio.NewReaderSize(open(), 64<<10)
			readHeader(b)
			return b
		})
	}
	arc, err := s.SealARC(ctx, Seal{TenantID: o.TenantID, Domain: domain, Results: o.Results, Chain: o.Chain, Instance: o.Instance},
		io.MultiReader(bytes.NewReader(sigs), open()))
	if err != nil {
		return nil, err
	}
	return append(arc, sigs...), nil
}
