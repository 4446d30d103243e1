package importer_test

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tenantferry/tenantferry/internal/mailstore/importer"
)

func split(t *testing.T, in string) []string {
	t.Helper()
	var out []string
	for _, m := range importer.SplitMbox([]byte(in)) {
		out = append(out, string(m.Data))
	}
	// The streaming reader gives the same result whatever the read sizes.
	r := importer.NewMboxReader(iotest.OneByteReader(strings.NewReader(in)))
	var streamed []string
	for {
		_, body, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(iotest.HalfReader(body))
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, string(b))
	}
	if !reflect.DeepEqual(out, streamed) {
		t.Fatalf("streamed split differs:\n%q\n%q", out, streamed)
	}
	return out
}

func TestSplitMbox(t *testing.T) {
	long := strings.Repeat("a", 64<<10)
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"lf", "From a Thu Apr 29 23:34:45 2015\nSubject: 1\n\nbody\n\nFrom b Fri Apr 30 00:00:00 2015\nSubject: 2\n\n>From escaped\n\n",
			[]string{"Subject: 1\n\nbody\n", "Subject: 2\n\n>From escaped\n"}},
		{"no blank line before separator", "From a\nX\nFrom b\nY\n", []string{"X\n", "Y\n"}},
		{"crlf", "From a\r\nS: 1\r\n\r\nb\r\n\r\nFrom b\r\nS: 2\r\n", []string{"S: 1\r\n\r\nb\r\n", "S: 2\r\n"}},
		{"cr only", "From a\rS: 1\r\rb\r\rFrom b\rS: 2\r\r", []string{"S: 1\r\rb\r", "S: 2\r"}},
		{"nul and bare cr kept", "From a\nX: \x00\rY\n\nFrom b\n", []string{"X: \x00\rY\n", ""}},
		{"only one trailing empty line dropped", "From a\nX\n\n\nFrom b\nY", []string{"X\n\n", "Y"}},
		{"from not at line start", "From a\nX From y\nFromage\n From z\n", []string{"X From y\nFromage\n From z\n"}},
		{"blank preamble ignored", "\n\r\nFrom a\nX\n", []string{"X\n"}},
		{"preamble kept", "junk\nFrom a\nX\n", []string{"junk\n", "X\n"}},
		{"no separator at all", "Subject: s\n\nbody", []string{"Subject: s\n\nbody"}},
		{"empty", "", nil},
		{"long line never splits", "From a\n" + long + "From x\nFrom b\nY\n", []string{long + "From x\n", "Y\n"}},
		{"long separator", "From " + long + "\nX\n", []string{"X\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := split(t, c.in); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestSeparatorDate(t *testing.T) {
	for in, want := range map[string]time.Time{
		"From MAILER-DAEMON Thu Apr 29 23:34:45 2015\n":   time.Date(2015, 4, 29, 23, 34, 45, 0, time.UTC),
		"From a@b.test  Mon Jan  5 01:02:03 1998\n":       time.Date(1998, 1, 5, 1, 2, 3, 0, time.UTC),
		"From a@b Thu Apr 29 23:34:45 2015 remote from x": time.Date(2015, 4, 29, 23, 34, 45, 0, time.UTC),
		"From 1844347792267117879@xxx\n":                  {},
	} {
		ms := importer.SplitMbox([]byte(in))
		if len(ms) != 1 || !ms[0].Date.Equal(want) {
			t.Errorf("%q: got %+v, want %v", in, ms, want)
		}
	}
}

func FuzzSplitMbox(f *testing.F) {
	f.Add([]byte("From a\nX\n\nFrom b\r\nY\r\n\r\n"))
	f.Add([]byte("From a\rX\r\rFrom b\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs := importer.SplitMbox(in)
		total := 0
		for _, m := range msgs {
			total += len(m.Data)
			if !bytes.Contains(in, m.Data) {
				t.Fatalf("message bytes not a substring of the input")
			}
		}
		if total > len(in) {
			t.Fatalf("messages larger than the input")
		}
		r := importer.NewMboxReader(iotest.OneByteReader(bytes.NewReader(in)))
		for i := 0; ; i++ {
			_, body, err := r.Next()
			if err == io.EOF {
				if i != len(msgs) {
					t.Fatalf("streamed %d, split %d", i, len(msgs))
				}
				return
			}
			b, _ := io.ReadAll(body)
			if i >= len(msgs) || !bytes.Equal(b, msgs[i].Data) {
				t.Fatalf("message %d differs when streamed", i)
			}
		}
	})
}
