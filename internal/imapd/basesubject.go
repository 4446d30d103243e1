package imapd

import "strings"

// baseSubject extracts the base subject of a Subject header value (RFC
// 5256 section 2.1), the key SORT SUBJECT and THREAD compare: encoded
// words decoded, white space collapsed, and the reply and forward
// markers ("Re:", "Fwd:", "[list] Re:", "(fwd)", "[Fwd: ...]") removed.
// replyOrFwd reports whether any marker was removed (THREAD's "is a
// reply or forward"). The result is upper-cased in ASCII (the
// i;ascii-casemap collation) for comparison.
func baseSubject(v string) (base string, replyOrFwd bool) {
	s := collapseSpace(decodeWord(v))
	for {
		// Step 2: trailing "(fwd)" and white space.
		for {
			t := strings.TrimRight(s, " ")
			if len(t) >= 5 && strings.EqualFold(t[len(t)-5:], "(fwd)") {
				t = t[:len(t)-5]
				replyOrFwd = true
			}
			if t == s {
				break
			}
			s = t
		}
		// Steps 3 and 4: leading white space, "re:"-style leaders and
		// blobs, until none is left.
		for {
			t := strings.TrimLeft(s, " ")
			if rest, ok := cutLeader(t); ok {
				t = rest
				replyOrFwd = true
			} else if rest, ok := cutBlob(t); ok && strings.TrimLeft(rest, " ") != "" {
				t = rest
			}
			if t == s {
				break
			}
			s = t
		}
		// Step 5: "[fwd: ...]".
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s = s[5 : len(s)-1]
			replyOrFwd = true
			continue
		}
		return asciiUpper(s), replyOrFwd
	}
}

// cutLeader removes one subj-leader with its reply marker: any blobs,
// then "re", "fw" or "fwd", white space, an optional blob and ":".
func cutLeader(s string) (string, bool) {
	t := s
	for {
		rest, ok := cutBlob(t)
		if !ok {
			break
		}
		t = rest
	}
	switch {
	case len(t) >= 3 && strings.EqualFold(t[:3], "fwd"):
		t = t[3:]
	case len(t) >= 2 && (strings.EqualFold(t[:2], "fw") || strings.EqualFold(t[:2], "re")):
		t = t[2:]
	default:
		return s, false
	}
	t = strings.TrimLeft(t, " ")
	if rest, ok := cutBlob(t); ok {
		t = rest
	}
	if !strings.HasPrefix(t, ":") {
		return s, false
	}
	return t[1:], true
}

// cutBlob removes one subj-blob: "[" text without brackets "]" and the
// white space after it.
func cutBlob(s string) (string, bool) {
	if !strings.HasPrefix(s, "[") {
		return s, false
	}
	end := strings.IndexAny(s[1:], "[]")
	if end < 0 || s[1+end] != ']' {
		return s, false
	}
	return strings.TrimLeft(s[end+2:], " "), true
}

// collapseSpace turns tabs, line breaks and runs of white space into one
// space.
func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n':
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteByte(c)
		}
	}
	if space && b.Len() > 0 {
		b.WriteByte(' ') // trailing white space is cut by step 2
	}
	return b.String()
}

// asciiUpper upper-cases the ASCII letters of s (i;ascii-casemap).
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
