package mailauth

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/mail"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// Action is what the MX does with a message after authentication.
type Action int

// The actions, from DMARC policy (RFC 7489 section 6.3).
const (
	Accept     Action = iota // deliver normally
	Quarantine               // deliver to Junk Email
	Reject                   // refuse at DATA with 550 5.7.1
)

// maxDKIMSignatures bounds the signatures verified per message.
const maxDKIMSignatures = 8

// Inbound is the SMTP context of a message arriving at the MX.
type Inbound struct {
	IP       net.IP
	Helo     string
	MailFrom string // "" is the null sender
}

// DKIMResult is the verification of one DKIM-Signature.
type DKIMResult struct {
	Domain, Selector string
	Result           string // pass, fail, neutral, temperror, permerror
	B                string // the first characters of b=, to tell signatures apart (RFC 6008)
	Detail           string
}

// Verdict is the outcome of Check.
type Verdict struct {
	SPF       SPFResult
	SPFDomain string
	SPFDetail string
	DKIM      []DKIMResult
	// DMARC is pass, fail, none, temperror or permerror, for FromDomain.
	DMARC      string
	FromDomain string
	// Policy is the DMARC policy that applies (none, quarantine, reject);
	// Action is what it asks for after pct sampling.
	Policy      string
	Action      Action
	ARC         string // ARCNone, ARCPass or ARCFail
	ARCInstance int    // the newest ARC instance of the message
	// mailFrom and helo name the SPF identity in Results.
	mailFrom, helo string
}

// Results returns the resinfo part of the Authentication-Results field
// (everything after the authserv-id), one method per line, folded.
func (v *Verdict) Results() string {
	var parts []string
	if v.mailFrom != "" {
		parts = append(parts, fmt.Sprintf("spf=%s smtp.mailfrom=%s", v.SPF, arValue(v.mailFrom)))
	} else {
		parts = append(parts, fmt.Sprintf("spf=%s smtp.helo=%s", v.SPF, arValue(v.helo)))
	}
	if len(v.DKIM) == 0 {
		parts = append(parts, "dkim=none")
	}
	for _, d := range v.DKIM {
		parts = append(parts, fmt.Sprintf("dkim=%s header.d=%s header.s=%s header.b=%s", d.Result, arValue(d.Domain), arValue(d.Selector), arValue(d.B)))
	}
	dm := "dmarc=" + v.DMARC
	if v.Policy != "" {
		dm += " (p=" + v.Policy + ")"
	}
	if v.FromDomain != "" {
		dm += " header.from=" + arValue(v.FromDomain)
	}
	parts = append(parts, dm, "arc="+v.ARC)
	return strings.Join(parts, ";\r\n\t")
}

// Header returns the Authentication-Results field (RFC 8601) with the
// authserv-id, ending in CRLF.
func (v *Verdict) Header(authservID string) []byte {
	return []byte("Authentication-Results: " + authservID + ";\r\n\t" + v.Results() + "\r\n")
}

// arValue makes a value safe for an Authentication-Results field: a token
// or a quoted string, printable ASCII only.
func arValue(s string) string {
	var b strings.Builder
	plain := s != ""
	// Tokens exclude the MIME tspecials; an address (a pvalue, RFC 8601)
	// may carry '/', '=' and '?' in its local part (SRS addresses do).
	specials := "()<>,;:[]/=?"
	if strings.Contains(s, "@") {
		specials = "()<>,;:[]"
	}
	for i := 0; i < len(s) && b.Len() < 320; i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			continue
		}
		if strings.IndexByte(specials, c) >= 0 {
			plain = false
		}
		b.WriteByte(c)
	}
	if plain {
		return b.String()
	}
	return `"` + b.String() + `"`
}

// Check authenticates a message arriving from the Internet: SPF of the
// envelope sender, every DKIM signature, the ARC chain and DMARC of the
// From domain. open returns a fresh reader of the whole message each time
// it is called (it is read more than once). Check never fails: DNS
// problems become temperror results, which never reject.
func (s *Service) Check(ctx context.Context, in Inbound, open func() io.Reader) *Verdict {
	v := &Verdict{mailFrom: in.MailFrom, helo: in.Helo}
	v.SPF, v.SPFDomain, v.SPFDetail = s.CheckSPF(ctx, in.IP, in.Helo, in.MailFrom)

	br := bufio.NewReaderSize(open(), 64<<10)
	fs, _, _ := readHeader(br)
	v.DKIM = s.verifyDKIM(ctx, fs, open)
	v.ARC, v.ARCInstance = s.verifyARC(ctx, fs, func() io.Reader {
		b := bufio.NewReaderSize(open(), 64<<10)
		readHeader(b)
		return b
	})
	s.dmarc(ctx, v, fromDomains(fs))
	s.log.Info("inbound authentication", "ip", in.IP.String(), "mail_from", in.MailFrom, "spf", v.SPF, "spf_detail", v.SPFDetail,
		"dkim", len(v.DKIM), "dmarc", v.DMARC, "from_domain", v.FromDomain, "policy", v.Policy, "arc", v.ARC)
	return v
}

