package directory

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/tenantferry/tenantferry/internal/errs"
)

// MaxNameLen is the longest Name, Alias or object name (Exchange's limit).
const MaxNameLen = 64

// MaxDisplayNameLen is the longest DisplayName.
const MaxDisplayNameLen = 256

// CheckName validates an object name: 1..64 characters, no control
// characters, not only spaces.
func CheckName(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return errs.Invalidf("MissingField", "%s is required", field).WithHint("pass a non-empty %s", field)
	}
	if utf8.RuneCountInString(s) > MaxNameLen {
		return errs.Invalidf("NameTooLong", "%s %q is longer than %d characters", field, s, MaxNameLen).
			WithHint("shorten it to %d characters or fewer", MaxNameLen)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errs.Invalidf("InvalidName", "%s %q contains control characters", field, s)
	}
	return nil
}

// CheckDisplayName validates a display name (may be empty).
func CheckDisplayName(field, s string) error {
	if utf8.RuneCountInString(s) > MaxDisplayNameLen {
		return errs.Invalidf("NameTooLong", "%s is longer than %d characters", field, MaxDisplayNameLen).
			WithHint("shorten it to %d characters or fewer", MaxDisplayNameLen)
	}
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errs.Invalidf("InvalidName", "%s %q contains control characters", field, s)
	}
	return nil
}

// aliasChars are the characters Exchange allows in an alias (RFC 5322 atext
// plus the dot).
const aliasChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~."

// CheckAlias validates an alias: 1..64 atext characters, no leading,
// trailing or double dot.
func CheckAlias(s string) error {
	if s == "" {
		return errs.Invalidf("MissingField", "Alias is required").WithHint("pass --alias")
	}
	if len(s) > MaxNameLen {
		return errs.Invalidf("NameTooLong", "Alias %q is longer than %d characters", s, MaxNameLen).
			WithHint("shorten it to %d characters or fewer", MaxNameLen)
	}
	for _, c := range s {
		if !strings.ContainsRune(aliasChars, c) {
			return errs.Invalidf("InvalidAlias", "Alias %q contains the character %q", s, c).
				WithHint("use letters, digits and . - _ only")
		}
	}
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return errs.Invalidf("InvalidAlias", "Alias %q has a leading, trailing or double dot", s)
	}
	return nil
}

// CheckDomain validates a domain name and returns it lower-cased.
func CheckDomain(s string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	bad := func() error {
		return errs.Invalidf("InvalidDomain", "%q is not a valid domain name", s).
			WithHint("use a name like contoso.com")
	}
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") {
		return "", bad()
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", bad()
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", bad()
			}
		}
	}
	return d, nil
}

// ParseSMTP validates an SMTP address (local@domain) and returns it with the
// domain lower-cased. The local part keeps its case for display.
func ParseSMTP(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) error {
		return errs.Invalidf("InvalidSmtpAddress", "%s %q is not a valid SMTP address: %s", field, s, why).
			WithHint("use the form user@domain.example")
	}
	if s == "" {
		return "", errs.Invalidf("MissingField", "%s is required", field)
	}
	if len(s) > 320 {
		return "", bad("longer than 320 characters")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", bad("missing local part or domain")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return "", bad("local part longer than 64 characters")
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s || a.Name != "" {
		return "", bad("not an RFC 5322 addr-spec")
	}
	d, err := CheckDomain(domain)
	if err != nil {
		return "", bad("bad domain")
	}
	return local + "@" + d, nil
}

// storable reports whether s can be stored as text: valid UTF-8 without
// NUL bytes (PostgreSQL refuses both). No object has a name or address that
// is not storable, so a lookup by such a reference finds nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// domainOf returns the lower-cased domain part of an address.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// localOf returns the local part of an address.
func localOf(addr string) string {
	return addr[:strings.LastIndexByte(addr, '@')]
}
