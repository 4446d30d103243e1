package mailauth

import (
	"context"
	"fmt"
	"io"

	"github.com/emersion/go-msgauth/dkim"
)

// SignedHeaders are the fields a DKIM or ARC message signature covers (RFC
// 6376 section 5.4.1), in this order; fields a message lacks are skipped.
// From is listed twice ("oversigned"), so that a From field added later
// breaks the signature instead of being shown to the reader unsigned.
var SignedHeaders = []string{
	"From", "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"Resent-Date", "Resent-From", "Resent-To", "Resent-Cc", "Resent-Message-ID",
	"List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post", "List-Owner", "List-Archive",
}

// SignDKIM returns the DKIM-Signature fields to put above the message read
// from msg: one per active key the tenant holds for domain (Ed25519 first,
// then RSA), each ending in CRLF. It returns nil, nil when the tenant has no
// active key for the domain. Signatures use relaxed/relaxed
// canonicalization and SHA-256.
func (s *Service) SignDKIM(ctx context.Context, tenantID, domain string, msg io.Reader) ([]byte, error) {
	keys, err := s.signingKeys(ctx, tenantID, domain)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	signers := make([]*dkim.Signer, 0, len(keys))
	ws := make([]io.Writer, 0, len(keys))
	defer func() {
		for _, sg := range signers {
			sg.Close()
		}
	}()
	for _, k := range keys {
		sg, err := dkim.NewSigner(&dkim.SignOptions{
			Domain: k.Domain, Selector: k.Selector, Signer: k.signer,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: SignedHeaders,
		})
		if err != nil {
			return nil, fmt.Errorf("DKIM signer %s: %w", k.Selector, err)
		}
		signers = append(signers, sg)
		ws = append(ws, sg)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), msg); err != nil {
		return nil, fmt.Errorf("DKIM sign: %w", err)
	}
	var out []byte
	for i, sg := range signers {
		if err := sg.Close(); err != nil {
			return nil, fmt.Errorf("DKIM sign with %s: %w", keys[i].Selector, err)
		}
		out = append(out, sg.Signature()...)
	}
	return out, nil
}