// verifyDKIM verifies the message's DKIM signatures (at most
// maxDKIMSignatures).
func (s *Service) verifyDKIM(ctx context.Context, fs []field, open func() io.Reader) []DKIMResult {
	var sigs []DKIMResult
	for _, f := range fs {
		if f.is("DKIM-Signature") {
			tags, _ := parseTags(f.Value())
			b := tags["b"]
			if len(b) > 12 {
				b = b[:12]
			}
			sigs = append(sigs, DKIMResult{Domain: tags["d"], Selector: tags["s"], B: b})
		}
	}
	if len(sigs) == 0 {
		return nil
	}
	vs, err := dkim.VerifyWithOptions(open(), &dkim.VerifyOptions{LookupTXT: s.lookupTXT(ctx), MaxVerifications: maxDKIMSignatures})
	if len(sigs) > maxDKIMSignatures {
		sigs = sigs[:maxDKIMSignatures]
	}
	for i := range sigs {
		if err != nil && err != dkim.ErrTooManySignatures || i >= len(vs) {
			sigs[i].Result, sigs[i].Detail = "permerror", fmt.Sprint(err)
			continue
		}
		ve := vs[i].Err
		switch {
		case ve == nil:
			sigs[i].Result = "pass"
		case dkim.IsTempFail(ve):
			sigs[i].Result = "temperror"
		case dkim.IsPermFail(ve):
			sigs[i].Result = "permerror"
		default:
			sigs[i].Result = "fail"
		}
		if ve != nil {
			sigs[i].Detail = ve.Error()
		}
		if vs[i].Domain != "" {
			sigs[i].Domain = vs[i].Domain
		}
	}
	return sigs
}

// fromDomains returns the lower-cased domains of the From field's
// addresses (several for a message with more than one From field or
// address).
func fromDomains(fs []field) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !f.is("From") {
			continue
		}
		v := strings.NewReplacer("\r", "", "\n", "").Replace(f.Value())
		var addrs []string
		if list, err := mail.ParseAddressList(v); err == nil {
			for _, a := range list {
				addrs = append(addrs, a.Address)
			}
		} else if i := strings.LastIndexByte(v, '<'); i >= 0 && strings.IndexByte(v[i:], '>') > 0 {
			addrs = append(addrs, v[i+1:i+strings.IndexByte(v[i:], '>')])
		} else {
			addrs = append(addrs, strings.TrimSpace(v))
		}
		for _, a := range addrs {
			if _, d, ok := splitAddr(a); ok && !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// orgDomain returns the organizational domain (RFC 7489 section 3.2): the
// public suffix plus one label.
func orgDomain(d string) string {
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// aligned reports whether an authenticated domain aligns with the From
// domain in the given mode.
func aligned(auth, from string, mode dmarc.AlignmentMode) bool {
	auth, from = strings.ToLower(auth), strings.ToLower(from)
	if mode == dmarc.AlignmentStrict {
		return auth == from
	}
	return orgDomain(auth) == orgDomain(from)
}

// dmarc evaluates DMARC for every From domain (a message with several
// gets the strictest outcome) and sets v.DMARC, v.Policy and v.Action.
func (s *Service) dmarc(ctx context.Context, v *Verdict, domains []string) {
	v.DMARC = "none"
	if len(domains) == 0 {
		return
	}
	v.FromDomain = domains[0]
	for _, d := range domains {
		res, policy, action := s.dmarcOne(ctx, v, d)
		if action > v.Action || (v.DMARC != "fail" && res != "none") {
			v.DMARC, v.Policy, v.FromDomain = res, policy, d
		}
		v.Action = max(v.Action, action)
	}
}

// dmarcOne evaluates DMARC for one From domain.
func (s *Service) dmarcOne(ctx context.Context, v *Verdict, from string) (string, string, Action) {
	opts := &dmarc.LookupOptions{LookupTXT: s.lookupTXT(ctx)}
	org := orgDomain(from)
	rec, err := dmarc.LookupWithOptions(from, opts)
	atOrg := false
	if err == dmarc.ErrNoPolicy && org != from {
		rec, err = dmarc.LookupWithOptions(org, opts)
		atOrg = true
	}
	switch {
	case err == dmarc.ErrNoPolicy:
		return "none", "", Accept
	case dmarc.IsTempFail(err):
		return "temperror", "", Accept
	case err != nil:
		return "permerror", "", Accept
	}
	pass := false
	if v.SPF == SPFPass && aligned(v.SPFDomain, from, rec.SPFAlignment) {
		pass = true
	}
	for _, d := range v.DKIM {
		if d.Result == "pass" && aligned(d.Domain, from, rec.DKIMAlignment) {
			pass = true
		}
	}
	policy := rec.Policy
	if atOrg && rec.SubdomainPolicy != "" {
		policy = rec.SubdomainPolicy
	}
	if pass {
		return "pass", string(policy), Accept
	}
	if rec.Percent != nil && *rec.Percent < 100 && rand.IntN(100) >= *rec.Percent {
		// Sampled out: the next weaker policy applies (section 6.6.4).
		if policy == dmarc.PolicyReject {
			return "fail", string(policy), Quarantine
		}
		return "fail", string(policy), Accept
	}
	switch policy {
	case dmarc.PolicyReject:
		return "fail", string(policy), Reject
	case dmarc.PolicyQuarantine:
		return "fail", string(policy), Quarantine
	}
	return "fail", string(policy), Accept
}
