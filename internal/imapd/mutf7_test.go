package imapd

import "testing"

// TestEscapeBareAmpersands: a bare "&" becomes "&-"; valid modified UTF-7
// is kept as it is.
func TestEscapeBareAmpersands(t *testing.T) {
	for in, want := range map[string]string{
		"INBOX":                 "INBOX",
		"R&D":                   "R&-D",
		"R&-D":                  "R&-D",
		"&":                     "&-",
		"a&&b":                  "a&-&-b",
		"p&AOQA5A-":             "p&AOQA5A-",   // "päå"
		"&AOQ-&AOQ-":            "&AOQ-&-AOQ-", // a null shift is not valid
		"&Jjo-!":                "&Jjo-!",      // "☺!"
		"&2D3eAQ-":              "&2D3eAQ-",    // U+1F601, a surrogate pair
		"&2D0-":                 "&-2D0-",      // a lone surrogate
		"&AGEAYgBj-":            "&-AGEAYgBj-", // "abc" must not be encoded
		"!#$&'+,-.0123456789:;": "!#$&-'+,-.0123456789:;",
		"x&A-":                  "x&-A-", // too short for a code unit
		"Q&A/R&D":               "Q&-A/R&-D",
	} {
		if got := escapeBareAmpersands(in); got != want {
			t.Errorf("escapeBareAmpersands(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRepairMailboxNames: only mailbox arguments are repaired; other
// arguments (passwords, search strings, flags) and literals are not.
func TestRepairMailboxNames(t *testing.T) {
	for in, want := range map[string]string{
		"a SELECT R&D\r\n":                                 "a SELECT R&-D\r\n",
		"a SELECT \"R&D\"\r\n":                             "a SELECT \"R&-D\"\r\n",
		"a CREATE \"R&D/Q&A\"\r\n":                         "a CREATE \"R&-D/Q&-A\"\r\n",
		"a RENAME \"R&D\" \"S&T\"\r\n":                     "a RENAME \"R&-D\" \"S&-T\"\r\n",
		"a UID MOVE 1:* \"R&D\"\r\n":                       "a UID MOVE 1:* \"R&-D\"\r\n",
		"a COPY 1 R&D\r\n":                                 "a COPY 1 R&-D\r\n",
		"a STATUS R&D (MESSAGES)\r\n":                      "a STATUS R&-D (MESSAGES)\r\n",
		"a APPEND R&D (\\Seen) {5}\r\n":                    "a APPEND R&-D (\\Seen) {5}\r\n",
		"a LIST \"\" R&D*\r\n":                             "a LIST \"\" R&-D*\r\n",
		"a LIST (SUBSCRIBED) \"R&D/\" (\"%\" a&b)\r\n":     "a LIST (SUBSCRIBED) \"R&-D/\" (\"%\" a&-b)\r\n",
		"a LIST \"\" \"*\" RETURN (STATUS (MESSAGES))\r\n": "a LIST \"\" \"*\" RETURN (STATUS (MESSAGES))\r\n",
		"a LOGIN user p&ss\r\n":                            "a LOGIN user p&ss\r\n",
		"a SEARCH SUBJECT \"R&D\"\r\n":                     "a SEARCH SUBJECT \"R&D\"\r\n",
		"a SELECT {3}\r\n":                                 "a SELECT {3}\r\n",
		"a SELECT p&AOQA5A-\r\n":                           "a SELECT p&AOQA5A-\r\n",
		"a SELECT \"a\\\"&\"\r\n":                          "a SELECT \"a\\\"&-\"\r\n",
	} {
		if got := string(repairMailboxNames([]byte(in))); got != want {
			t.Errorf("repairMailboxNames(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRepairMailboxNames: any line is handled without panicking, and a
// line without "&" is never changed.
func FuzzRepairMailboxNames(f *testing.F) {
	for _, s := range []string{"a SELECT R&D\r\n", "a LIST (x \"\" (\"&\" &", "a UID COPY 1 &\r\n", "a LIST \"\\", "t LIST ( ) (\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := repairMailboxNames([]byte(s))
		if len(out) < len(s) {
			t.Fatalf("%q shrank to %q", s, out)
		}
	})
}
