package imapd

import (
	"testing"

	"github.com/emersion/go-imap/v2"
)

// TestParseIMAPURL checks the IMAP URLs CATENATE accepts (RFC 5092) and
// what they name.
func TestParseIMAPURL(t *testing.T) {
	s := &session{user: "alice@contoso.example"}
	for _, c := range []struct {
		url      string
		ok       bool
		selected bool
		mailbox  string
		uidv     uint32
		uid      uint32
		section  string
	}{
		{"/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1.2.MIME", true, false, "INBOX", 7, 3, "[1.2.MIME]"},
		{"/Archive%2F2020/Sub%20Dir/;uid=9/;section=HEADER.FIELDS%20(Subject%20From)", true, false, "Archive/2020/Sub Dir", 0, 9, "[HEADER.FIELDS (Subject From)]"},
		{"imap://alice%40contoso.example@imap.example/INBOX/;UID=1/;PARTIAL=10.20", true, false, "INBOX", 0, 1, "[]<10.20>"},
		{"imap://ALICE%40contoso.example;AUTH=*@host:143/INBOX/;UID=1", true, false, "INBOX", 0, 1, "[]"},
		{";UID=5/;SECTION=TEXT", true, true, "", 0, 5, "[TEXT]"},
		{"/;UID=5", true, true, "", 0, 5, "[]"},
		{"imap://bob%40contoso.example@host/INBOX/;UID=1", false, false, "", 0, 0, ""},
		{"imap://host/INBOX/;UID=1", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=0", false, false, "", 0, 0, ""},
		{"/INBOX", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=1/;URLAUTH=anonymous:internal:abc", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=1/;PARTIAL=0.0", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=1/;SECTION=MIME", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=1/;SECTION=1.", false, false, "", 0, 0, ""},
		{"/INBOX/;UID=1/;SECTION=TEXT%20junk", false, false, "", 0, 0, ""},
		{"/INBOX;UIDVALIDITY=x/;UID=1", false, false, "", 0, 0, ""},
		{"/IN%ZZBOX/;UID=1", false, false, "", 0, 0, ""},
		{"http://example.com/", false, false, "", 0, 0, ""},
	} {
		ref, err := s.parseIMAPURL(c.url)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v, want ok %v", c.url, err, c.ok)
			continue
		}
		if err != nil {
			continue
		}
		sec := sectionString(&ref.section)
		if ref.selected != c.selected || ref.mailbox != c.mailbox || ref.uidValidity != c.uidv || ref.uid != c.uid || sec != c.section {
			t.Errorf("%s: %+v %s", c.url, ref, sec)
		}
	}
}

// sectionString renders a section for comparisons.
func sectionString(s *imap.FetchItemBodySection) string {
	out := "["
	for i, p := range s.Part {
		if i > 0 {
			out += "."
		}
		out += itoa(p)
	}
	spec := string(s.Specifier)
	if len(s.HeaderFields) > 0 {
		spec = "HEADER.FIELDS (" + join(s.HeaderFields) + ")"
	}
	if len(s.HeaderFieldsNot) > 0 {
		spec = "HEADER.FIELDS.NOT (" + join(s.HeaderFieldsNot) + ")"
	}
	if spec != "" && len(s.Part) > 0 {
		out += "."
	}
	out += spec + "]"
	if s.Partial != nil {
		out += "<" + itoa(int(s.Partial.Offset)) + "." + itoa(int(s.Partial.Size)) + ">"
	}
	return out
}

func join(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// FuzzParseIMAPURL: any URL parses or fails without panicking, and a
// parsed one names a message.
func FuzzParseIMAPURL(f *testing.F) {
	for _, u := range []string{"/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1.2.MIME", ";UID=1/;PARTIAL=1.2",
		"imap://a%40b@h/x%20y/;UID=4/;SECTION=HEADER.FIELDS.NOT%20(A)", "/a/;UID=1/;SECTION=1.2.3.TEXT"} {
		f.Add(u)
	}
	s := &session{user: "a@b"}
	f.Fuzz(func(t *testing.T, u string) {
		ref, err := s.parseIMAPURL(u)
		if err == nil && ref.uid == 0 {
			t.Fatalf("%q parsed without a UID", u)
		}
	})
}
