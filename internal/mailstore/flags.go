package mailstore

import (
	"sort"
	"strings"
	"sync"
)

// System flags (RFC 9051). \Recent is session state and never stored.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
	// FlagForwarded is the common keyword for forwarded messages.
	FlagForwarded = `$Forwarded`
)

var systemFlags = map[string]string{
	`\seen`: FlagSeen, `\answered`: FlagAnswered, `\flagged`: FlagFlagged,
	`\deleted`: FlagDeleted, `\draft`: FlagDraft,
}

// FlagOp says how StoreFlags combines the given flags with the current ones.
type FlagOp int

// Flag operations (IMAP STORE +FLAGS, -FLAGS, FLAGS).
const (
	FlagsAdd FlagOp = iota
	FlagsRemove
	FlagsReplace
)

// NormalizeFlags validates and normalizes a flag list: system flags get
// their canonical spelling, \Recent is dropped, keywords keep their
// spelling but duplicates are removed case-insensitively (the first spelling
// wins), and the result is sorted by lower-cased name. Flags compare
// case-insensitively everywhere: a STORE that only changes a keyword's
// spelling is not a change. An invalid flag (an
// unknown \-flag, or a keyword with characters IMAP atoms exclude) is an
// InvalidFlag error.
func NormalizeFlags(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, f := range in {
		key := strings.ToLower(f)
		if strings.HasPrefix(f, `\`) {
			if key == `\recent` {
				continue
			}
			c, ok := systemFlags[key]
			if !ok {
				return nil, ErrInvalidFlag.Newf("%q is not a system flag", f).WithObject(f).
					WithHint(`system flags are \Seen \Answered \Flagged \Deleted \Draft; keywords have no backslash`)
			}
			f = c
		} else if !validKeyword(f) {
			return nil, ErrInvalidFlag.Newf("%q is not a valid keyword", f).WithObject(f).
				WithHint(`keywords are 1-255 printable ASCII characters without space, parentheses, braces, quotes, '%%', '*', ']' or '\'`)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out, nil
}

// CleanFlags is NormalizeFlags that drops invalid flags instead of failing
// (for flags read from foreign sources).
func CleanFlags(in []string) []string {
	var ok []string
	for _, f := range in {
		if _, err := NormalizeFlags([]string{f}); err == nil {
			ok = append(ok, f)
		}
	}
	out, _ := NormalizeFlags(ok)
	return out
}

func validKeyword(f string) bool {
	if f == "" || len(f) > 255 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// HasFlag reports whether flags (normalized) contain f, case-insensitively.
func HasFlag(flags []string, f string) bool {
	for _, x := range flags {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// applyFlags returns the normalized result of op on cur (normalized) and
// arg (normalized).
func applyFlags(cur []string, op FlagOp, arg []string) []string {
	switch op {
	case FlagsReplace:
		return arg
	case FlagsAdd:
		out, _ := NormalizeFlags(append(append([]string{}, cur...), arg...))
		return out
	default:
		out := make([]string, 0, len(cur))
		for _, f := range cur {
			if !HasFlag(arg, f) {
				out = append(out, f)
			}
		}
		return out
	}
}

// flagString is the stored form of normalized flags.
func flagString(flags []string) string { return strings.Join(flags, " ") }

// flagCache interns parsed flag strings: a folder scan sees few distinct
// values, so parsing each only once keeps large listings cheap. The returned
// slices are shared and must not be modified.
type flagCache struct {
	mu sync.Mutex
	m  map[string][]string
}

var parsedFlags = &flagCache{m: map[string][]string{}}

func parseFlags(s string) []string {
	if s == "" {
		return nil
	}
	parsedFlags.mu.Lock()
	defer parsedFlags.mu.Unlock()
	if f, ok := parsedFlags.m[s]; ok {
		return f
	}
	f := strings.Fields(s)
	if len(parsedFlags.m) > 10000 {
		clear(parsedFlags.m)
	}
	parsedFlags.m[s] = f
	return f
}
