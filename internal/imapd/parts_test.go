package imapd

import (
	"bytes"
	"io"
	"reflect"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/tenantferry/tenantferry/internal/message"
	"github.com/tenantferry/tenantferry/internal/testsupport/corpus"
)

// samePart reports the first difference between the byte-slice parser's
// entity and internal/message's part tree of the same message ("" when
// they agree).
func samePart(raw []byte, e *entity, p *message.Part) string {
	if int64(e.start) != p.Start || int64(e.hdrEnd) != p.HeaderEnd || int64(e.bodyStart) != p.BodyStart || int64(e.end) != p.End {
		return "ranges"
	}
	if e.typ != p.Type || e.sub != p.Subtype || !reflect.DeepEqual(e.params, p.Params) {
		return "media type " + e.typ + "/" + e.sub + " vs " + p.Type + "/" + p.Subtype
	}
	if len(e.fields) != len(p.Fields) {
		return "field count"
	}
	for i, f := range e.fields {
		g := p.Fields[i]
		if f.name != g.Name || f.value != g.Value || !bytes.Equal(f.raw, raw[g.Start:g.End]) {
			return "field " + f.name
		}
	}
	if len(e.children) != len(p.Parts) || (e.msg == nil) != (p.Message == nil) {
		return "children"
	}
	for i, c := range e.children {
		if d := samePart(raw, c, p.Parts[i]); d != "" {
			return d
		}
	}
	if e.msg != nil {
		return samePart(raw, e.msg, p.Message)
	}
	return ""
}

// comparePart checks that the part tree gives the parser's tree, ENVELOPE
// and BODYSTRUCTURE.
func comparePart(t *testing.T, name string, raw []byte) {
	t.Helper()
	root := parseMessage(raw)
	p := message.ParseBytes(raw)
	if d := samePart(raw, root, p); d != "" {
		t.Fatalf("%s: part tree differs: %s", name, d)
	}
	r := bytes.NewReader(raw)
	if got, want := safePartStructure(r, p), safeBodyStructure(raw, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: BODYSTRUCTURE differs:\n%#v\n%#v", name, got, want)
	}
	if got, want := partEnvelope(r, p), envelope(raw, root); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: ENVELOPE differs:\n%#v\n%#v", name, got, want)
	}
	partials := []*imap.SectionPartial{{Offset: 0, Size: 3}, {Offset: 5, Size: 100}, {Offset: 1, Size: -1}, {Offset: 1 << 40, Size: 1}}
	for _, path := range [][]int{nil, {1}, {2}, {1, 1}, {2, 1}, {1, 2}, {3, 1, 2}} {
		for _, spec := range []imap.PartSpecifier{imap.PartSpecifierNone, imap.PartSpecifierMIME, imap.PartSpecifierHeader, imap.PartSpecifierText} {
			for _, fields := range [][]string{nil, {"Subject", "from"}} {
				bs := &imap.FetchItemBodySection{Part: path, Specifier: spec}
				if spec == imap.PartSpecifierHeader {
					bs.HeaderFields = fields
				}
				want := sectionBytes(raw, root, bs)
				if got := sectionOf(raw, p, bs); !bytes.Equal(got, want) {
					t.Fatalf("%s: section %v.%s %v differs", name, path, spec, fields)
				}
				for _, pr := range partials {
					got, _ := io.ReadAll(spansReader(r, cutSpans(sectionSpans(p, bs), pr)))
					if !bytes.Equal(got, partial(want, pr)) {
						t.Fatalf("%s: section %v.%s<%d.%d> differs", name, path, spec, pr.Offset, pr.Size)
					}
				}
			}
		}
		if got, want := binaryOf(t, raw, p, path), binaryBytes(raw, root, path); !bytes.Equal(got, want) {
			t.Fatalf("%s: BINARY[%v] differs", name, path)
		}
	}
	for _, needle := range []string{"the", "zq", "é", "Subject"} {
		want := oracleMatchText(raw, root, needle)
		if got, mem := matchText(r, p, needle), matchText(memMessage(raw), p, needle); got != want || mem != want {
			t.Fatalf("%s: SEARCH TEXT %q: %v (in memory %v), the byte parser %v", name, needle, got, mem, want)
		}
	}
}

// TestPartTreeCorpus: on every corpus message, internal/message's part
// tree is the byte-slice parser's tree, and ENVELOPE and BODYSTRUCTURE
// built from it are the ones built from the bytes.
func TestPartTreeCorpus(t *testing.T) {
	msgs := corpus.Messages(t)
	for _, m := range msgs {
		comparePart(t, m.Name, m.Data)
	}
	t.Logf("%d corpus messages agree", len(msgs))
}

// FuzzPartTree compares the two parsers on arbitrary bytes.
func FuzzPartTree(f *testing.F) {
	for _, s := range []string{nested, sampleSeed, "", "\r", "\n\n", "a:b\r\r\r", "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n",
		"Content-Type: multipart/x; boundary=\"\"\n\n--\n--\n", "Content-Type: multipart/x;boundary=a\n\n--a\n--a\n--a--\n--a\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { comparePart(t, "fuzz", raw) })
}
