package imapd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/message"
)

// nested is a LF-only message: a multipart/mixed with a text part, an
// enclosed message, and a nested multipart whose boundary starts with the
// outer one.
const nested = "From: a@example.test\n" +
	"Subject: nested\n" +
	"Content-Type: multipart/mixed;\n boundary=\"b\"\n" +
	"\n" +
	"preamble\n" +
	"--b\n" +
	"Content-Type: text/plain\n" +
	"\n" +
	"part one\n" +
	"--b\n" +
	"Content-Type: message/rfc822\n" +
	"\n" +
	"Subject: inner\n" +
	"From: Inner <inner@example.test>\n" +
	"\n" +
	"inner body\n" +
	"--b\n" +
	"Content-Type: multipart/alternative; boundary=b-1\n" +
	"\n" +
	"--b-1\n" +
	"Content-Type: text/plain\n" +
	"\n" +
	"alt one\n" +
	"--b-1\n" +
	"Content-Type: text/html\n" +
	"\n" +
	"<p>alt two</p>\n" +
	"--b-1--\n" +
	"--b--\n" +
	"epilogue\n"

func section(raw string, part []int, spec imap.PartSpecifier, fields ...string) string {
	return string(sectionOf([]byte(raw), message.ParseBytes([]byte(raw)), &imap.FetchItemBodySection{Part: part, Specifier: spec, HeaderFields: fields}))
}

// sectionOf reads a body section (without partial range) from the part
// tree's spans of raw.
func sectionOf(raw []byte, root *message.Part, s *imap.FetchItemBodySection) []byte {
	b, err := io.ReadAll(spansReader(bytes.NewReader(raw), sectionSpans(root, s)))
	if err != nil {
		panic(err)
	}
	return b
}

// binaryOf reads a BINARY section of raw, checking its announced size.
func binaryOf(t *testing.T, raw []byte, root *message.Part, part []int) []byte {
	t.Helper()
	size, open := binarySection(bytes.NewReader(raw), root, part)
	b, err := io.ReadAll(open())
	if err != nil || int64(len(b)) != size {
		t.Fatalf("BINARY[%v]: %d bytes of %d (%v)", part, len(b), size, err)
	}
	return b
}

