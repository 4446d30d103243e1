package mailauth

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// checkMacros validates the macro syntax of a domain-spec (RFC 7208
// section 7.1) without expanding it.
func checkMacros(spec string) error {
	c := &spfCheck{}
	_, err := c.expandWith(spec, "x.invalid", true)
	return err
}

// expand expands the macros of a domain-spec for the current check, with
// domain as %{d}; a result longer than 253 characters loses labels from
// the left (section 7.3).
func (c *spfCheck) expand(spec, domain string) (string, error) {
	out, err := c.expandWith(spec, domain, false)
	if err != nil {
		c.detail = fmt.Sprintf("bad macro in %q", spec)
		return "", err
	}
	out = strings.TrimSuffix(out, ".")
	for len(out) > 253 {
		i := strings.IndexByte(out, '.')
		if i < 0 {
			break
		}
		out = out[i+1:]
	}
	return strings.ToLower(out), nil
}

// expandWith expands spec; syntaxOnly skips the values.
func (c *spfCheck) expandWith(spec, domain string, syntaxOnly bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(spec); i++ {
		ch := spec[i]
		if ch != '%' {
			if ch < 0x21 || ch > 0x7e {
				return "", fmt.Errorf("%w: bad character in %q", errSPFPerm, spec)
			}
			b.WriteByte(ch)
			continue
		}
		if i+1 >= len(spec) {
			return "", fmt.Errorf("%w: lone %% in %q", errSPFPerm, spec)
		}
		i++
		switch spec[i] {
		case '%':
			b.WriteByte('%')
			continue
		case '_':
			b.WriteByte(' ')
			continue
		case '-':
			b.WriteString("%20")
			continue
		case '{':
		default:
			return "", fmt.Errorf("%w: bad macro in %q", errSPFPerm, spec)
		}
		end := strings.IndexByte(spec[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: unclosed macro in %q", errSPFPerm, spec)
		}
		body := spec[i+1 : i+end]
		i += end
		v, err := c.macro(body, domain, syntaxOnly)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// macro expands one "{...}" body: a letter, optional digits, optional 'r',
// optional delimiters.
func (c *spfCheck) macro(body, domain string, syntaxOnly bool) (string, error) {
	if body == "" {
		return "", fmt.Errorf("%w: empty macro", errSPFPerm)
	}
	letter := body[0]
	rest := body[1:]
	digits := 0
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j > 0 {
		n, err := strconv.Atoi(rest[:j])
		if err != nil || n == 0 || n > 128 {
			return "", fmt.Errorf("%w: bad macro digits", errSPFPerm)
		}
		digits = n
	}
	rest = rest[j:]
	reverse := false
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		reverse, rest = true, rest[1:]
	}
	for _, d := range rest {
		if !strings.ContainsRune(".-+,/_=", d) {
			return "", fmt.Errorf("%w: bad macro delimiter %q", errSPFPerm, d)
		}
	}
	var v string
	switch letter | 0x20 { // lower case
	case 's':
		v = c.sender
	case 'l':
		v = c.local
	case 'o':
		v = c.senderDomain
	case 'd':
		v = domain
	case 'i':
		v = c.ipMacro()
	case 'p':
		v = "unknown"
	case 'v':
		v = "in-addr"
		if c.ip != nil && c.ip.To4() == nil {
			v = "ip6"
		}
	case 'h':
		v = c.helo
	default:
		// c, r and t are only allowed in exp=, which is never expanded here.
		return "", fmt.Errorf("%w: macro %%{%c} not allowed here", errSPFPerm, letter)
	}
	if syntaxOnly {
		return "x", nil
	}
	delims := rest
	if delims == "" {
		delims = "."
	}
	parts := strings.FieldsFunc(v, func(r rune) bool { return strings.ContainsRune(delims, r) })
	if reverse {
		for a, z := 0, len(parts)-1; a < z; a, z = a+1, z-1 {
			parts[a], parts[z] = parts[z], parts[a]
		}
	}
	if digits > 0 && digits < len(parts) {
		parts = parts[len(parts)-digits:]
	}
	v = strings.Join(parts, ".")
	if letter >= 'A' && letter <= 'Z' {
		v = url.QueryEscape(v)
	}
	return v, nil
}

// ipMacro is %{i}: dotted IPv4, or IPv6 as dot-separated nibbles.
func (c *spfCheck) ipMacro() string {
	if c.ip == nil {
		return ""
	}
	if v4 := c.ip.To4(); v4 != nil {
		return v4.String()
	}
	const hexd = "0123456789abcdef"
	var b strings.Builder
	for i, by := range c.ip.To16() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteByte(hexd[by>>4])
		b.WriteByte('.')
		b.WriteByte(hexd[by&15])
	}
	return b.String()
}
