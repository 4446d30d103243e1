package imapd

import "testing"

// TestBaseSubject: RFC 5256 section 2.1's extraction, including the
// leader/blob/trailer combinations and "[fwd: ...]".
func TestBaseSubject(t *testing.T) {
	for _, c := range []struct {
		in    string
		base  string
		reply bool
	}{
		{"Hello", "HELLO", false},
		{"Re: Hello", "HELLO", true},
		{"RE:  re: Fwd: hello", "HELLO", true},
		{"Fw: hello (fwd)  (FWD)", "HELLO", true},
		{"[list] Re: hello", "HELLO", true},
		{"[list] hello", "HELLO", false},
		{"[only a blob]", "[ONLY A BLOB]", false},
		{"Re[2]: hello", "HELLO", true},
		{"[Fwd: Re: hello]", "HELLO", true},
		{"=?utf-8?q?R=C3=A9union?=", "RéUNION", false},
		{"hello\r\n\tworld", "HELLO WORLD", false},
		{"Rebase: hello", "REBASE: HELLO", false},
		{"", "", false},
		{"Re:", "", true},
	} {
		base, reply := baseSubject(c.in)
		if base != c.base || reply != c.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", c.in, base, reply, c.base, c.reply)
		}
	}
}