// TestSections checks part numbering and section bytes (RFC 9051 section
// 6.4.5) on several line-ending conventions and malformed structures.
func TestSections(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		part      []int
		spec      imap.PartSpecifier
		fields    []string
		want      string
	}{
		{"1", nested, []int{1}, "", nil, "part one"},
		{"2 is the enclosed message", nested, []int{2}, "", nil, "Subject: inner\nFrom: Inner <inner@example.test>\n\ninner body"},
		{"2.HEADER", nested, []int{2}, imap.PartSpecifierHeader, nil, "Subject: inner\nFrom: Inner <inner@example.test>\n\n"},
		{"2.TEXT", nested, []int{2}, imap.PartSpecifierText, nil, "inner body"},
		{"2.1 is the enclosed body", nested, []int{2, 1}, "", nil, "inner body"},
		{"2.MIME", nested, []int{2}, imap.PartSpecifierMIME, nil, "Content-Type: message/rfc822\n\n"},
		{"3.2 in a boundary that extends the outer one", nested, []int{3, 2}, "", nil, "<p>alt two</p>"},
		{"3.3 does not exist", nested, []int{3, 3}, "", nil, ""},
		{"1.HEADER of a non-message part", nested, []int{1}, imap.PartSpecifierHeader, nil, ""},
		{"HEADER.FIELDS keeps folding and the LF blank line", nested, nil, imap.PartSpecifierHeader, []string{"content-type"},
			"Content-Type: multipart/mixed;\n boundary=\"b\"\n\n"},
		// A lone CR is no line end (RFC 5322; Dovecot agrees): a CR-only
		// message is all header, its TEXT is empty, HEADER is all of it.
		{"CR-only TEXT", "Subject: x\rFrom: a@b\r\rbody\rline\r", nil, imap.PartSpecifierText, nil, ""},
		{"CR-only HEADER", "Subject: x\rFrom: a@b\r\rbody\rline\r", nil, imap.PartSpecifierHeader, nil, "Subject: x\rFrom: a@b\r\rbody\rline\r"},
		{"CR-only 1 of a single part", "Subject: x\r\rbody\r", []int{1}, "", nil, ""},
		{"no blank line: all header", "Subject: x\r\nFrom: y\r\n", nil, imap.PartSpecifierText, nil, ""},
		{"no blank line HEADER", "Subject: x\r\nFrom: y\r\n", nil, imap.PartSpecifierHeader, nil, "Subject: x\r\nFrom: y\r\n"},
		{"missing close delimiter", "Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n\r\none\r\n--z\r\n\r\ntwo\r\n", []int{2}, "", nil, "two\r\n"},
		{"unquoted boundary with specials", "Content-Type: multipart/mixed; boundary=----=_Part_1_2.3\r\n\r\n--" +
			"----=_Part_1_2.3\r\n\r\nfirst\r\n------=_Part_1_2.3--\r\n", []int{1}, "", nil, "first"},
		{"multipart without boundary is text", "Content-Type: multipart/mixed\r\n\r\n--x\r\nhi\r\n", []int{1}, "", nil, "--x\r\nhi\r\n"},
		{"garbage header lines", "From nobody Mon Jan 1\n>junk\nSubject: s\n\nb\n", nil, imap.PartSpecifierHeader, []string{"subject"}, "Subject: s\n\n"},
		{"digest parts default to message/rfc822", "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nhello\n--d--\n",
			[]int{1}, imap.PartSpecifierHeader, nil, "Subject: in digest\n\n"},
	} {
		if got := section(tc.raw, tc.part, tc.spec, tc.fields...); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestBodyStructure checks the structure of the nested message and of
// degenerate multiparts.
func TestBodyStructure(t *testing.T) {
	raw := []byte(nested)
	bs, ok := partStructure(bytes.NewReader(raw), message.ParseBytes(raw)).(*imap.BodyStructureMultiPart)
	if !ok || bs.Subtype != "mixed" || len(bs.Children) != 3 {
		t.Fatalf("structure %#v", bs)
	}
	msg := bs.Children[1].(*imap.BodyStructureSinglePart)
	if msg.MessageRFC822 == nil || msg.MessageRFC822.Envelope.Subject != "inner" || msg.MessageRFC822.NumLines != 3 {
		t.Errorf("enclosed message %+v", msg.MessageRFC822)
	}
	if alt := bs.Children[2].(*imap.BodyStructureMultiPart); len(alt.Children) != 2 || alt.Subtype != "alternative" {
		t.Errorf("alternative %+v", alt)
	}
	empty := []byte("Content-Type: multipart/mixed; boundary=q\r\n\r\nno parts at all\r\n")
	if mp, ok := partStructure(bytes.NewReader(empty), message.ParseBytes(empty)).(*imap.BodyStructureMultiPart); !ok || len(mp.Children) != 1 {
		t.Errorf("a multipart without parts needs one (empty) part: %#v", mp)
	}
	bad := []byte("Content-Type: text/\r\nContent-Transfer-Encoding: \"weird enc\"\r\n\r\nx")
	if sp := partStructure(bytes.NewReader(bad), message.ParseBytes(bad)).(*imap.BodyStructureSinglePart); sp.Type != "text" || sp.Subtype != "plain" || sp.Encoding != "7bit" {
		t.Errorf("broken content type: %+v", sp)
	}
}

// TestSearchText checks the text matchers on encoded content.
func TestSearchText(t *testing.T) {
	raw := []byte("Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\nX-Raw: caf\xe9\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nU2Now7ZuZW4gVGFn\r\n" +
		"--x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=EFve\r\n--x--\r\n")
	root, body := message.ParseBytes(raw), bytes.NewReader(raw)
	for _, tc := range []struct {
		f    func() bool
		want bool
		what string
	}{
		{func() bool { return matchHeader(root, "subject", "GRÜSSE") }, false, "no case folding of ß"},
		{func() bool { return matchHeader(root, "subject", "grü") }, true, "RFC 2047 subject"},
		{func() bool { return matchHeader(root, "x-raw", "CAFÉ") }, true, "8-bit header as Latin-1"},
		{func() bool { return matchHeader(root, "x-missing", "") }, false, "absent header"},
		{func() bool { return matchHeader(root, "X-RAW", "") }, true, "present header"},
		{func() bool { return matchBody(body, root, "schönen") }, true, "base64 UTF-8 body"},
		{func() bool { return matchBody(body, root, "NAÏVE") }, true, "quoted-printable Latin-1 body"},
		{func() bool { return matchBody(body, root, "U2Now7Z") }, true, "raw bytes"},
		{func() bool { return matchBody(body, root, "grüße") }, false, "header is not body"},
		{func() bool { return matchText(body, root, "grüße") }, true, "TEXT covers the header"},
	} {
		if got := tc.f(); got != tc.want {
			t.Errorf("%s: %v", tc.what, got)
		}
	}
}

// FuzzMessage feeds arbitrary bytes to the MIME parser and everything
// built on it: offsets stay in bounds, HEADER+TEXT is the message, every
// section is a slice of the message, BODYSTRUCTURE satisfies what go-imap's
// writer requires, and nothing panics.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{nested, sampleSeed, "", "\r", "\n\n", "a:b\r\r\r", "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n",
		"Content-Type: multipart/x; boundary=\"\"\n\n--\n--\n", "Content-Type: multipart/x;boundary=a\n\n--a\n--a\n--a--\n--a\n"} {
		f.Add([]byte(s))
	}
	if dir := corpusDir(); dir != "" {
		for _, p := range []string{"flanker/tests/fixtures/messages/bounce/mailbox_full.eml", "enmime/testdata/low-quality/nested-unknown-part.raw",
			"sisimai-set-of-emails/maildir/mac/arf-01.eml", "spamscope-mail-parser/tests/mails/mail_malformed_3"} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		root, body := message.ParseBytes(raw), bytes.NewReader(raw)
		checkPart(t, raw, root, 0)
		hdr := sectionOf(raw, root, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader})
		text := sectionOf(raw, root, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText})
		if !bytes.Equal(append(append([]byte{}, hdr...), text...), raw) {
			t.Fatalf("HEADER+TEXT is not the message")
		}
		for _, part := range [][]int{{1}, {2}, {1, 1}, {2, 1}, {1, 2, 1}, {3, 1, 2}} {
			for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierMIME, imap.PartSpecifierHeader, imap.PartSpecifierText} {
				if b := sectionOf(raw, root, &imap.FetchItemBodySection{Part: part, Specifier: spec}); !bytes.Contains(raw, b) {
					t.Fatalf("section %v.%s is not part of the message", part, spec)
				}
			}
			binaryOf(t, raw, root, part)
		}
		sectionOf(raw, root, &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFieldsNot: []string{"From"}})
		checkStructure(t, partStructure(body, root))
		partEnvelope(body, root)
		matchText(body, root, "zq")
		matchText(body, root, "é")
		matchHeader(root, "from", "a")
	})
}

