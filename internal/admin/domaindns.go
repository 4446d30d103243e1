package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/tenantferry/tenantferry/internal/directory"
	"github.com/tenantferry/tenantferry/internal/dnsx"
	"github.com/tenantferry/tenantferry/internal/errs"
	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// Host describes how clients and other servers reach this server: what
// `domain dns` tells an admin to publish.
type Host struct {
	// Hostname is the MX host name (--hostname).
	Hostname string
	// IMAPPort, IMAPSPort and SubmissionPort are the client listeners'
	// ports (0: not served).
	IMAPPort, IMAPSPort, SubmissionPort int
	// TLS reports whether the server has a certificate (MTA-STS mode
	// enforce, STARTTLS advertised).
	TLS bool
}

// DNSRecord is one record an admin publishes for an accepted domain.
type DNSRecord struct {
	// Purpose says what the record is for (MX, SPF, DKIM, DMARC, MTA-STS,
	// TLS-RPT, autoconfig, autodiscover, SRV, verification).
	Purpose string
	Name    string // fully qualified, without the trailing dot
	Type    string // MX, TXT, CNAME, SRV
	Value   string // as in a zone file, e.g. "10 mx.example.com." or "v=spf1 mx ~all"
	// Required marks records mail needs (MX, SPF, DKIM, DMARC); the rest
	// improve security or client setup.
	Required bool
}

// Zone renders the record as a zone-file line.
func (r DNSRecord) Zone() string {
	v := r.Value
	if r.Type == "TXT" {
		v = quoteTXT(v)
	}
	return fmt.Sprintf("%s. 3600 IN %s %s", r.Name, r.Type, v)
}

// quoteTXT quotes a TXT value, split in strings of at most 255 bytes.
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	return strings.Join(append(parts, `"`+v+`"`), " ")
}

// DomainDNS returns the records to publish for one of the tenant's
// domains (`domain dns`).
func (c *Core) DomainDNS(ctx context.Context, p *Principal, tenant, domain string) ([]DNSRecord, error) {
	d, err := c.GetDomain(ctx, p, tenant, domain)
	if err != nil {
		return nil, err
	}
	return c.domainRecords(ctx, p, tenant, d)
}

// domainRecords builds the records of a domain.
func (c *Core) domainRecords(ctx context.Context, p *Principal, tenant string, d *directory.Domain) ([]DNSRecord, error) {
	dom, host := strings.ToLower(d.Name), strings.ToLower(c.Host.Hostname)
	var out []DNSRecord
	add := func(purpose, name, typ, value string, required bool) {
		out = append(out, DNSRecord{Purpose: purpose, Name: name, Type: typ, Value: value, Required: required})
	}
	if d.Status != directory.DomainVerified {
		add("verification", d.Record.Name, "TXT", d.Record.Value, true)
	}
	add("MX", dom, "MX", "10 "+host+".", true)
	add("SPF", dom, "TXT", "v=spf1 mx ~all", true)
	if c.MailAuth != nil {
		keys, err := c.ListDkimKeys(ctx, p, tenant, dom)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.State(time.Now()) != mailauth.StateRetired {
				add("DKIM", k.RecordName(), "TXT", k.RecordValue(), true)
			}
		}
	}
	add("DMARC", "_dmarc."+dom, "TXT", "v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:postmaster@"+dom, true)
	add("MTA-STS", "_mta-sts."+dom, "TXT", "v=STSv1; id="+mailauth.MTASTSID(mailauth.MTASTSPolicy(host, c.Host.TLS)), false)
	add("MTA-STS", "mta-sts."+dom, "CNAME", host+".", false)
	add("TLS-RPT", "_smtp._tls."+dom, "TXT", "v=TLSRPTv1; rua=mailto:postmaster@"+dom, false)
	add("autoconfig", "autoconfig."+dom, "CNAME", host+".", false)
	add("autodiscover", "autodiscover."+dom, "CNAME", host+".", false)
	add("autodiscover", "_autodiscover._tcp."+dom, "SRV", "0 1 443 "+host+".", false)
	if c.Host.IMAPSPort > 0 {
		add("SRV", "_imaps._tcp."+dom, "SRV", fmt.Sprintf("0 1 %d %s.", c.Host.IMAPSPort, host), false)
	}
	if c.Host.IMAPPort > 0 {
		add("SRV", "_imap._tcp."+dom, "SRV", fmt.Sprintf("0 1 %d %s.", c.Host.IMAPPort, host), false)
	}
	if c.Host.SubmissionPort > 0 {
		add("SRV", "_submission._tcp."+dom, "SRV", fmt.Sprintf("0 1 %d %s.", c.Host.SubmissionPort, host), false)
	}
	return out, nil
}

// DNS check results.
const (
	DNSOK      = "OK"
	DNSMissing = "Missing"
	DNSWrong   = "Wrong"
)

