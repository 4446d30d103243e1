package delivery

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/tenantferry/tenantferry/internal/message"
)

// SplitAddress splits an SMTP address (RFC 5321 mailbox, without angle
// brackets) at its last '@' into the local part and the lower-cased domain.
// ok is false when either part is empty or the address holds characters
// that never belong in one (controls, spaces outside a quoted local part,
// angle brackets).
func SplitAddress(addr string) (local, domain string, ok bool) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 || len(addr) > 320 {
		return "", "", false
	}
	local, domain = addr[:i], addr[i+1:]
	quoted := len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"'
	for j := 0; j < len(local); j++ {
		c := local[j]
		if c < 0x20 || c == 0x7f || c == '<' || c == '>' || (c == ' ' && !quoted) {
			return "", "", false
		}
	}
	for j := 0; j < len(domain); j++ {
		c := domain[j]
		if c <= ' ' || c == 0x7f || c == '@' || c == '<' || c == '>' || c == '"' || c == '\\' {
			return "", "", false
		}
	}
	return local, strings.ToLower(strings.TrimSuffix(domain, ".")), true
}

// maxScanHeader bounds how much of a message headerScanner looks at.
const maxScanHeader = 1 << 20

// hopRules are the header scanner's rules for the hop count (see
// message.HeaderOptions for why they differ from the store's index
// rules): lines end at LF or CRLF, a field name may be followed by blanks
// before its colon (RFC 5322 obsolete syntax), at most maxScanHeader bytes
// are looked at while DATA streams, and no more than a line's first 998
// bytes (the RFC 5322 line limit) are held.
var hopRules = message.HeaderOptions{Limit: maxScanHeader, MaxLine: 998, MaxValue: 1}

// headerScanner counts the Received fields of a message's header section
// while the message streams through it (an io.Writer over the one header
// scanner, message.HeaderScanner). It never fails. Call end after the
// last Write.
type headerScanner struct {
	sc       message.HeaderScanner
	received int
}

// Write implements io.Writer; it never returns an error.
func (h *headerScanner) Write(p []byte) (int, error) {
	if h.sc.Field == nil {
		h.sc.Opts = hopRules
		h.sc.Field = func(name string, _ []byte) {
			if strings.EqualFold(name, "Received") {
				h.received++
			}
		}
	}
	return h.sc.Write(p)
}

// end completes the count: a last field without a line end counts.
func (h *headerScanner) end() {
	h.Write(nil)
	h.sc.End()
}

// CountReceived returns the number of Received fields in a message's
// header section (see headerScanner for the tolerant rules).
func CountReceived(msg []byte) int {
	var h headerScanner
	h.Write(msg)
	h.end()
	return h.received
}

// headerSection reads a message's header section: everything up to and
// including the empty line that ends it (the header scanner's rule), at
// most max bytes. It never fails on malformed input; a message without a
// body is all header.
func headerSection(r io.Reader, max int) []byte {
	br := bufio.NewReaderSize(r, 4096)
	var out []byte
	sc := message.HeaderScanner{Opts: message.HeaderOptions{MaxLine: 1, MaxValue: 1}}
	for len(out) < max && !sc.Done() {
		line, err := br.ReadSlice('\n')
		if len(line) > max-len(out) {
			line = line[:max-len(out)]
		}
		out = append(out, line...)
		sc.Write(line)
		if err != nil && err != bufio.ErrBufferFull {
			break
		}
	}
	return out
}

// Trace describes the SMTP hop a message arrived over, for the Received
// header (RFC 5321 section 4.4).
type Trace struct {
	Helo       string // the client's HELO/EHLO argument
	RemoteAddr string // the client's address, "ip:port"
	// Protocol is the WITH keyword: SMTP, ESMTP, ESMTPS (TLS), ESMTPA
	// (authenticated), ESMTPSA (both); RFC 3848.
	Protocol string
}

// receivedHeader builds our Received field, folded, ending in CRLF. The
// recipient is named only for a single-recipient message.
func receivedHeader(hostname, id string, t Trace, rcpts []string, now time.Time) []byte {
	helo := sanitize(t.Helo, 100)
	if helo == "" {
		helo = "unknown"
	}
	ip := t.RemoteAddr
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	ip = sanitize(ip, 64)
	proto := sanitize(t.Protocol, 16)
	if proto == "" {
		proto = "ESMTP"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s (tenantferry) with %s id %s", helo, ip, sanitize(hostname, 255), proto, id)
	if len(rcpts) == 1 {
		if r := sanitize(rcpts[0], 320); r != "" && !strings.ContainsAny(r, "<>") {
			fmt.Fprintf(&b, "\r\n\tfor <%s>", r)
		}
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return []byte(b.String())
}
