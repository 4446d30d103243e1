package imapd

import (
	"reflect"
	"testing"
)

// TestParseAddressList covers the address syntax ENVELOPE and SEARCH must
// not lose: groups, source routes, comments, quoted and encoded names,
// obsolete spacing, and garbage around addresses.
func TestParseAddressList(t *testing.T) {
	gs := func(name string) mailAddress { return mailAddress{Mailbox: name} }
	ge := mailAddress{}
	for _, tc := range []struct {
		in   string
		want []mailAddress
	}{
		{"", nil},
		{"   ", nil},
		{"user@domain", []mailAddress{{Mailbox: "user", Host: "domain"}}},
		{"From Real <fromuser@fromdomain.org>", []mailAddress{{Name: "From Real", Mailbox: "fromuser", Host: "fromdomain.org"}}},
		{"user@domain (Real Name)", []mailAddress{{Name: "Real Name", Mailbox: "user", Host: "domain"}}},
		{"<@route:user@domain>", []mailAddress{{Route: "@route", Mailbox: "user", Host: "domain"}}},
		{"Name <@r1,@r2:user@domain>", []mailAddress{{Name: "Name", Route: "@r1,@r2", Mailbox: "user", Host: "domain"}}},
		{"<user-from (comment)@ (comment) domain.org>", []mailAddress{{Mailbox: "user-from", Host: "domain.org"}}},
		{"group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;", []mailAddress{
			gs("group"), {Mailbox: "g1", Host: "d1.org"}, {Mailbox: "g2", Host: "d2.org"}, ge,
			gs("group2"), {Mailbox: "g3", Host: "d3.org"}, ge}},
		{"group:;, group2: (foo) ;", []mailAddress{gs("group"), ge, gs("group2"), ge}},
		{"undisclosed-recipients:;", []mailAddress{gs("undisclosed-recipients"), ge}},
		{"groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n  groupname2: groupuser3@domain.org;", []mailAddress{
			gs("groupname"), {Mailbox: "groupuser1", Host: "domain.org"}, {Mailbox: "groupuser2", Host: "domain.org"}, ge,
			gs("groupname2"), {Mailbox: "groupuser3", Host: "domain.org"}, ge}},
		{"Team: \"Doe, John\" <john@x.test>, jane@x.test", []mailAddress{ // unterminated group
			gs("Team"), {Name: "Doe, John", Mailbox: "john", Host: "x.test"}, {Mailbox: "jane", Host: "x.test"}, ge}},
		{`"Doe, John" <john@x.test>, =?utf-8?q?Ren=C3=A9?= <rene@x.test>`, []mailAddress{
			{Name: "Doe, John", Mailbox: "john", Host: "x.test"}, {Name: "René", Mailbox: "rene", Host: "x.test"}}},
		{`"john \"jd\" doe"@x.test`, []mailAddress{{Mailbox: `john "jd" doe`, Host: "x.test"}}},
		{"john . doe @ x . test", []mailAddress{{Mailbox: "john.doe", Host: "x.test"}}},
		{"a@b, , ,c@d,", []mailAddress{{Mailbox: "a", Host: "b"}, {Mailbox: "c", Host: "d"}}},
		{"user@[192.0.2.1]", []mailAddress{{Mailbox: "user", Host: "[192.0.2.1]"}}},
		{"MAILER-DAEMON", []mailAddress{{Mailbox: "MAILER-DAEMON", Host: missingDomain}}},
		{"<@domain.only>", []mailAddress{{Mailbox: missingMailbox, Host: "domain.only"}}},
		{"Broken <user@domain", []mailAddress{{Name: "Broken", Mailbox: "user", Host: "domain"}}},
		{"J. Smith <js@x.test>", []mailAddress{{Name: "J. Smith", Mailbox: "js", Host: "x.test"}}},
		{"Caf\xe9 <c@x.test>", []mailAddress{{Name: "Café", Mailbox: "c", Host: "x.test"}}},
	} {
		got := parseAddressList(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAddressList(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

// TestAddressSearchText checks the text SEARCH FROM/TO/CC/BCC match.
func TestAddressSearchText(t *testing.T) {
	for in, want := range map[string]string{
		"<user-from (comment)@ (comment) domain.org>":         "user-from@domain.org",
		"RealFrom <user-from@domain.org>":                     "RealFrom <user-from@domain.org>",
		"user-from@domain.org (RealFrom)":                     "RealFrom <user-from@domain.org>",
		"groupname: groupuser1@domain.org;, groupname2: x@y;": "groupname:, groupuser1@domain.org, groupname2:, x@y",
		"groupname:;": "groupname:",
	} {
		if got := addressSearchText(parseAddressList(in)); got != want {
			t.Errorf("addressSearchText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseAddressList: any input parses without panicking or looping, and
// every mailbox has both halves.
func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"a@b", "g: a@b;", "<@r:a@b>", "(c) \"q\" <a@b> (d)", "a@b (", "\"a", "[x", ":;<>@,.", "g:;;;:<"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		depth := 0
		for _, a := range parseAddressList(s) {
			switch {
			case a.Host != "":
				if a.Mailbox == "" {
					t.Fatalf("%q: mailbox without local part: %+v", s, a)
				}
			case a.Mailbox != "":
				depth++
			default:
				depth--
			}
			if depth < 0 || depth > 1 {
				t.Fatalf("%q: unbalanced group markers", s)
			}
		}
		if depth != 0 {
			t.Fatalf("%q: unterminated group", s)
		}
	})
}
