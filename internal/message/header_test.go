package message_test

import (
	"strings"
	"testing"

	. "github.com/tenantferry/tenantferry/internal/message"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// scan runs a HeaderScanner over raw in writes of n bytes and returns
// "name=value" per field.
func scan(opts HeaderOptions, raw string, n int) []string {
	var out []string
	h := HeaderScanner{Opts: opts, Field: func(name string, v []byte) { out = append(out, name+"="+string(v)) }}
	for len(raw) > 0 {
		k := min(n, len(raw))
		h.Write([]byte(raw[:k]))
		raw = raw[k:]
	}
	h.End()
	return out
}

// TestHeaderScannerOptions pins the rules on which the scanner's callers
// differ (the store's index fields, the MIME structure, the SMTP hop
// count): each option changes exactly its rule, and writes of any size
// give the same fields.
func TestHeaderScannerOptions(t *testing.T) {
	cases := []struct {
		name string
		opts HeaderOptions
		raw  string
		want string
	}{
		// A lone CR ends a line only with LoneCR (the index rule).
		{"lone CR ends lines", HeaderOptions{LoneCR: true}, "Subject: a\rFrom: b\r\rTo: c\r", "Subject=a|From=b"},
		{"lone CR is text", HeaderOptions{}, "Subject: a\rFrom: b\r\rTo: c\r", "Subject=a\rFrom: b\r\rTo: c\r"},
		{"CRLF either way", HeaderOptions{LoneCR: true}, "Subject: a\r\n b\r\n\r\nTo: c\r\n", "Subject=a b"},
		{"CRLF and LF", HeaderOptions{}, "Subject: a\r\n\tb\nFrom: x\n\nTo: c\n", "Subject=a\tb|From=x"},
		// Blanks before the colon: obs-syntax accepted unless StrictName.
		{"blanks before colon", HeaderOptions{}, "Received \t: x\nSubject : y\n", "Received=x|Subject=y"},
		{"strict name", HeaderOptions{StrictName: true}, "Received \t: x\nSubject: y\n", "Subject=y"},
		// Garbage lines yield nothing and end the field before them.
		{"garbage", HeaderOptions{}, "From mbox line\nA: 1\nno colon\n cont\nB: 2\n", "A=1|B=2"},
		// 8-bit bytes are kept.
		{"8-bit", HeaderOptions{}, "Subject: caf\xe9 \xc3\xa9\n", "Subject=caf\xe9 \xc3\xa9"},
		// Limit: the scan stops after that many bytes.
		{"limit", HeaderOptions{Limit: 12}, "A: 1\nB: 2\nC: 3\n", "A=1|B=2"},
		// MaxLine: a colon beyond the kept bytes is no field.
		{"max line", HeaderOptions{MaxLine: 4}, "Long: 1\nA: 2\n", "A=2"},
		// MaxValue: continuation lines stop once the value is that long.
		{"max value", HeaderOptions{MaxValue: 3}, "A: 12\n 3\n 4\n", "A=12 3"},
		// A last line without a line end counts; the empty line ends it all.
		{"no final LF", HeaderOptions{}, "A: 1\nB: 2", "A=1|B=2"},
		{"empty line", HeaderOptions{}, "A: 1\r\n\r\nB: 2\r\n", "A=1"},
	}
	for _, c := range cases {
		for _, n := range []int{1, 2, 5, 1 << 10} {
			if got := strings.Join(scan(c.opts, c.raw, n), "|"); got != c.want {
				t.Errorf("%s (writes of %d): %q, want %q", c.name, n, got, c.want)
			}
		}
	}
}

// TestHeaderScannerCorpus: with the MIME structure's rules the scanner
// gives the fields of Parse's root part on every corpus message.
func TestHeaderScannerCorpus(t *testing.T) {
	for _, m := range corpus.Messages(t) {
		root := ParseBytes(m.Data)
		var want []string
		for _, f := range root.Fields {
			want = append(want, f.Name+"="+f.Value)
		}
		got := scan(HeaderOptions{MaxValue: 1 << 16}, string(m.Data), 4096)
		for i := range got {
			name, v, _ := strings.Cut(got[i], "=")
			got[i] = name + "=" + strings.TrimSpace(v)
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%s: scanner fields %q, Parse's %q", m.Name, got, want)
		}
	}
}
