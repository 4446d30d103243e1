package dav

import (
	"strings"
	"testing"
)

// FuzzParseTarget checks that no request path resolves to a segment with
// a slash, a dot segment or a NUL, whatever its encoding.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/dav/", "/dav/calendars/a@b.c/Calendar/x.ics", "/dav/calendars/a%40b/..%2F/x", "/dav/principals/a/",
		"/dav/addressbooks/a/b/c/d/e", "/dav//x", "/dav/calendars/%2e%2e/x", "/davx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tg, err := parseTarget(p)
		if err != nil {
			return
		}
		for _, s := range []string{tg.addr, tg.coll, tg.obj} {
			if strings.ContainsAny(s, "/\\\x00") || s == "." || s == ".." {
				t.Fatalf("%q resolved to segment %q", p, s)
			}
		}
	})
}