// DNSCheck is the result of looking one record up (`domain check`).
type DNSCheck struct {
	DNSRecord
	Status string   // DNSOK, DNSMissing or DNSWrong
	Found  []string // what DNS answered for the name and type
	Hint   string   // how to fix it (empty when OK)
}

// CheckDomainDNS looks every record of DomainDNS up through the
// server's resolver and says which are missing or wrong, each with a
// fix.
func (c *Core) CheckDomainDNS(ctx context.Context, p *Principal, tenant, domain string) ([]DNSCheck, error) {
	recs, err := c.DomainDNS(ctx, p, tenant, domain)
	if err != nil {
		return nil, err
	}
	out := make([]DNSCheck, 0, len(recs))
	for _, r := range recs {
		found, err := c.lookup(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, judge(r, strings.ToLower(c.Host.Hostname), found))
	}
	return out, nil
}

// lookup returns the answers for the record's name and type, rendered
// like the record's Value.
func (c *Core) lookup(ctx context.Context, r DNSRecord) ([]string, error) {
	qtype := dns.StringToType[r.Type]
	ans, err := c.Resolver.Query(ctx, r.Name, qtype)
	if errors.Is(err, dnsx.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.New(errs.Unavailable, "DNSLookupFailed", "looking up %s %s failed: %v", r.Name, r.Type, err).
			WithHint("check the server's DNS resolver (--dns-resolver) and try again")
	}
	var out []string
	for _, rr := range ans.Records {
		switch v := rr.(type) {
		case *dns.MX:
			out = append(out, fmt.Sprintf("%d %s", v.Preference, strings.ToLower(v.Mx)))
		case *dns.TXT:
			out = append(out, strings.Join(v.Txt, ""))
		case *dns.CNAME:
			out = append(out, strings.ToLower(v.Target))
		case *dns.SRV:
			out = append(out, fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, strings.ToLower(v.Target)))
		}
	}
	return out, nil
}

// judge compares what DNS holds for the record's name and type with the
// record: records of the same kind (a TXT record's tag) are looked at,
// and each kind has its own rule of what is good enough (an SPF record
// that lets the MX send, a DMARC record with a policy, the exact DKIM key
// and MTA-STS id, the MX, CNAME and SRV targets).
func judge(r DNSRecord, host string, found []string) DNSCheck {
	ck := DNSCheck{DNSRecord: r, Found: found}
	if ck.Found == nil {
		ck.Found = []string{}
	}
	tag := txtKind(r)
	var same []string
	for _, f := range found {
		if r.Type != "TXT" || tag == "" || strings.HasPrefix(norm(f), tag) {
			same = append(same, f)
		}
	}
	single := r.Purpose == "SPF" || r.Purpose == "DMARC" || r.Purpose == "MTA-STS" && r.Type == "TXT"
	switch {
	case len(same) == 0:
		ck.Status, ck.Hint = DNSMissing, "publish "+r.Zone()
	case single && len(same) > 1:
		ck.Status, ck.Hint = DNSWrong, fmt.Sprintf("%d %s records are published, so receivers ignore them all: keep one, %s", len(same), r.Purpose, r.Zone())
	case !satisfies(r, host, same):
		ck.Status, ck.Hint = DNSWrong, fmt.Sprintf("%s holds %q; publish %s instead", r.Name, strings.Join(same, " | "), r.Zone())
	default:
		ck.Status = DNSOK
	}
	return ck
}

// norm lower-cases a value and removes its blanks.
func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }

// txtKind is the tag that starts a TXT record of the record's kind (""
// for records compared whole, such as the verification record).
func txtKind(r DNSRecord) string {
	return map[string]string{"SPF": "v=spf1", "DMARC": "v=dmarc1", "MTA-STS": "v=stsv1", "TLS-RPT": "v=tlsrptv1", "DKIM": "v=dkim1"}[r.Purpose]
}

// satisfies decides whether one of the found records does the record's
// job.
func satisfies(r DNSRecord, host string, found []string) bool {
	for _, f := range found {
		fl := strings.ToLower(f)
		ok := false
		switch {
		case r.Purpose == "SPF":
			for _, term := range strings.Fields(fl) {
				ok = ok || term == "mx" || term == "+mx" || term == "a:"+host || term == "+a:"+host
			}
		case r.Purpose == "DMARC":
			ok = strings.Contains(norm(f), ";p=none") || strings.Contains(norm(f), ";p=quarantine") || strings.Contains(norm(f), ";p=reject")
		case r.Purpose == "TLS-RPT":
			ok = strings.Contains(norm(f), "rua=")
		case r.Type == "MX":
			fs := strings.Fields(fl)
			ok = len(fs) == 2 && strings.TrimSuffix(fs[1], ".") == host
		case r.Type == "CNAME":
			ok = strings.TrimSuffix(fl, ".") == host
		default: // DKIM, MTA-STS id, SRV, verification: the exact value
			ok = norm(f) == norm(r.Value)
		}
		if ok {
			return true
		}
	}
	return false
}