const sampleSeed = "Subject: =?utf-8?b?w6k=?=\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nw6k=\r\n--b1--\r\n"

// checkPart checks the offsets of a part tree.
func checkPart(t *testing.T, raw []byte, e *message.Part, depth int) {
	t.Helper()
	if !(0 <= e.Start && e.Start <= e.HeaderEnd && e.HeaderEnd <= e.BodyStart && e.BodyStart <= e.End && e.End <= int64(len(raw))) {
		t.Fatalf("bad offsets %d %d %d %d of %d", e.Start, e.HeaderEnd, e.BodyStart, e.End, len(raw))
	}
	if e.Type == "" || e.Subtype == "" || depth > message.MaxDepth+1 {
		t.Fatalf("bad part %q/%q at depth %d", e.Type, e.Subtype, depth)
	}
	for _, f := range e.Fields {
		if f.Start < e.Start || f.End > e.BodyStart {
			t.Fatalf("field %q is not in the header", f.Name)
		}
	}
	for _, c := range e.Parts {
		if c.Start < e.BodyStart || c.End > e.End {
			t.Fatalf("child outside its parent")
		}
		checkPart(t, raw, c, depth+1)
	}
	if e.Message != nil {
		checkPart(t, raw, e.Message, depth+1)
	}
}

// checkStructure checks what go-imap's BODYSTRUCTURE writer relies on.
func checkStructure(t *testing.T, bs imap.BodyStructure) {
	t.Helper()
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(bs.Children) == 0 || bs.Extended == nil || bs.Subtype == "" {
			t.Fatalf("bad multipart %+v", bs)
		}
		for _, c := range bs.Children {
			checkStructure(t, c)
		}
	case *imap.BodyStructureSinglePart:
		if bs.Extended == nil || bs.Type == "" || bs.Subtype == "" || strings.ContainsAny(bs.Encoding, " \r\n\"") {
			t.Fatalf("bad part %+v", bs)
		}
		if bs.MessageRFC822 != nil {
			checkStructure(t, bs.MessageRFC822.BodyStructure)
		}
	default:
		t.Fatalf("unknown structure %T", bs)
	}
}

// corpusDir finds ../shared/corpus relative to the module root, or "".
func corpusDir() string {
	if d := os.Getenv("TENANTFERRY_CORPUS"); d != "" {
		return d
	}
	d := filepath.Join("..", "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(d, "MANIFEST.tsv")); err == nil {
		return d
	}
	return ""
}
