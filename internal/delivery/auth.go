package delivery

import (
	"github.com/emersion/go-smtp"

	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/tenantferry/tenantferry/internal/mailauth"
)

// Mail authentication in the queue (internal/mailauth does the checks and
// the cryptography):
//   - A message arriving at the MX (source "smtp", not authenticated) is
//     spooled, checked (SPF, DKIM, DMARC, ARC) before it is acknowledged, and
//     stored as: Authentication-Results, our Received, the bytes received.
//     DMARC p=reject refuses it at DATA; p=quarantine marks it junk, so
//     local delivery files it in Junk Email. Mail that never crosses the MX
//     (submission, forwarding and group expansion inside this server, DSNs)
//     is not checked, so other tenants of this server are never penalised.
//   - A message leaving the server gets DKIM signatures, and a forwarded one
//     an ARC set and an SRS envelope sender as well (see outbound).
//   - A bounce to one of our SRS addresses is routed back to the original
//     sender once its hash verifies (see route).

// spoolMem is how much of a message the spool keeps in memory before it
// moves to a temporary file.
const spoolMem = 1 << 20

// spool holds a message while it is authenticated, readable many times.
type spool struct {
	mem []byte
	f   *os.File
}

// newSpool reads r to its end into a spool.
func newSpool(r io.Reader) (*spool, error) {
	sp := &spool{}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, spoolMem))
	if err != nil {
		return nil, err
	}
	sp.mem = buf.Bytes()
	if n < spoolMem {
		return sp, nil
	}
	f, err := os.CreateTemp("", "tenantferry-spool-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	os.Remove(f.Name()) // unlinked: gone whatever happens to this process
	sp.f = f
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	return sp, nil
}

// reader returns a reader of the whole message from its start.
func (sp *spool) reader() io.Reader {
	if sp.f == nil {
		return bytes.NewReader(sp.mem)
	}
	st, err := sp.f.Stat()
	if err != nil {
		return io.MultiReader(bytes.NewReader(sp.mem), errReader{err})
	}
	return io.MultiReader(bytes.NewReader(sp.mem), io.NewSectionReader(sp.f, 0, st.Size()))
}

// Close removes the spool.
func (sp *spool) Close() {
	if sp.f != nil {
		sp.f.Close()
	}
}

// errReader fails every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// authInfo is what the MX check leaves in the queue row.
type authInfo struct {
	results string // Authentication-Results resinfo, "" when not checked
	chain   string // ARC chain as received: "none", "pass:N", "fail:N"; "" when not checked
	junk    bool
}

// checkInbound authenticates a message arriving at the MX. It returns the
// Authentication-Results field to store above it and the queue row's
// authentication columns, or a 550 refusal for DMARC p=reject.
func (s *Service) checkInbound(ctx context.Context, env Envelope, sp *spool) ([]byte, authInfo, error) {
	host, _, err := net.SplitHostPort(env.Trace.RemoteAddr)
	if err != nil {
		host = env.Trace.RemoteAddr
	}
	v := s.auth.Check(ctx, mailauth.Inbound{IP: net.ParseIP(host), Helo: env.Trace.Helo, MailFrom: env.From}, sp.reader)
	info := authInfo{results: v.Results(), chain: fmt.Sprintf("%s:%d", v.ARC, v.ARCInstance), junk: v.Action == mailauth.Quarantine}
	if v.Action == mailauth.Reject {
		return nil, info, newErr(550, smtp.EnhancedCode{5, 7, 1}, "message rejected: it fails the DMARC policy (p=reject) of %s", sanitize(v.FromDomain, 255))
	}
	return v.Header(s.hostname), info, nil
}

// inboundChecked reports whether an envelope is MX mail to authenticate.
func (s *Service) inboundChecked(env Envelope) bool {
	return s.auth != nil && s.InboundAuth && env.Source == "smtp" && !env.Relay && env.AuthUser == ""
}

// parseChain splits the arc_chain column.
func parseChain(c string) (string, int) {
	r, n, _ := strings.Cut(c, ":")
	i, _ := strconv.Atoi(n)
	return r, i
}

// outbound prepares a message for a remote next hop: it returns the
// envelope sender to use and the header fields to put above the queued
// bytes. A forwarded message (t.fwdTenant set) leaves with an SRS sender,
// an ARC set and DKIM signatures of the forwarding domain; an
// authenticated submission with DKIM signatures of its From domain (or the
// sender's domain) when its tenant has keys. Signing problems are logged
// and the message goes out unsigned: a missing signature must not lose
// mail.
func (s *Service) outbound(ctx context.Context, m *msgRow, t *target) (string, []byte) {
	if s.auth == nil {
		return m.from, nil
	}
	open := func() io.Reader { return s.blobReader(ctx, m.sha256) }
	from := m.from
	var o mailauth.Outgoing
	switch {
	case t.fwdTenant != "":
		o = mailauth.Outgoing{TenantID: t.fwdTenant, Domain: t.fwdDomain, Seal: true, Results: m.authResults}
		o.Chain, o.Instance = parseChain(m.arcChain)
		if _, fd, ok := SplitAddress(from); ok {
			if owner, err := s.dir.TenantOfDomain(ctx, nil, fd); err != nil || owner != t.fwdTenant {
				from = s.auth.SRS.Forward(from, t.fwdDomain)
			}
		}
	case m.authUser != "":
		rec, err := s.dir.ResolveAddress(ctx, m.authUser)
		if err != nil || rec == nil {
			return from, nil
		}
		_, d, _ := SplitAddress(m.authUser)
		o = mailauth.Outgoing{TenantID: rec.TenantID, Domain: d, PreferFrom: true}
	default:
		return from, nil
	}
	prefix, err := s.auth.Outbound(ctx, o, open)
	if err != nil {
		s.log.Warn("signing failed: the message leaves unsigned", "id", m.uid, "domain", o.Domain, "err", err)
		return from, nil
	}
	return from, prefix
}

// blobReader opens queued bytes as a reader that closes itself at EOF.
func (s *Service) blobReader(ctx context.Context, sha string) io.Reader {
	rc, err := s.blobs.Open(ctx, sha)
	if err != nil {
		return errReader{err}
	}
	return &closingReader{rc: rc}
}

// closingReader closes its source at the first error (EOF included).
type closingReader struct {
	rc   io.ReadCloser
	done bool
}

// Read implements io.Reader.
func (c *closingReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	n, err := c.rc.Read(p)
	if err != nil {
		c.done = true
		c.rc.Close()
	}
	return n, err
}

// reverseSRS resolves a bounce address in a hosted domain: for an SRS
// address whose hash verifies, the original sender (or first forwarder).
// ok is false when addr is not an SRS address.
func (s *Service) reverseSRS(addr string) (string, bool, error) {
	if s.auth == nil || !mailauth.IsSRS(addr) {
		return "", false, nil
	}
	orig, ok, err := s.auth.SRS.Reverse(addr)
	if !ok {
		return "", false, nil
	}
	if err != nil {
		return "", true, errBadSRS.withCause(err)
	}
	return orig, true, nil
}
