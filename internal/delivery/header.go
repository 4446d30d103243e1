package delivery

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
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

// headerScanner counts the Received fields of a message's header section
// while the message streams through it (as an io.Writer). It never fails:
// the header ends at the first empty line (LF or CRLF), after maxScanHeader
// bytes, or at the end of input; a field name may be followed by spaces or
// tabs before its colon (RFC 5322 obsolete syntax); continuation lines
// (starting with a space or tab) belong to the field before them.
type headerScanner struct {
	done     bool
	n        int      // bytes seen
	lineLen  int      // bytes of the current line seen so far
	prefix   [16]byte // the first bytes of the current line
	received int
}

// Write implements io.Writer; it never returns an error.
func (h *headerScanner) Write(p []byte) (int, error) {
	for _, c := range p {
		if h.done {
			break
		}
		h.n++
		if c == '\n' {
			h.endLine()
			continue
		}
		if h.lineLen < len(h.prefix) {
			h.prefix[h.lineLen] = c
		}
		h.lineLen++
		if h.n >= maxScanHeader {
			h.done = true
		}
	}
	return len(p), nil
}

// endLine evaluates the line that just ended.
func (h *headerScanner) endLine() {
	n := h.lineLen
	h.lineLen = 0
	if n == 0 || (n == 1 && h.prefix[0] == '\r') {
		h.done = true // the empty line that ends the header section
		return
	}
	if isReceived(h.prefix[:min(n, len(h.prefix))]) {
		h.received++
	}
}

// isReceived reports whether a line starts a Received field:
// "Received" (any case), optional spaces or tabs, then ':'.
func isReceived(line []byte) bool {
	const name = "received"
	if len(line) < len(name)+1 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := line[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	for _, c := range line[len(name):] {
		switch c {
		case ':':
			return true
		case ' ', '\t':
		default:
			return false
		}
	}
	return false
}

// CountReceived returns the number of Received fields in a message's
// header section (see headerScanner for the tolerant rules).
func CountReceived(msg []byte) int {
	var h headerScanner
	h.Write(msg)
	if !h.done && h.lineLen > 0 { // a last line without a line end
		h.endLine()
	}
	return h.received
}

// headerSection reads a message's header section: everything up to and
// including the empty line that ends it, at most max bytes. It never fails
// on malformed input; a message without a body is all header.
func headerSection(r io.Reader, max int) []byte {
	br := bufio.NewReaderSize(r, 4096)
	var out []byte
	for len(out) < max {
		line, err := br.ReadSlice('\n')
		if len(line) > max-len(out) {
			line = line[:max-len(out)]
		}
		out = append(out, line...)
		if len(line) > 0 && line[len(line)-1] == '\n' && (len(line) == 1 || (len(line) == 2 && line[0] == '\r')) {
			break
		}
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
